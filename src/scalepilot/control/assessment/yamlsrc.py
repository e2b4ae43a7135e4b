"""YAML as plain data that remembers its lines.

Findings must name ``file:line``, so mappings and sequences are built as ``YMap`` and
``YList``: a ``dict``/``list`` that also knows the line each key or item starts on.
Everything else about the data stays ordinary Python, so the checks read like dict code.

Built from PyYAML's node tree (as ``config.loader`` does) rather than its constructor,
which buys three things: keys stay the text written (``on:`` in a GitHub workflow is the
key ``"on"``, not YAML 1.1's ``True``), unknown tags (GitLab's ``!reference``,
CloudFormation's ``!Ref``) are read as their plain value instead of failing, and aliases
are built once each, so an alias bomb costs what the file costs.
"""

from __future__ import annotations

from typing import Any

import yaml

_MERGE = "tag:yaml.org,2002:merge"
_constructor = yaml.SafeLoader("")


class YamlProblem(Exception):
    """The text is not YAML; ``line`` and ``column`` (1-based) are where the parser stopped."""

    def __init__(self, line: int, column: int, message: str) -> None:
        self.line = line
        self.column = column
        self.message = message
        super().__init__(f"{line}:{column}: {message}")


class YMap(dict[str, Any]):
    """A mapping with the line of itself and of each of its keys."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)

    def map(self, key: str) -> YMap | None:
        """The mapping under ``key``, or None when absent or not a mapping."""
        value = self.get(key)
        return value if isinstance(value, YMap) else None

    def seq(self, key: str) -> YList | None:
        value = self.get(key)
        return value if isinstance(value, YList) else None


class YList(list[Any]):
    """A sequence with the line of itself and of each item."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []

    def line_at(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line

    def maps(self) -> list[YMap]:
        return [item for item in self if isinstance(item, YMap)]


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _scalar(node: yaml.ScalarNode) -> Any:
    tag = node.tag
    try:
        if tag == "tag:yaml.org,2002:null":
            return None
        if tag == "tag:yaml.org,2002:bool":
            return _constructor.construct_yaml_bool(node)
        if tag == "tag:yaml.org,2002:int":
            return _constructor.construct_yaml_int(node)
        if tag == "tag:yaml.org,2002:float":
            return _constructor.construct_yaml_float(node)
    except (ValueError, yaml.YAMLError):
        pass
    return str(node.value)


class _Builder:
    def __init__(self) -> None:
        # id(node) -> built value: an alias shares its anchor's object, never a copy.
        self._built: dict[int, Any] = {}

    def build(self, node: yaml.Node) -> Any:
        done = self._built.get(id(node))
        if done is not None:
            return done
        if isinstance(node, yaml.MappingNode):
            out = YMap(_line(node))
            self._built[id(node)] = out
            merges: list[yaml.Node] = []
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE:
                    merges.append(value_node)
                    continue
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else str(self.build(key_node))
                out.key_lines[key] = _line(key_node)
                out[key] = self.build(value_node)
            # ``<<: *base``: keys written in the mapping itself win, whatever their order.
            for merge in merges:
                sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
                for source in sources:
                    built = self.build(source)
                    if isinstance(built, YMap):
                        for key, value in built.items():
                            if key not in out:
                                out[key] = value
                                out.key_lines[key] = built.line_of(key)
            return out
        if isinstance(node, yaml.SequenceNode):
            seq = YList(_line(node))
            self._built[id(node)] = seq
            for item in node.value:
                seq.item_lines.append(_line(item))
                seq.append(self.build(item))
            return seq
        assert isinstance(node, yaml.ScalarNode)
        value = _scalar(node)
        return value


def load_documents(text: str) -> list[Any]:
    """Every document of ``text``, built as above (empty documents left out).

    Raises YamlProblem at the position the parser gave.
    """
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        parts = [p for p in (exc.context, exc.problem) if p]
        raise YamlProblem(line, column, ": ".join(parts) or "not valid YAML") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        raise YamlProblem(line, 1, f"{exc.reason} (character {exc.character!r})") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(1, 1, str(exc) or "not valid YAML") from None
    except RecursionError:
        raise YamlProblem(1, 1, "nested too deeply to read") from None
    builder = _Builder()
    try:
        docs = [builder.build(node) for node in nodes if node is not None]
    except RecursionError:
        raise YamlProblem(1, 1, "nested too deeply to read") from None
    return [d for d in docs if d is not None]
