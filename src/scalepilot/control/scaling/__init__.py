"""The autoscaling engine: pure, the clock is an argument."""
