"""PromQL: parsing (with the promql-parser package) and, later, evaluation over arrays."""
