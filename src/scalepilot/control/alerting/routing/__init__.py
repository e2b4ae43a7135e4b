"""Notification routing, as Alertmanager routes: a route tree, aggregation groups with
``group_wait`` / ``group_interval`` / ``repeat_interval``, inhibition, silences, time
intervals — plus scalepilot's acknowledgement, escalation and maintenance windows, and
the outbox's delivery decisions. Pure: alerts and ``now`` in, notifications out.
"""

from scalepilot.control.alerting.routing.acks import Ack
from scalepilot.control.alerting.routing.delivery import BreakerState, CircuitBreaker, Verdict, after_failure
from scalepilot.control.alerting.routing.dispatcher import AckError, AlertView, Router
from scalepilot.control.alerting.routing.notification import Notification, Reason
from scalepilot.control.alerting.routing.plan import Plan, build_plan
from scalepilot.control.alerting.routing.silences import Silence, SilenceError, SilenceState

__all__ = [
    "Ack",
    "AckError",
    "AlertView",
    "BreakerState",
    "CircuitBreaker",
    "Notification",
    "Plan",
    "Reason",
    "Router",
    "Silence",
    "SilenceError",
    "SilenceState",
    "Verdict",
    "after_failure",
    "build_plan",
]
