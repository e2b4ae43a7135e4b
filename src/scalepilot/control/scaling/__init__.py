"""The autoscaling engine: pure, the clock is an argument.

``compile_policy(settings)`` turns a service's ``autoscaling:`` settings into a plain
``Policy`` once; ``decide(policy, state, observation, now)`` then returns a
``Decision`` (with its one-line reason) and the next ``ScalerState``. The types of the
inputs and outputs live in ``scalepilot.domain.scaling``.
"""

from scalepilot.control.scaling.engine import decide
from scalepilot.control.scaling.policy import Policy, compile_policy

__all__ = ["Policy", "compile_policy", "decide"]
