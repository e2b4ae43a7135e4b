"""I/O behind small Protocols defined in :mod:`scalepilot.domain`.

One subpackage per concern; adapters never import each other (import-linter checks), and
third-party clients are imported only inside their own adapter.
"""
