"""The VKScript subset that the sandbox's `execute` runs, parsed without `eval`.

A program is `return <expression>;` where an expression is an API call
(`API.section.method({...})` or `API.section.method()`), a JSON literal, or an array or object
of expressions: `return [API.messages.addChatUser({"chat_id": 1, "user_id": 7}), ...];`.
Call arguments are JSON literals only (strings, numbers, booleans, null, arrays, objects);
object keys may be quoted strings or bare identifiers, as in JavaScript. Anything else
(variables, loops, operators, indexing) is a compile error, which `execute` answers as
VK error 12.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

MAX_CODE_LENGTH = 65_536  # characters of `code`
MAX_DEPTH = 64  # nesting of arrays and objects


class CompileError(ValueError):
    """The code is not in the supported subset; the message says where and why."""


@dataclass(frozen=True)
class ApiCall:
    """One `API.<method>(<args>)` of a program, with its JSON-literal arguments."""

    method: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Program:
    """A parsed program: its return expression and its API calls in source order."""

    expression: Any  # JSON values, lists, dicts and ApiCall leaves
    calls: tuple[ApiCall, ...]


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\\x00-\x1f]|\\.)*")
  | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[\[\]{}(),:;.])
    """,
    re.VERBOSE,
)
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}


@dataclass(frozen=True)
class _Token:
    """A lexical token and where it starts."""

    kind: str  # string | number | name | punct | end
    text: str
    at: int


def _tokens(code: str) -> Iterator[_Token]:
    """The tokens of `code`, whitespace dropped, ending with an `end` token."""
    at = 0
    while at < len(code):
        match = _TOKEN.match(code, at)
        if match is None:
            raise CompileError(f"unexpected character {code[at]!r} at position {at}")
        kind = match.lastgroup or ""
        if kind != "space":
            yield _Token(kind, match.group(), at)
        at = match.end()
    yield _Token("end", "", at)


class _Parser:
    """A recursive-descent parser over the token list."""

    def __init__(self, code: str) -> None:
        self.tokens = list(_tokens(code))
        self.index = 0
        self.calls: list[ApiCall] = []

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def _fail(self, expected: str) -> CompileError:
        token = self.current
        found = "end of code" if token.kind == "end" else repr(token.text)
        return CompileError(f"{expected} expected instead of {found} at position {token.at}")

    def _take(self, text: str) -> None:
        if self.current.text != text or self.current.kind not in ("punct", "name"):
            raise self._fail(repr(text))
        self.index += 1

    def _accept(self, text: str) -> bool:
        if self.current.kind == "punct" and self.current.text == text:
            self.index += 1
            return True
        return False

    def program(self) -> Program:
        """`return <expression>;` and nothing after it."""
        self._take("return")
        expression = self.expression(calls_allowed=True, depth=0)
        self._accept(";")
        if self.current.kind != "end":
            raise self._fail("end of code")
        return Program(expression, tuple(self.calls))

    def expression(self, *, calls_allowed: bool, depth: int) -> Any:
        """A literal, an array, an object or (where allowed) an API call."""
        if depth > MAX_DEPTH:
            raise CompileError(f"nesting deeper than {MAX_DEPTH} at position {self.current.at}")
        token = self.current
        if token.kind == "string":
            self.index += 1
            return _string(token)
        if token.kind == "number":
            self.index += 1
            return json.loads(token.text)
        if token.kind == "name" and token.text in _LITERALS:
            self.index += 1
            return _LITERALS[token.text]
        if token.kind == "name" and token.text == "API" and calls_allowed:
            return self.call()
        if self._accept("["):
            return self.array(calls_allowed=calls_allowed, depth=depth + 1)
        if self._accept("{"):
            return self.object(calls_allowed=calls_allowed, depth=depth + 1)
        raise self._fail("a value" if not calls_allowed else "an API call or a value")

    def array(self, *, calls_allowed: bool, depth: int) -> list[Any]:
        items: list[Any] = []
        if self._accept("]"):
            return items
        while True:
            items.append(self.expression(calls_allowed=calls_allowed, depth=depth))
            if self._accept("]"):
                return items
            if not self._accept(","):
                raise self._fail("',' or ']'")

    def object(self, *, calls_allowed: bool, depth: int) -> dict[str, Any]:
        members: dict[str, Any] = {}
        if self._accept("}"):
            return members
        while True:
            token = self.current
            if token.kind == "string":
                key = _string(token)
            elif token.kind == "name":
                key = token.text
            else:
                raise self._fail("a key")
            self.index += 1
            self._take(":")
            members[key] = self.expression(calls_allowed=calls_allowed, depth=depth)
            if self._accept("}"):
                return members
            if not self._accept(","):
                raise self._fail("',' or '}'")

    def call(self) -> ApiCall:
        """`API.<section>.<method>(<object>?)`."""
        self._take("API")
        parts: list[str] = []
        while self._accept("."):
            if self.current.kind != "name":
                raise self._fail("a method name")
            parts.append(self.current.text)
            self.index += 1
        if len(parts) != 2:
            raise CompileError(f"API.<section>.<method> expected at position {self.current.at}")
        self._take("(")
        args: dict[str, Any] = {}
        if not self._accept(")"):
            if not self._accept("{"):
                raise self._fail("an object of parameters")
            args = self.object(calls_allowed=False, depth=1)
            self._take(")")
        call = ApiCall(".".join(parts), args)
        self.calls.append(call)
        return call


def _string(token: _Token) -> str:
    """The value of a string literal (JSON escapes)."""
    try:
        value: str = json.loads(token.text)
    except json.JSONDecodeError as exc:
        raise CompileError(f"bad string literal at position {token.at}") from exc
    return value


def parse(code: str) -> Program:
    """Parse `code`; raise `CompileError` when it is not in the supported subset."""
    if len(code) > MAX_CODE_LENGTH:
        raise CompileError(f"code longer than {MAX_CODE_LENGTH} characters")
    return _Parser(code).program()


def evaluate(expression: Any, run: Callable[[ApiCall], Any]) -> Any:
    """The expression's value, each API call replaced by `run(call)`, in source order."""
    if isinstance(expression, ApiCall):
        return run(expression)
    if isinstance(expression, list):
        return [evaluate(item, run) for item in expression]
    if isinstance(expression, dict):
        return {key: evaluate(value, run) for key, value in expression.items()}
    return expression


def param_value(value: Any) -> str | None:
    """How VK passes a VKScript value to a method: None is omitted, arrays join with commas."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(text for item in value if (text := param_value(item)) is not None)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def call_params(call: ApiCall) -> list[tuple[str, str]]:
    """A call's arguments as the string parameters a method receives."""
    params = []
    for key, value in call.args.items():
        text = param_value(value)
        if text is not None:
            params.append((key, text))
    return params
