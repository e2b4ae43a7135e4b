"""What people and programs touch: the CLI, the HTTP API and the web dashboard."""
