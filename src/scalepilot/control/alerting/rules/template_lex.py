"""The lexer of Go's ``text/template``, as Prometheus's alert templates are written in it.

It follows Go 1.19's ``text/template/parse/lex.go`` state by state — the trim markers
(``{{- `` and `` -}}``, which need the space), comments that must touch the delimiters,
newlines inside actions, number syntax (``0x1F``, ``1e3``, ``'a'``) — because every
difference would be a template Prometheus accepts and we reject, or renders differently.
Errors read as Go's do (``unclosed action``, ``unterminated quoted string``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum, auto


class Item(IntEnum):
    ERROR = auto()
    BOOL = auto()
    CHAR = auto()
    CHAR_CONSTANT = auto()
    COMMENT = auto()
    COMPLEX = auto()
    ASSIGN = auto()
    DECLARE = auto()
    EOF = auto()
    FIELD = auto()
    IDENTIFIER = auto()
    LEFT_DELIM = auto()
    LEFT_PAREN = auto()
    NUMBER = auto()
    PIPE = auto()
    RAW_STRING = auto()
    RIGHT_DELIM = auto()
    RIGHT_PAREN = auto()
    SPACE = auto()
    STRING = auto()
    TEXT = auto()
    VARIABLE = auto()
    KEYWORD = auto()  # only a boundary: keywords follow
    BLOCK = auto()
    BREAK = auto()
    CONTINUE = auto()
    DOT = auto()
    DEFINE = auto()
    ELSE = auto()
    END = auto()
    IF = auto()
    NIL = auto()
    RANGE = auto()
    TEMPLATE = auto()
    WITH = auto()


KEYWORDS = {
    ".": Item.DOT,
    "block": Item.BLOCK,
    "break": Item.BREAK,
    "continue": Item.CONTINUE,
    "define": Item.DEFINE,
    "else": Item.ELSE,
    "end": Item.END,
    "if": Item.IF,
    "range": Item.RANGE,
    "nil": Item.NIL,
    "template": Item.TEMPLATE,
    "with": Item.WITH,
}

LEFT, RIGHT = "{{", "}}"
_SPACE = " \t\r\n"


@dataclass(frozen=True, slots=True)
class Token:
    typ: Item
    pos: int
    val: str
    line: int

    def __str__(self) -> str:
        from scalepilot.control.alerting.rules.gofmt import go_quote

        if self.typ is Item.EOF:
            return "EOF"
        if self.typ is Item.ERROR:
            return self.val
        if self.typ > Item.KEYWORD:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return go_quote(self.val[:10]) + "..."
        return go_quote(self.val)


def _is_space(c: str) -> bool:
    return c in _SPACE and c != ""


def _is_alnum(c: str) -> bool:
    return c == "_" or (c != "" and (c.isalpha() or c.isdigit()))


def _has_left_trim(s: str) -> bool:
    return len(s) >= 2 and s[0] == "-" and _is_space(s[1])


def _has_right_trim(s: str) -> bool:
    return len(s) >= 2 and _is_space(s[0]) and s[1] == "-"


class _Lexer:
    def __init__(self, text: str) -> None:
        self.input = text
        self.pos = 0
        self.start = 0
        self.paren_depth = 0
        self.items: list[Token] = []

    # --- primitives ----------------------------------------------------------------
    def next(self) -> str:
        if self.pos >= len(self.input):
            self.pos += 1  # so backup() is symmetric at EOF
            return ""
        c = self.input[self.pos]
        self.pos += 1
        return c

    def peek(self) -> str:
        return self.input[self.pos] if self.pos < len(self.input) else ""

    def backup(self) -> None:
        self.pos -= 1

    def _line(self, pos: int) -> int:
        return 1 + self.input.count("\n", 0, pos)

    def emit(self, typ: Item) -> None:
        self.items.append(Token(typ, self.start, self.input[self.start : self.pos], self._line(self.start)))
        self.start = self.pos

    def ignore(self) -> None:
        self.start = self.pos

    def accept(self, valid: str) -> bool:
        if self.peek() != "" and self.peek() in valid:
            self.next()
            return True
        return False

    def accept_run(self, valid: str) -> None:
        while self.peek() != "" and self.peek() in valid:
            self.next()

    def error(self, message: str) -> None:
        self.items.append(Token(Item.ERROR, self.start, message, self._line(self.start)))

    def at_right_delim(self) -> tuple[bool, bool]:
        rest = self.input[self.pos :]
        if _has_right_trim(rest) and rest[2:].startswith(RIGHT):
            return True, True
        if rest.startswith(RIGHT):
            return True, False
        return False, False

    def at_terminator(self) -> bool:
        c = self.peek()
        if c == "" or _is_space(c) or c in ".,|:)(":
            return True
        return c == RIGHT[0]

    # --- states ----------------------------------------------------------------------
    def run(self) -> list[Token]:
        state: Callable[[], object] | None = self.lex_text
        while state is not None:
            state = state()  # type: ignore[assignment]
        return self.items

    def lex_text(self) -> object:
        x = self.input.find(LEFT, self.pos)
        if x >= 0:
            if x > self.pos:
                self.pos = x
                trim = 0
                if _has_left_trim(self.input[x + len(LEFT) :]):
                    text = self.input[self.start : self.pos]
                    trim = len(text) - len(text.rstrip(_SPACE))
                value = self.input[self.start : self.pos - trim]
                token = Token(Item.TEXT, self.start, value, self._line(self.start))
                self.ignore()
                if value:
                    self.items.append(token)
            return self.lex_left_delim
        self.pos = len(self.input)
        if self.pos > self.start:
            self.emit(Item.TEXT)
        self.emit(Item.EOF)
        return None

    def lex_left_delim(self) -> object:
        self.pos += len(LEFT)
        trim = _has_left_trim(self.input[self.pos :])
        after = 2 if trim else 0
        if self.input[self.pos + after :].startswith("/*"):
            self.pos += after
            self.ignore()
            return self.lex_comment
        self.emit(Item.LEFT_DELIM)
        self.pos += after
        self.ignore()
        self.paren_depth = 0
        return self.lex_inside_action

    def lex_comment(self) -> object:
        self.pos += 2
        x = self.input.find("*/", self.pos)
        if x < 0:
            self.error("unclosed comment")
            return None
        self.pos = x + 2
        delim, trim = self.at_right_delim()
        if not delim:
            self.error("comment ends before closing delimiter")
            return None
        self.emit(Item.COMMENT)
        if trim:
            self.pos += 2
        self.pos += len(RIGHT)
        if trim:
            rest = self.input[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(_SPACE))
        self.ignore()
        return self.lex_text

    def lex_right_delim(self) -> object:
        trim = _has_right_trim(self.input[self.pos :])
        if trim:
            self.pos += 2
            self.ignore()
        self.pos += len(RIGHT)
        self.emit(Item.RIGHT_DELIM)
        if trim:
            rest = self.input[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(_SPACE))
            self.ignore()
        return self.lex_text

    def lex_inside_action(self) -> object:
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self.lex_right_delim
            self.error("unclosed left paren")
            return None
        c = self.next()
        if c == "":
            self.error("unclosed action")
            return None
        if _is_space(c):
            self.backup()
            return self.lex_space
        if c == "=":
            self.emit(Item.ASSIGN)
        elif c == ":":
            if self.next() != "=":
                self.error("expected :=")
                return None
            self.emit(Item.DECLARE)
        elif c == "|":
            self.emit(Item.PIPE)
        elif c == '"':
            return self.lex_quote
        elif c == "`":
            return self.lex_raw_quote
        elif c == "$":
            return self.lex_variable
        elif c == "'":
            return self.lex_char
        elif c == "." and (self.pos >= len(self.input) or not self.input[self.pos].isdigit()):
            return self.lex_field
        elif c in "+-." or (c.isdigit() and c.isascii()):
            self.backup()
            return self.lex_number
        elif _is_alnum(c):
            self.backup()
            return self.lex_identifier
        elif c == "(":
            self.emit(Item.LEFT_PAREN)
            self.paren_depth += 1
        elif c == ")":
            self.emit(Item.RIGHT_PAREN)
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self.error(f"unexpected right paren U+{ord(c):04X} ')'")
                return None
        elif c.isascii() and c.isprintable():
            self.emit(Item.CHAR)
        else:
            self.error(f"unrecognized character in action: U+{ord(c):04X} '{c}'")
            return None
        return self.lex_inside_action

    def lex_space(self) -> object:
        spaces = 0
        while _is_space(self.peek()):
            self.next()
            spaces += 1
        rest = self.input[self.pos - 1 :]
        if _has_right_trim(rest) and rest[2:].startswith(RIGHT):
            self.backup()
            if spaces == 1:
                return self.lex_right_delim
        self.emit(Item.SPACE)
        return self.lex_inside_action

    def lex_identifier(self) -> object:
        while _is_alnum(self.peek()):
            self.next()
        if not self.at_terminator():
            c = self.next()
            self.error(f"bad character U+{ord(c):04X} '{c}'" if c else "unexpected EOF")
            return None
        word = self.input[self.start : self.pos]
        if word in KEYWORDS and word != ".":
            self.emit(KEYWORDS[word])
        elif word in ("true", "false"):
            self.emit(Item.BOOL)
        else:
            self.emit(Item.IDENTIFIER)
        return self.lex_inside_action

    def lex_field(self) -> object:
        return self._field_or_variable(Item.FIELD)

    def lex_variable(self) -> object:
        return self._field_or_variable(Item.VARIABLE)

    def _field_or_variable(self, typ: Item) -> object:
        if self.at_terminator():
            self.emit(Item.VARIABLE if typ is Item.VARIABLE else Item.DOT)
            return self.lex_inside_action
        while _is_alnum(self.peek()):
            self.next()
        if not self.at_terminator():
            c = self.next()
            self.error(f"bad character U+{ord(c):04X} '{c}'" if c else "unexpected EOF")
            return None
        self.emit(typ)
        return self.lex_inside_action

    def lex_char(self) -> object:
        while True:
            c = self.next()
            if c == "\\":
                c = self.next()
                if c not in ("", "\n"):
                    continue
            if c in ("", "\n"):
                self.error("unterminated character constant")
                return None
            if c == "'":
                break
        self.emit(Item.CHAR_CONSTANT)
        return self.lex_inside_action

    def lex_number(self) -> object:
        if not self._scan_number():
            self.error(f"bad number syntax: {self.input[self.start : self.pos]!r}".replace("'", '"'))
            return None
        self.emit(Item.NUMBER)
        return self.lex_inside_action

    def _scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        if _is_alnum(self.peek()):
            self.next()
            return False
        return True

    def lex_quote(self) -> object:
        while True:
            c = self.next()
            if c == "\\":
                c = self.next()
                if c not in ("", "\n"):
                    continue
            if c in ("", "\n"):
                self.error("unterminated quoted string")
                return None
            if c == '"':
                break
        self.emit(Item.STRING)
        return self.lex_inside_action

    def lex_raw_quote(self) -> object:
        while True:
            c = self.next()
            if c == "":
                self.error("unterminated raw quoted string")
                return None
            if c == "`":
                break
        self.emit(Item.RAW_STRING)
        return self.lex_inside_action


def lex(text: str) -> list[Token]:
    """All tokens of ``text``; the last is EOF or an ERROR."""
    return _Lexer(text).run()
