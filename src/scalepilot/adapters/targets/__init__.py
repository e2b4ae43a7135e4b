"""Scale targets: local child processes, a user command."""
