"""Load ``scalepilot.yaml`` and report every problem with file:line:column and key path.

PyYAML's composer keeps the position of every node; we build plain Python data from the
node tree while remembering where each key and value stood, validate with pydantic, and
translate each pydantic error location back to a position. One run reports every error,
so a user fixes a file in one pass rather than one error per try.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from scalepilot.config.models import Config
from scalepilot.domain.errors import ScalepilotError

PathKey = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where} {self.path}: {self.message}" if self.path else f"{where} {self.message}"


class ConfigError(ScalepilotError):
    """The config file cannot be used; ``issues`` lists every problem found."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    config: Config
    path: Path
    text: str

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def data_dir(self) -> Path:
        d = self.config.storage.data_dir
        return d if d.is_absolute() else (self.base_dir / d)


@dataclass(slots=True)
class _Positions:
    """Where each key (``keys``) and each value (``values``) starts, by data path."""

    keys: dict[PathKey, tuple[int, int]]
    values: dict[PathKey, tuple[int, int]]


def format_path(path: PathKey) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.positions = _Positions({}, {})
        self.issues: list[ConfigIssue] = []
        self._loader = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.positions.values[path] = _pos(node)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._loader.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) or key is None:
                    line, col = _pos(key_node)
                    self.issues.append(
                        ConfigIssue(self.file, line, col, format_path(path), "keys must be plain scalars")
                    )
                    continue
                key = str(key) if not isinstance(key, str) else key
                if key in out:
                    line, col = _pos(key_node)
                    first = self.positions.keys[(*path, key)]
                    self.issues.append(
                        ConfigIssue(
                            self.file,
                            line,
                            col,
                            format_path((*path, key)),
                            f"duplicate key (first defined at line {first[0]})",
                        )
                    )
                    continue
                self.positions.keys[(*path, key)] = _pos(key_node)
                out[key] = self.build(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._loader.construct_object(node, deep=True)


def _resolve_loc(data: Any, loc: tuple[str | int, ...]) -> PathKey:
    """Map a pydantic error location onto the data path, dropping the union-tag parts
    pydantic inserts (e.g. the ``http`` in ``probes.0.http.url``)."""
    path: list[str | int] = []
    cur = data
    for part in loc:
        in_dict = isinstance(cur, dict) and part in cur
        in_list = isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)
        if in_dict or in_list:
            path.append(part)
            cur = cur[part]
        elif isinstance(cur, dict) and isinstance(part, str) and part not in cur and part == loc[-1]:
            path.append(part)  # a missing or unknown key: keep it for the message
            cur = None
        # otherwise: a union tag or a wrapper such as "function-after[...]": skip it
    return tuple(path)


def _allowed_keys(model: type[BaseModel], data: Any, path: PathKey) -> list[str]:
    """Field names of the model that sits at ``path`` (best effort, for suggestions)."""
    current: Any = model
    node: Any = data
    for part in path:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        node = node.get(part) if isinstance(node, dict) else None
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        current = _model_in(field.annotation, node)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _model_in(annotation: Any, node: Any) -> Any:
    """The BaseModel type inside list[...] / X | None / Annotated unions, choosing the union
    member whose ``type`` literal matches the data."""
    import typing

    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    candidates = [a for a in (_model_in(a, node) for a in args) if a is not None]
    if not candidates:
        return None
    if len(candidates) > 1 and isinstance(node, list) and node and isinstance(node[0], dict):
        node = node[0]
    if len(candidates) > 1 and isinstance(node, dict):
        for cand in candidates:
            tag = cand.model_fields.get("type")
            if tag is not None and node.get("type") in typing.get_args(tag.annotation):
                return cand
    return candidates[0]


def _message(err: Any, allowed: list[str], key: str | int | None) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        hint = ""
        if isinstance(key, str):
            close = difflib.get_close_matches(key, allowed, n=1)
            if close:
                hint = f"; did you mean {close[0]!r}?"
        listing = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"unknown key{hint}{listing}"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return f"unknown type {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return "required key 'type' is missing"
    msg: str = err["msg"]
    if kind.startswith("value_error") and msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg[:1].lower() + msg[1:] if msg[:2] != msg[:2].upper() else msg


def validate_data(data: Any, positions: _Positions, file: str) -> tuple[Config | None, list[ConfigIssue]]:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        line, col = positions.values.get((), (1, 1))
        return None, [ConfigIssue(file, line, col, "", "the top level must be a mapping")]
    return _validate(Config, data, positions, file, ())


def _validate(
    model: type[M], data: Any, positions: _Positions, file: str, prefix: PathKey
) -> tuple[M | None, list[ConfigIssue]]:
    """``model`` from ``data`` (found at ``prefix`` of the file), or every issue with its
    file:line:column."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        issues = []
        for err in exc.errors():
            path = prefix + _resolve_loc(data, tuple(err["loc"]))
            if err["type"] == "extra_forbidden":
                line, col = positions.keys.get(path, positions.values.get(path[:-1], (1, 1)))
                allowed = _allowed_keys(model, data, path[len(prefix) : -1])
            elif err["type"] == "missing":
                line, col = positions.values.get(path[:-1], (1, 1))
                allowed = []
            else:
                line, col = positions.values.get(path) or positions.values.get(path[:-1], (1, 1))
                allowed = []
            key = path[-1] if path else None
            issues.append(ConfigIssue(file, line, col, format_path(path), _message(err, allowed, key)))
        issues.sort(key=lambda i: (i.line, i.column))
        return None, issues


def _compose(text: str, file: str) -> tuple[Any, _Builder]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = " ".join(p for p in (exc.context, exc.problem) if p)
        raise ConfigError([ConfigIssue(file, line, col, "", f"invalid YAML: {reason}")]) from exc
    builder = _Builder(file)
    data = builder.build(node, ()) if node is not None else None
    return data, builder


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue(str(path), 1, 1, "", f"cannot read: {exc.strerror or exc}")]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue(str(path), 1, 1, "", f"not UTF-8 text: {exc.reason}")]) from exc


def load_section(path: Path, key: str, model: type[M]) -> M:
    """The top-level ``key:`` block of a YAML file as ``model`` (a policy file's
    ``autoscaling:``, say), with errors as precise as scalepilot.yaml's."""
    file = str(path)
    data, builder = _compose(_read(path), file)
    if builder.issues:
        raise ConfigError(builder.issues)
    if not isinstance(data, dict) or key not in data:
        line, col = builder.positions.values.get((), (1, 1))
        raise ConfigError([ConfigIssue(file, line, col, "", f"expected a mapping with a '{key}:' block")])
    value, issues = _validate(model, data[key], builder.positions, file, (key,))
    if issues or value is None:
        raise ConfigError(issues)
    return value


def load_text(text: str, file: str = "scalepilot.yaml") -> Config:
    """Parse and validate config text; raises ConfigError listing every issue."""
    data, builder = _compose(text, file)
    config, issues = validate_data(data if data is not None else {}, builder.positions, file)
    issues = sorted(builder.issues + issues, key=lambda i: (i.line, i.column))
    if issues or config is None:
        raise ConfigError(issues)
    return config


def load(path: Path) -> LoadedConfig:
    """Read and validate a config file."""
    text = _read(path)
    return LoadedConfig(load_text(text, str(path)), path.resolve(), text)


def json_schema() -> dict[str, Any]:
    schema = Config.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "scalepilot.yaml"
    return schema
