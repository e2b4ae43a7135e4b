"""Differential PromQL conformance against a real Prometheus: a seeded data set
(:mod:`.series_gen`), a query corpus (:mod:`.query_gen`), both sides loaded and asked
the same questions (:mod:`.harness`), answers compared (:mod:`.compare`), and the
known, documented version differences (:mod:`.exclusions`).

Shared by ``tests/integration/test_promql_conformance.py`` and
``bench/conformance_report.py``; nothing here imports pytest.
"""
