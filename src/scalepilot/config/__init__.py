"""The ``scalepilot.yaml`` models and their loader (errors name file:line:column)."""
