"""scalepilot: a self-hosted infrastructure scaling control plane.

The public surface is deliberately small; everything else lives in the layered
subpackages described in docs/architecture.md.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
