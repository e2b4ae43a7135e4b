"""The part of Go's ``text/template`` that Alertmanager configs use in their text fields.

Alertmanager renders ``title``, ``text``, ``html``, ``headers``... as Go templates over
its ``Data``. Most real configs use a handful of constructs, and accepting those keeps a
config portable in both directions:

- ``{{ .Status }}``, ``{{ .CommonLabels.alertname }}``, ``{{ $.ExternalURL }}``,
  ``{{ . }}``; a missing map key is "" (Alertmanager's ``missingkey=zero``);
- ``{{ range .Alerts }}…{{ end }}`` (also ``.Alerts.Firing`` / ``.Alerts.Resolved``),
  ``{{ if … }}…{{ else }}…{{ end }}``, ``{{ with … }}…{{ end }}``;
- pipelines and functions: ``len``, ``toUpper``, ``toLower``, ``title``, ``join``,
  ``eq``, ``ne``, ``lt``, ``gt``, ``not``, ``and``, ``or``; label maps have
  ``.SortedPairs`` (``.Name``, ``.Value``), ``.Names`` and ``.Values``;
- ``{{-`` / ``-}}`` trim the whitespace beside them; ``{{/* comments */}}``.

Anything else (``template``, ``define``, variables other than ``$``) is refused by
:func:`compile_template` with the offending action, when the channel is built — not at 3
a.m. when the first alert needs it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scalepilot.adapters.notify.errors import TemplateError

_ACTION_RE = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.S)
_TOKEN_RE = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|(`[^`]*`)|(\()|(\))|(\|)|([^\s()|]+))')


@dataclass
class _Node:
    kind: str  # text | out | range | if | with
    text: str = ""
    pipe: list[list[str]] = field(default_factory=list)
    body: list[_Node] = field(default_factory=list)
    orelse: list[_Node] = field(default_factory=list)


@dataclass(frozen=True)
class Template:
    source: str
    nodes: tuple[_Node, ...]

    def render(self, data: Any, escape: Callable[[str], str] | None = None) -> str:
        out: list[str] = []
        _run(list(self.nodes), data, data, out, escape)
        return "".join(out)


def _tokens(expr: str) -> list[str]:
    out: list[str] = []
    pos = 0
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN_RE.match(expr, pos)
        if m is None or m.end() == pos:
            raise TemplateError(f"cannot parse {{{{{expr}}}}}")
        tok = next(g for g in m.groups() if g is not None)
        out.append(tok)
        pos = m.end()
        while pos < len(expr) and expr[pos].isspace():
            pos += 1
    return out


def _pipeline(tokens: list[str], action: str) -> list[list[str]]:
    """Split on top-level ``|`` into commands (parenthesised groups stay one token list)."""
    cmds: list[list[str]] = [[]]
    depth = 0
    for tok in tokens:
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
            if depth < 0:
                raise TemplateError(f"unbalanced ')' in {{{{{action}}}}}")
        if tok == "|" and depth == 0:
            cmds.append([])
        else:
            cmds[-1].append(tok)
    if depth or any(not c for c in cmds):
        raise TemplateError(f"malformed pipeline in {{{{{action}}}}}")
    for cmd in cmds:
        for tok in cmd:
            if tok.startswith("$") and tok != "$" and not tok.startswith("$."):
                raise TemplateError(f"template variables are not supported: {{{{{action}}}}}")
            if not (tok in _FUNCS or tok in "()" or tok[0] in '."`$' or _is_number(tok)):
                raise TemplateError(f"unsupported function or word {tok!r} in {{{{{action}}}}}")
    return cmds


def _is_number(tok: str) -> bool:
    return re.fullmatch(r"-?\d+(\.\d+)?", tok) is not None


def compile_template(source: str) -> Template:
    """Parse ``source``; raises :class:`TemplateError` naming what is not supported."""
    root: list[_Node] = []
    stack: list[tuple[_Node, bool]] = []  # (block node, in else branch)
    pos = 0
    trim_next = False

    def target() -> list[_Node]:
        if not stack:
            return root
        node, in_else = stack[-1]
        return node.orelse if in_else else node.body

    for m in _ACTION_RE.finditer(source):
        text = source[pos : m.start()]
        if trim_next:
            text = text.lstrip()
        if m.group(1):
            text = text.rstrip()
        if text:
            target().append(_Node("text", text=text))
        trim_next = bool(m.group(3))
        pos = m.end()
        action = m.group(2).strip()
        if action.startswith("/*"):
            continue
        word = action.split(None, 1)[0] if action else ""
        rest = action[len(word) :].strip()
        if word in ("range", "if", "with"):
            node = _Node(word, pipe=_pipeline(_tokens(rest), action))
            target().append(node)
            stack.append((node, False))
        elif word == "else":
            if not stack or stack[-1][1] or rest:
                raise TemplateError(f"unexpected {{{{{action}}}}}")
            stack[-1] = (stack[-1][0], True)
        elif word == "end":
            if not stack:
                raise TemplateError("{{end}} without a range, if or with")
            stack.pop()
        elif word in ("template", "define", "block", "break", "continue") or re.match(r"\$\w*\s*:?=", action):
            raise TemplateError(f"{{{{{action}}}}} is not supported (scalepilot does not run Go template files)")
        elif not action:
            raise TemplateError("empty action {{}}")
        else:
            target().append(_Node("out", pipe=_pipeline(_tokens(action), action)))
    tail = source[pos:]
    if trim_next:
        tail = tail.lstrip()
    if tail:
        target().append(_Node("text", text=tail))
    if stack:
        raise TemplateError(f"{{{{{stack[-1][0].kind}}}}} without {{{{end}}}}")
    return Template(source, tuple(root))


# --- evaluation ---------------------------------------------------------------------------
def _field(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        if name in value:
            return value[name]
        if name == "SortedPairs":
            return [{"Name": k, "Value": v} for k, v in sorted(value.items())]
        if name == "Names":
            return sorted(value)
        if name == "Values":
            return [v for _, v in sorted(value.items())]
        return ""
    attr = getattr(value, name, None)
    if attr is None or name.startswith("_"):
        return ""
    return attr


def _path(tok: str, dot: Any, root: Any) -> Any:
    if tok == ".":
        return dot
    if tok == "$":
        return root
    base, path = (root, tok[2:]) if tok.startswith("$.") else (dot, tok[1:])
    value = base
    for part in path.split("."):
        value = _field(value, part)
    return value


def _truthy(value: Any) -> bool:
    return bool(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + " ".join(_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_text(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _cmp(a: Any, b: Any) -> tuple[Any, Any]:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a, b
    return _text(a), _text(b)


_FUNCS: dict[str, Callable[..., Any]] = {
    "len": lambda v: len(v) if hasattr(v, "__len__") else 0,
    "toUpper": lambda v: _text(v).upper(),
    "toLower": lambda v: _text(v).lower(),
    "title": lambda v: _text(v).title(),
    "join": lambda sep, v: _text(sep).join(_text(x) for x in v),
    "eq": lambda a, *bs: any(_cmp(a, b)[0] == _cmp(a, b)[1] for b in bs),
    "ne": lambda a, b: _cmp(a, b)[0] != _cmp(a, b)[1],
    "lt": lambda a, b: _cmp(a, b)[0] < _cmp(a, b)[1],
    "gt": lambda a, b: _cmp(a, b)[0] > _cmp(a, b)[1],
    "not": lambda v: not _truthy(v),
    "and": lambda *vs: next((v for v in vs if not _truthy(v)), vs[-1]),
    "or": lambda *vs: next((v for v in vs if _truthy(v)), vs[-1]),
}


def _operands(tokens: list[str], dot: Any, root: Any) -> list[Any]:
    out: list[Any] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "(":
            depth, j = 1, i + 1
            while depth:
                depth += {"(": 1, ")": -1}.get(tokens[j], 0)
                j += 1
            out.append(_eval(_pipeline(tokens[i + 1 : j - 1], " ".join(tokens)), dot, root))
            i = j
            continue
        if tok.startswith('"'):
            out.append(bytes(tok[1:-1], "utf-8").decode("unicode_escape"))
        elif tok.startswith("`"):
            out.append(tok[1:-1])
        elif _is_number(tok):
            out.append(float(tok) if "." in tok else int(tok))
        elif tok in _FUNCS:
            out.append(_FUNCS[tok])
        else:
            out.append(_path(tok, dot, root))
        i += 1
    return out


def _eval(pipe: list[list[str]], dot: Any, root: Any) -> Any:
    value: Any = None
    for n, cmd in enumerate(pipe):
        args = _operands(cmd, dot, root)
        if n:
            args.append(value)
        head, rest = args[0], args[1:]
        if callable(head) and head in _FUNCS.values():
            try:
                value = head(*rest)
            except (TypeError, IndexError) as exc:
                raise TemplateError(f"wrong arguments in {' '.join(cmd)}: {exc}") from None
        elif rest:
            raise TemplateError(f"{cmd[0]} is not a function")
        else:
            value = head
    return value


def _run(nodes: list[_Node], dot: Any, root: Any, out: list[str], escape: Callable[[str], str] | None) -> None:
    for node in nodes:
        if node.kind == "text":
            out.append(node.text)
        elif node.kind == "out":
            text = _text(_eval(node.pipe, dot, root))
            out.append(escape(text) if escape else text)
        else:
            value = _eval(node.pipe, dot, root)
            if node.kind == "range":
                items = list(value.values()) if isinstance(value, dict) else list(value or [])
                if items:
                    for item in items:
                        _run(node.body, item, root, out, escape)
                else:
                    _run(node.orelse, dot, root, out, escape)
            elif _truthy(value):
                _run(node.body, value if node.kind == "with" else dot, root, out, escape)
            else:
                _run(node.orelse, dot, root, out, escape)
