"""Alert label and annotation templates, expanded exactly as Prometheus 2.42 expands them.

Prometheus runs each label value and annotation of an alerting rule through Go's
``text/template`` with ``missingkey=zero``, after prepending four definitions so users can
write ``$labels``, ``$value``, ``$externalLabels`` and ``$externalURL``. We prepend the
same text — so error positions (``__alert_X:1:115``) come out the same — and run the same
functions (:mod:`.template_funcs`). A template that fails at run time expands, as in
Prometheus, to ``<error expanding template: ...>`` rather than failing the evaluation: a
notification with a broken description beats no notification.

Templates are parsed once, when the rule is loaded; anything scalepilot cannot run is an
error then (:class:`TemplateSyntaxError`), naming the construct.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from scalepilot.control.alerting.rules.template_exec import Func, GoStruct, TemplateExecError, execute
from scalepilot.control.alerting.rules.template_funcs import FUNCTION_NAMES, QueryResult, build_functions
from scalepilot.control.alerting.rules.template_parse import ListNode, TemplateSyntaxError, parse_template

__all__ = ["AlertTemplate", "TemplateContext", "TemplateSyntaxError"]

DEFS = (
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
)
"""The definitions Prometheus prepends to every alert template."""

_DATA_TYPE = "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }"


@dataclass(frozen=True, slots=True)
class TemplateContext:
    """What one expansion sees besides the sample: evaluation-wide, so built once."""

    external_labels: Mapping[str, str]
    external_url: str | None = None
    """None: no external URL (promtool's unit tests); ``$externalURL`` is then ``""``."""
    query: Callable[[str], QueryResult] | None = None
    functions: dict[str, Func] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "functions", build_functions(self.query, self.external_url))


@dataclass(frozen=True, slots=True)
class AlertTemplate:
    """One parsed label value or annotation of an alerting rule."""

    text: str
    name: str
    tree: ListNode | None
    """None when the text has no action: it expands to itself, at no cost."""

    @classmethod
    def parse(cls, text: str, alert_name: str) -> AlertTemplate:
        """Parse (raises :class:`TemplateSyntaxError` with Go's message)."""
        name = "__alert_" + alert_name
        if "{{" not in text:
            return cls(text, name, None)
        return cls(text, name, parse_template(name, DEFS + text, FUNCTION_NAMES))

    def expand(self, labels: Mapping[str, str], value: float, ctx: TemplateContext) -> str:
        if self.tree is None:
            return self.text
        data = GoStruct(
            _DATA_TYPE,
            {
                "Labels": dict(labels),
                "ExternalLabels": dict(ctx.external_labels),
                "ExternalURL": ctx.external_url or "",
                "Value": float(value),
            },
        )
        try:
            return execute(self.name, DEFS + self.text, self.tree, ctx.functions, data, {})
        except TemplateExecError as exc:
            return f"<error expanding template: error executing template {self.name}: {exc}>"
