"""A built-in HTTP load balancer for local services."""
