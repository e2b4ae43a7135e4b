"""The parser of Go's ``text/template`` (Go 1.19's ``parse.go``), producing a small tree.

Parse errors read as Go's (``template: NAME:LINE: function "foo" not defined``), since
``scalepilot rules check`` prints them where ``promtool check rules`` would. Constructs
Prometheus accepts but scalepilot does not run (``define``, ``template``, ``block``, and
the functions in :data:`UNSUPPORTED_FUNCTIONS`) are refused here, at load time, with an
error naming the construct — never discovered at 3 a.m. as a broken notification.

Each node keeps its byte position so execution errors can name ``NAME:LINE:COL`` and the
node's text exactly as Go does (``at <gt $value 80>``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from scalepilot.control.alerting.rules.gofmt import go_quote
from scalepilot.control.alerting.rules.template_lex import Item, Token, lex

UNSUPPORTED_FUNCTIONS = frozenset({"call", "slice"})
"""Go built-ins scalepilot does not implement (no Go values to call or slice)."""


class TemplateSyntaxError(Exception):
    """A template that cannot be parsed, or uses a construct scalepilot does not run."""


# --- nodes ----------------------------------------------------------------------------
@dataclass(slots=True)
class Node:
    pos: int

    def __str__(self) -> str:  # pragma: no cover - every node overrides
        return ""


@dataclass(slots=True)
class TextNode(Node):
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(slots=True)
class DotNode(Node):
    def __str__(self) -> str:
        return "."


@dataclass(slots=True)
class NilNode(Node):
    def __str__(self) -> str:
        return "nil"


@dataclass(slots=True)
class BoolNode(Node):
    value: bool

    def __str__(self) -> str:
        return "true" if self.value else "false"


@dataclass(slots=True)
class NumberNode(Node):
    text: str
    is_int: bool = False
    is_float: bool = False
    is_uint: bool = False
    int_value: int = 0
    float_value: float = 0.0
    is_char: bool = False

    def __str__(self) -> str:
        return self.text


@dataclass(slots=True)
class StringNode(Node):
    quoted: str
    text: str

    def __str__(self) -> str:
        return self.quoted


@dataclass(slots=True)
class IdentifierNode(Node):
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(slots=True)
class VariableNode(Node):
    ident: list[str]

    def __str__(self) -> str:
        return ".".join(self.ident)


@dataclass(slots=True)
class FieldNode(Node):
    ident: list[str]

    def __str__(self) -> str:
        return "".join("." + i for i in self.ident)


@dataclass(slots=True)
class ChainNode(Node):
    node: Node
    fields: list[str]

    def __str__(self) -> str:
        inner = f"({self.node})" if isinstance(self.node, PipeNode) else str(self.node)
        return inner + "".join("." + f for f in self.fields)


@dataclass(slots=True)
class CommandNode(Node):
    args: list[Node] = field(default_factory=list)

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, PipeNode) else str(a) for a in self.args)


@dataclass(slots=True)
class PipeNode(Node):
    line: int
    is_assign: bool = False
    decl: list[VariableNode] = field(default_factory=list)
    cmds: list[CommandNode] = field(default_factory=list)

    def __str__(self) -> str:
        out = ""
        if self.decl:
            out = ", ".join(str(v) for v in self.decl) + (" = " if self.is_assign else " := ")
        return out + " | ".join(str(c) for c in self.cmds)


@dataclass(slots=True)
class ActionNode(Node):
    line: int
    pipe: PipeNode

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


@dataclass(slots=True)
class ListNode(Node):
    nodes: list[Node] = field(default_factory=list)

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


@dataclass(slots=True)
class BranchNode(Node):
    keyword: str
    line: int
    pipe: PipeNode
    list: ListNode
    else_list: ListNode | None

    def __str__(self) -> str:
        out = "{{" + self.keyword + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            out += "{{else}}" + str(self.else_list)
        return out + "{{end}}"


@dataclass(slots=True)
class BreakNode(Node):
    def __str__(self) -> str:
        return "{{break}}"


@dataclass(slots=True)
class ContinueNode(Node):
    def __str__(self) -> str:
        return "{{continue}}"


@dataclass(slots=True)
class _EndNode(Node):
    def __str__(self) -> str:
        return "{{end}}"


@dataclass(slots=True)
class _ElseNode(Node):
    line: int

    def __str__(self) -> str:
        return "{{else}}"


# --- numbers ----------------------------------------------------------------------------
def _underscore_ok(s: str) -> bool:
    """Go's ``underscoreOK``: ``_`` only between digits, or after a base prefix."""
    saw = "^"
    if s[:1] in ("+", "-"):
        s = s[1:]
    i = 0
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1].lower() in "box":
        i, saw, hexa = 2, "0", s[1].lower() == "x"
    while i < len(s):
        c = s[i]
        if (c.isdigit() and c.isascii()) or (hexa and c.lower() in "abcdef"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
        i += 1
    return saw != "_"


def _go_int(text: str) -> int | None:
    """``strconv.ParseInt(text, 0, 64)``: base prefixes, a leading 0 is octal, ``_`` as
    a digit separator."""
    if "_" in text and not _underscore_ok(text):
        return None
    body = text.replace("_", "")
    sign = 1
    if body[:1] in ("+", "-"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if not body:
        return None
    base = 10
    lower = body.lower()
    if lower.startswith(("0x", "0o", "0b")):
        base = {"x": 16, "o": 8, "b": 2}[lower[1]]
        body = body[2:]
    elif len(body) > 1 and body[0] == "0":
        base = 8
    if not body:
        return None
    try:
        value = sign * int(body, base)
    except ValueError:
        return None
    if not -(2**63) <= value < 2**63:
        return None
    return value


def _go_float(text: str) -> float | None:
    if not text or text.strip() != text or ("_" in text and not _underscore_ok(text)):
        return None
    text = text.replace("_", "")
    try:
        if text.lower().lstrip("+-").startswith("0x"):
            return float.fromhex(text)
        return float(text)
    except ValueError:
        return None


def _unquote_char(text: str) -> int | None:
    body = text[1:-1]
    if not body:
        return None
    if body[0] != "\\":
        return ord(body) if len(body) == 1 else None
    try:
        decoded = body.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except (UnicodeDecodeError, ValueError):
        return None
    return ord(decoded) if len(decoded) == 1 else None


def new_number(pos: int, text: str, char: bool) -> NumberNode:
    node = NumberNode(pos, text)
    if char:
        rune = _unquote_char(text)
        if rune is None:
            raise TemplateSyntaxError(f"malformed character constant: {text}")
        node.is_int = node.is_uint = node.is_float = node.is_char = True
        node.int_value, node.float_value = rune, float(rune)
        return node
    if text.endswith("i"):
        raise TemplateSyntaxError(f"complex numbers are not supported: {text}")
    as_int = _go_int(text)
    if as_int is not None:
        node.is_int = node.is_float = True
        node.is_uint = as_int >= 0
        node.int_value, node.float_value = as_int, float(as_int)
        return node
    as_float = _go_float(text)
    if as_float is not None:
        if not any(c in text for c in ".eEpP"):
            raise TemplateSyntaxError(f'integer overflow: "{text}"')
        node.is_float = True
        node.float_value = as_float
        if math.isfinite(as_float) and as_float == int(as_float):
            node.is_int = abs(as_float) < 2**63
            node.int_value = int(as_float)
        return node
    raise TemplateSyntaxError(f'illegal number syntax: "{text}"')


def _unquote(token: Token) -> str:
    if token.typ is Item.RAW_STRING:
        return token.val[1:-1]
    body = token.val[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        simple = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"'}
        if nxt in simple:
            out.append(simple[nxt])
            i += 2
        elif nxt in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[nxt]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise TemplateSyntaxError("invalid syntax")
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif nxt in "01234567" and nxt:
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or any(d not in "01234567" for d in digits):
                raise TemplateSyntaxError("invalid syntax")
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise TemplateSyntaxError("invalid syntax")
    return "".join(out)


# --- parser -----------------------------------------------------------------------------
class _Parser:
    def __init__(self, name: str, text: str, functions: frozenset[str]) -> None:
        self.name = name
        self.text = text
        self.functions = functions
        self.tokens = lex(text)
        self.i = 0
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.last: Token = self.tokens[0]

    def error(self, message: str) -> TemplateSyntaxError:
        return TemplateSyntaxError(f"template: {self.name}:{self.last.line}: {message}")

    def next(self) -> Token:
        token = self.tokens[min(self.i, len(self.tokens) - 1)]
        self.i += 1
        self.last = token
        return token

    def backup(self, n: int = 1) -> None:
        self.i -= n

    def peek(self) -> Token:
        return self.tokens[min(self.i, len(self.tokens) - 1)]

    def next_non_space(self) -> Token:
        token = self.next()
        while token.typ is Item.SPACE:
            token = self.next()
        return token

    def peek_non_space(self) -> Token:
        token = self.next_non_space()
        self.backup()
        return token

    def expect(self, typ: Item, context: str) -> Token:
        token = self.next_non_space()
        if token.typ is not typ:
            self.unexpected(token, context)
        return token

    def unexpected(self, token: Token, context: str) -> None:
        if token.typ is Item.ERROR:
            raise self.error(token.val)
        raise self.error(f"unexpected {token} in {context}")

    # --- grammar ---------------------------------------------------------------------
    def parse(self) -> ListNode:
        root = ListNode(self.peek().pos)
        while self.peek().typ is not Item.EOF:
            node = self.text_or_action()
            if isinstance(node, _EndNode | _ElseNode):
                raise self.error(f"unexpected {node}")
            if node is not None:
                root.nodes.append(node)
        return root

    def item_list(self) -> tuple[ListNode, Node]:
        lst = ListNode(self.peek_non_space().pos)
        while self.peek_non_space().typ is not Item.EOF:
            node = self.text_or_action()
            if isinstance(node, _EndNode | _ElseNode):
                return lst, node
            if node is not None:
                lst.nodes.append(node)
        raise self.error("unexpected EOF")

    def text_or_action(self) -> Node | None:
        token = self.next_non_space()
        if token.typ is Item.TEXT:
            return TextNode(token.pos, token.val)
        if token.typ is Item.LEFT_DELIM:
            return self.action()
        if token.typ is Item.COMMENT:
            return None
        self.unexpected(token, "input")
        return None

    def action(self) -> Node:
        token = self.next_non_space()
        kind = token.typ
        if kind in (Item.BLOCK, Item.DEFINE, Item.TEMPLATE):
            raise self.error(
                f"{{{{{token.val}}}}} is not supported by scalepilot (one template per label or annotation)"
            )
        if kind is Item.BREAK or kind is Item.CONTINUE:
            closing = self.next_non_space()
            if closing.typ is not Item.RIGHT_DELIM:
                self.unexpected(closing, "{{" + token.val + "}}")
            if self.range_depth == 0:
                raise self.error("{{" + token.val + "}} outside {{range}}")
            return BreakNode(token.pos) if kind is Item.BREAK else ContinueNode(token.pos)
        if kind is Item.ELSE:
            peek = self.peek_non_space()
            if peek.typ is Item.IF:
                return _ElseNode(peek.pos, peek.line)
            closing = self.expect(Item.RIGHT_DELIM, "else")
            return _ElseNode(closing.pos, closing.line)
        if kind is Item.END:
            return _EndNode(self.expect(Item.RIGHT_DELIM, "end").pos)
        if kind in (Item.IF, Item.RANGE, Item.WITH):
            return self.control(token.val)
        self.backup()
        start = self.peek()
        return ActionNode(start.pos, start.line, self.pipeline("command", Item.RIGHT_DELIM))

    def control(self, keyword: str) -> BranchNode:
        mark = len(self.vars)
        try:
            pipe = self.pipeline(keyword, Item.RIGHT_DELIM)
            if keyword == "range":
                self.range_depth += 1
            lst, nxt = self.item_list()
            if keyword == "range":
                self.range_depth -= 1
            else_list: ListNode | None = None
            if isinstance(nxt, _ElseNode):
                if keyword == "if" and self.peek().typ is Item.IF:
                    self.next()
                    else_list = ListNode(nxt.pos, [self.control("if")])
                else:
                    else_list, end = self.item_list()
                    if not isinstance(end, _EndNode):
                        raise self.error(f"expected end; found {end}")
            return BranchNode(pipe.pos, keyword, pipe.line, pipe, lst, else_list)
        finally:
            del self.vars[mark:]

    def pipeline(self, context: str, end: Item) -> PipeNode:
        token = self.peek_non_space()
        pipe = PipeNode(token.pos, token.line)
        while True:  # declarations, e.g. "$x :=" or "$k, $v :=" (range)
            start = self.i
            v = self.next_non_space()
            if v.typ is not Item.VARIABLE:
                self.i = start
                break
            nxt = self.peek_non_space()
            if nxt.typ in (Item.ASSIGN, Item.DECLARE):
                pipe.is_assign = nxt.typ is Item.ASSIGN
                self.next_non_space()
                pipe.decl.append(VariableNode(v.pos, [v.val]))
                self.vars.append(v.val)
                break
            if nxt.typ is Item.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(VariableNode(v.pos, [v.val]))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (Item.VARIABLE, Item.RIGHT_DELIM, Item.RIGHT_PAREN):
                        continue
                    raise self.error("range can only initialize variables")
                raise self.error(f"too many declarations in {context}")
            self.i = start  # an operand, not a declaration
            break
        while True:
            token = self.next_non_space()
            if token.typ is end:
                self.check_pipeline(pipe, context)
                return pipe
            if token.typ in (
                Item.BOOL,
                Item.CHAR_CONSTANT,
                Item.COMPLEX,
                Item.DOT,
                Item.FIELD,
                Item.IDENTIFIER,
                Item.NUMBER,
                Item.NIL,
                Item.RAW_STRING,
                Item.STRING,
                Item.VARIABLE,
                Item.LEFT_PAREN,
            ):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                self.unexpected(token, context)

    def check_pipeline(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            raise self.error(f"missing value for {context}")
        for i, cmd in enumerate(pipe.cmds[1:]):
            if isinstance(cmd.args[0], BoolNode | DotNode | NilNode | NumberNode | StringNode):
                raise self.error(f"non executable command in pipeline stage {i + 2}")

    def command(self) -> CommandNode:
        cmd = CommandNode(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            token = self.next()
            if token.typ is Item.SPACE:
                continue
            if token.typ in (Item.RIGHT_DELIM, Item.RIGHT_PAREN):
                self.backup()
            elif token.typ is not Item.PIPE:
                self.unexpected(token, "operand")
            break
        if not cmd.args:
            raise self.error("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ is Item.FIELD:
            chain = ChainNode(self.peek().pos, node, [])
            while self.peek().typ is Item.FIELD:
                chain.fields.append(self.next().val[1:])
            if isinstance(node, FieldNode):
                return FieldNode(chain.pos, [*node.ident, *chain.fields])
            if isinstance(node, VariableNode):
                return VariableNode(chain.pos, [*node.ident, *chain.fields])
            if isinstance(node, BoolNode | StringNode | NumberNode | NilNode | DotNode):
                raise self.error(f"unexpected . after term {go_quote(str(node))}")
            return chain
        return node

    def term(self) -> Node | None:
        token = self.next_non_space()
        kind = token.typ
        if kind is Item.IDENTIFIER:
            if token.val in UNSUPPORTED_FUNCTIONS:
                raise self.error(f'function "{token.val}" is not supported by scalepilot')
            if token.val not in self.functions:
                raise self.error(f'function "{token.val}" not defined')
            return IdentifierNode(token.pos, token.val)
        if kind is Item.DOT:
            return DotNode(token.pos)
        if kind is Item.NIL:
            return NilNode(token.pos)
        if kind is Item.VARIABLE:
            parts = token.val.split(".")
            if parts[0] not in self.vars:
                raise self.error(f'undefined variable "{parts[0]}"')
            return VariableNode(token.pos, parts)
        if kind is Item.FIELD:
            return FieldNode(token.pos, token.val[1:].split("."))
        if kind is Item.BOOL:
            return BoolNode(token.pos, token.val == "true")
        if kind in (Item.CHAR_CONSTANT, Item.NUMBER, Item.COMPLEX):
            try:
                return new_number(token.pos, token.val, kind is Item.CHAR_CONSTANT)
            except TemplateSyntaxError as exc:
                raise self.error(str(exc)) from None
        if kind is Item.LEFT_PAREN:
            return self.pipeline("parenthesized pipeline", Item.RIGHT_PAREN)
        if kind in (Item.STRING, Item.RAW_STRING):
            try:
                return StringNode(token.pos, token.val, _unquote(token))
            except TemplateSyntaxError as exc:
                raise self.error(str(exc)) from None
        self.backup()
        return None


def parse_template(name: str, text: str, functions: frozenset[str]) -> ListNode:
    """Parse ``text``; ``functions`` are the names a template may call."""
    return _Parser(name, text, functions).parse()
