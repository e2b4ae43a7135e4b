"""Alerting decisions: rule evaluation (the rule engine) and notification routing
(:mod:`.routing`). Pure: alerts and ``now`` in, decisions out."""
