"""The simulator: replay a request-rate trace through scaling policies on a virtual
clock, with the live engine's own ``decide``, and compare them with the oracle.

See docs/simulation.md for the model and the metrics' definitions.
"""

from scalepilot.control.simulation.model import Report, Run, ServiceModel
from scalepilot.control.simulation.oracle import oracle, static
from scalepilot.control.simulation.simulator import Recorded, UnsupportedPolicy, simulate
from scalepilot.control.simulation.trace import Trace, TraceValueError

__all__ = [
    "Recorded",
    "Report",
    "Run",
    "ServiceModel",
    "Trace",
    "TraceValueError",
    "UnsupportedPolicy",
    "oracle",
    "simulate",
    "static",
]
