"""Pure decisions: scaling, alerting, rollouts, query evaluation.

No I/O and no wall clock here: every function takes the time as an argument, so the same
code runs live, in tests under virtual time, and in the simulator. Import-linter forbids
I/O libraries in this package.
"""
