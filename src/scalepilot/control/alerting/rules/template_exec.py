"""Running a parsed Go template: Go 1.19's ``text/template/exec.go`` on Python values.

The rules of Go's executor that decide what users see are kept: variables scoped to
their block, ``missingkey=zero`` (a missing label is ``""``), truth as Go defines it
(``NaN`` is true, an empty map false), ``and``/``or`` short-circuit and return an
operand, untyped number constants becoming ``int`` or ``float64`` by their spelling
(so ``gt $value 80`` is Go's "incompatible types for comparison" error, as in
Prometheus), and error messages with ``NAME:LINE:COL`` and the node's text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scalepilot.control.alerting.rules.gofmt import format_value, go_quote, go_type
from scalepilot.control.alerting.rules.template_parse import (
    ActionNode,
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    ListNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    StringNode,
    TextNode,
    VariableNode,
)


class TemplateExecError(Exception):
    """Execution failed; the message is Go's (``template: NAME:1:115: executing ...``)."""


class FuncError(Exception):
    """Raised by a template function; reported as ``error calling NAME: message``."""


@dataclass(frozen=True, slots=True)
class GoStruct:
    """A Go struct value: named fields, and the type name Go prints in errors."""

    type_name: str
    fields: dict[str, Any]

    def go_string(self) -> str:
        return "{" + " ".join(format_value(v) for v in self.fields.values()) + "}"

    def go_type(self) -> str:
        return self.type_name


@dataclass(frozen=True, slots=True)
class Param:
    """A function parameter: ``any`` (interface{} / reflect.Value), ``string``, or a
    named Go type a value must have (``template.queryResult``...)."""

    kind: str = "any"


@dataclass(frozen=True, slots=True)
class Func:
    fn: Callable[..., Any]
    params: tuple[Param, ...] = ()
    variadic: Param | None = None


ANY = Param("any")
STRING = Param("string")


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


_MISSING = object()


