"""An open-loop HTTP load generator for loopback targets (the demo, load tests)."""

from scalepilot.adapters.loadgen.generator import LoadGenerator, LoadSecond, ramp

__all__ = ["LoadGenerator", "LoadSecond", "ramp"]
