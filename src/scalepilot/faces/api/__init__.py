"""The HTTP face: health, readiness, metrics, status (and, later, the REST API)."""
