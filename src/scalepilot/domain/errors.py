"""The root of scalepilot's exception tree.

Each boundary (config, scrape, store, target, notify, query) defines its own subtree in
its module, rooted here, and says whether an error is *transient* (retry with backoff)
or *permanent* (report and stop retrying).
"""

from __future__ import annotations


class ScalepilotError(Exception):
    """Base of every error scalepilot raises on purpose."""

    transient: bool = False
