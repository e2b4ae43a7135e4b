"""The local target: replicas as child processes (see :mod:`.target`)."""
