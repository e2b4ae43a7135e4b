"""Rollouts, pure: a ``rollout:`` section compiled into stages (``plan``), and one step
of a rollout at a time (``machine``). The types of the inputs and outputs live in
``scalepilot.domain.rollout``; the service (``service/rollouts.py``) carries the
directives out on a local target and its balancer."""

from scalepilot.control.rollout.machine import advance, command, judge, measure_due, start
from scalepilot.control.rollout.plan import Plan, compile_plan

__all__ = ["Plan", "advance", "command", "compile_plan", "judge", "measure_due", "start"]