@dataclass(slots=True)
class _State:
    name: str
    text: str
    funcs: dict[str, Func]
    out: list[str] = field(default_factory=list)
    vars: list[tuple[str, Any]] = field(default_factory=list)
    node: Node | None = None

    # --- errors --------------------------------------------------------------------
    def error(self, message: str) -> TemplateExecError:
        if self.node is None:
            return TemplateExecError(f"template: {self.name}: {message}")
        pos = self.node.pos
        before = self.text[:pos]
        nl = before.rfind("\n")
        col = len(before.encode()) if nl < 0 else len(before[nl + 1 :].encode())
        line = 1 + before.count("\n")
        return TemplateExecError(
            f"template: {self.name}:{line}:{col}: executing {go_quote(self.name)} at <{self.node}>: {message}"
        )

    # --- variables -------------------------------------------------------------------
    def mark(self) -> int:
        return len(self.vars)

    def pop(self, mark: int) -> None:
        del self.vars[mark:]

    def var_value(self, name: str) -> Any:
        for n, v in reversed(self.vars):
            if n == name:
                return v
        raise self.error(f"undefined variable: {name}")

    def set_var(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        raise self.error(f"undefined variable: {name}")

    # --- walking -----------------------------------------------------------------------
    def walk(self, dot: Any, node: Node) -> None:
        self.node = node
        if isinstance(node, TextNode):
            self.out.append(node.text)
        elif isinstance(node, ActionNode):
            value = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.node = node
                self.out.append(print_value(value))
        elif isinstance(node, ListNode):
            for n in node.nodes:
                self.walk(dot, n)
        elif isinstance(node, BranchNode):
            if node.keyword == "range":
                self.walk_range(dot, node)
            else:
                self.walk_if_or_with(dot, node)
        elif isinstance(node, BreakNode):
            raise _Break
        elif isinstance(node, ContinueNode):
            raise _Continue
        else:  # pragma: no cover - the parser makes no other nodes
            raise self.error(f"unknown node: {node}")

    def walk_if_or_with(self, dot: Any, node: BranchNode) -> None:
        mark = self.mark()
        try:
            value = self.eval_pipeline(dot, node.pipe)
            truth, ok = is_true(value)
            if not ok:
                raise self.error(f"if/with can't use {format_value(value)}")
            if truth:
                self.walk(value if node.keyword == "with" else dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            self.pop(mark)

    def walk_range(self, dot: Any, node: BranchNode) -> None:
        self.node = node
        outer = self.mark()
        try:
            value = self.eval_pipeline(dot, node.pipe)
            mark = self.mark()
            items: list[tuple[Any, Any]]
            if isinstance(value, dict):
                items = sorted(value.items())
            elif isinstance(value, list):
                items = list(enumerate(value))
            elif value is None:
                items = []
            else:
                raise self.error(f"range can't iterate over {format_value(value)}")
            try:
                for index, elem in items:
                    if node.pipe.decl:
                        self.vars[mark - 1] = (self.vars[mark - 1][0], elem)
                    if len(node.pipe.decl) > 1:
                        self.vars[mark - 2] = (self.vars[mark - 2][0], index)
                    try:
                        self.walk(elem, node.list)
                    except _Continue:
                        pass
                    finally:
                        self.pop(mark)
            except _Break:
                return
            if not items and node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            self.pop(outer)

    # --- evaluation --------------------------------------------------------------------
    def eval_pipeline(self, dot: Any, pipe: PipeNode) -> Any:
        self.node = pipe
        value: Any = _MISSING
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.vars.append((var.ident[0], value))
        return None if value is _MISSING else value

    def eval_command(self, dot: Any, cmd: CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, FieldNode):
            return self.eval_field_chain(dot, dot, first, first.ident, cmd.args, final)
        if isinstance(first, ChainNode):
            return self.eval_chain(dot, first, cmd.args, final)
        if isinstance(first, IdentifierNode):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, PipeNode):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, VariableNode):
            return self.eval_variable(dot, first, cmd.args, final)
        self.node = first
        self.not_a_function(cmd.args, final)
        if isinstance(first, BoolNode):
            return first.value
        if isinstance(first, DotNode):
            return dot
        if isinstance(first, NilNode):
            raise self.error("nil is not a command")
        if isinstance(first, NumberNode):
            return self.ideal_constant(first)
        if isinstance(first, StringNode):
            return first.text
        raise self.error(f"can't evaluate command {first}")

    def not_a_function(self, args: Sequence[Node], final: Any) -> None:
        if len(args) > 1 or final is not _MISSING:
            raise self.error(f"can't give argument to non-function {args[0]}")

    def ideal_constant(self, node: NumberNode) -> Any:
        self.node = node
        text = node.text
        is_hex = text.lstrip("+-").lower().startswith("0x") and "p" not in text.lower()
        if node.is_float and not is_hex and not node.is_char and any(c in text for c in ".eEpP"):
            return node.float_value
        if node.is_int:
            return node.int_value
        raise self.error(f"{text} overflows int")

    def eval_variable(self, dot: Any, node: VariableNode, args: Sequence[Node], final: Any) -> Any:
        self.node = node
        value = self.var_value(node.ident[0])
        if len(node.ident) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, value, node, node.ident[1:], args, final)

    def eval_chain(self, dot: Any, chain: ChainNode, args: Sequence[Node], final: Any) -> Any:
        if not chain.fields:
            raise self.error("internal error: no fields in evalChain")
        if isinstance(chain.node, NilNode):
            raise self.error(f"indirection through explicit nil in {chain}")
        pipe = self.eval_arg(dot, ANY, chain.node)
        return self.eval_field_chain(dot, pipe, chain, chain.fields, args, final)

    def eval_field_chain(
        self, dot: Any, receiver: Any, node: Node, ident: Sequence[str], args: Sequence[Node], final: Any
    ) -> Any:
        for name in ident[:-1]:
            receiver = self.eval_field(name, node, (), _MISSING, receiver)
        return self.eval_field(ident[-1], node, args, final, receiver)

    def eval_field(self, name: str, node: Node, args: Sequence[Node], final: Any, receiver: Any) -> Any:
        self.node = node
        has_args = len(args) > 1 or final is not _MISSING
        if receiver is None:
            return None
        if isinstance(receiver, GoStruct):
            if name in receiver.fields:
                if has_args:
                    raise self.error(f"{name} has arguments but cannot be invoked as function")
                return receiver.fields[name]
        elif isinstance(receiver, dict):
            if has_args:
                raise self.error(f"{name} is not a method but has arguments")
            return receiver.get(name, "")
        raise self.error(f"can't evaluate field {name} in type {go_type(receiver)}")

    def eval_function(self, dot: Any, node: IdentifierNode, cmd: CommandNode, args: Sequence[Node], final: Any) -> Any:
        self.node = node
        name = node.name
        func = self.funcs.get(name)
        if func is None:
            raise self.error(f"{go_quote(name)} is not a defined function")
        arg_nodes = list(args[1:])
        if name in ("and", "or"):
            return self.eval_and_or(dot, name, node, arg_nodes, final)
        want = len(func.params)
        got = len(arg_nodes) + (0 if final is _MISSING else 1)
        if got < want or (func.variadic is None and got != want):
            at_least = "at least " if func.variadic is not None else ""
            raise self.error(f"wrong number of args for {name}: want {at_least}{want} got {got}")
        values: list[Any] = []
        for i, arg in enumerate(arg_nodes):
            param = func.params[i] if i < want else func.variadic
            assert param is not None
            values.append(self.eval_arg(dot, param, arg))
        if final is not _MISSING:
            param = func.params[-1] if len(values) < want else func.variadic
            assert param is not None
            values.append(self.validate(param, final))
        try:
            result = func.fn(*values)
        except FuncError as exc:
            self.node = cmd
            raise self.error(f"error calling {name}: {exc}") from None
        return result

    def eval_and_or(self, dot: Any, name: str, node: IdentifierNode, args: list[Node], final: Any) -> Any:
        count = len(args) + (0 if final is _MISSING else 1)
        if count < 1:
            raise self.error(f"wrong number of args for {name}: want at least 1 got 0")
        value: Any = None
        for i in range(count):
            value = self.eval_arg(dot, ANY, args[i]) if i < len(args) else final
            if is_true(value)[0] == (name == "or"):
                return value
        return value

    def eval_arg(self, dot: Any, param: Param, node: Node) -> Any:
        self.node = node
        if isinstance(node, DotNode):
            return self.validate(param, dot)
        if isinstance(node, NilNode):
            if param.kind == "any":
                return None
            raise self.error(f"cannot assign nil to {param.kind}")
        if isinstance(node, FieldNode):
            return self.validate(param, self.eval_field_chain(dot, dot, node, node.ident, [node], _MISSING))
        if isinstance(node, VariableNode):
            return self.validate(param, self.eval_variable(dot, node, [node], _MISSING))
        if isinstance(node, PipeNode):
            return self.validate(param, self.eval_pipeline(dot, node))
        if isinstance(node, IdentifierNode):
            return self.validate(param, self.eval_function(dot, node, CommandNode(node.pos, [node]), [node], _MISSING))
        if isinstance(node, ChainNode):
            return self.validate(param, self.eval_chain(dot, node, [node], _MISSING))
        if param.kind == "string":
            if isinstance(node, StringNode):
                return node.text
            raise self.error(f"expected string; found {node}")
        if param.kind != "any":
            raise self.error(f"can't handle {node} for arg of type {param.kind}")
        if isinstance(node, BoolNode):
            return node.value
        if isinstance(node, StringNode):
            return node.text
        if isinstance(node, NumberNode):
            return self.ideal_constant(node)
        raise self.error(f"can't handle assignment of {node} to empty interface argument")

    def validate(self, param: Param, value: Any) -> Any:
        if param.kind == "any":
            return value
        if value is None:
            raise self.error(f"invalid value; expected {param.kind}")
        if go_type(value) != param.kind:
            raise self.error(f"wrong type for value; expected {param.kind}; got {go_type(value)}")
        return value


def is_true(value: Any) -> tuple[bool, bool]:
    """Go's truth: the zero value of its type is false (but ``NaN`` is true)."""
    if value is None:
        return False, True
    if isinstance(value, bool):
        return value, True
    if isinstance(value, int | float):
        return value != 0, True
    if isinstance(value, str | dict | list):
        return len(value) > 0, True
    return True, True


def print_value(value: Any) -> str:
    """What ``{{ x }}`` writes: strings as they are, everything else as ``%v``."""
    if value is None:
        return "<no value>"
    if isinstance(value, str):
        return value
    return format_value(value)


def execute(name: str, text: str, tree: ListNode, funcs: dict[str, Func], data: Any, variables: dict[str, Any]) -> str:
    """Run a parsed template; raises :class:`TemplateExecError` with Go's message."""
    state = _State(name, text, funcs)
    state.vars = [("$", data), *variables.items()]
    try:
        state.walk(data, tree)
    except (_Break, _Continue):  # pragma: no cover - the parser allows them only in range
        pass
    except RecursionError:
        raise TemplateExecError(f"template: {name}: exceeded maximum template depth") from None
    return "".join(state.out)
