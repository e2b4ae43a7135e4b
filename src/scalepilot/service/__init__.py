"""The composition root: builds everything from the config, runs the loops, persists
state and shuts down cleanly."""
