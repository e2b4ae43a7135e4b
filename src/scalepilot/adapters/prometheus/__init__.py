"""An external Prometheus as the metric source, and its HTTP API's wire formats.

``client`` asks a Prometheus server PromQL questions; ``decode`` reads its answers into
:class:`~scalepilot.domain.query.QueryResult`; ``params`` parses and writes time and
duration parameters exactly as Prometheus does (shared with scalepilot's own
Prometheus-compatible API and CLI); ``errors`` is this boundary's exception tree.
"""

from scalepilot.adapters.prometheus.client import PrometheusSource
from scalepilot.adapters.prometheus.errors import PrometheusDown, PrometheusError, PrometheusRejected

__all__ = ["PrometheusDown", "PrometheusError", "PrometheusRejected", "PrometheusSource"]
