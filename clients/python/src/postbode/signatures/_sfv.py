"""The part of Structured Field Values (RFC 8941) that RFC 9421's headers use:
dictionaries of items and inner lists with parameters, parsed strictly and serialised
canonically (the signature base holds the re-serialised ``@signature-params``)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import List, Tuple, Union

from ._common import VerificationError

#: A bare item: int, str (a string), Token, bytes, bool, or Decimal (thousandths).
BareItem = Union[int, str, "Token", bytes, bool, "Decimal"]
Params = List[Tuple[str, BareItem]]


class Token(str):
    """A token, e.g. ``sha-256``'s value would be one if it were not a key."""


class Decimal(int):
    """A decimal, in thousandths."""


class Item:
    def __init__(self, value: BareItem, params: Params) -> None:
        self.value = value
        self.params = params


class InnerList:
    def __init__(self, items: List[Item], params: Params) -> None:
        self.items = items
        self.params = params


_TCHAR = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
MAX_LEN = 16 * 1024


def _bad(why: str) -> VerificationError:
    return VerificationError("malformed", "structured field: " + why)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text.strip(" ")
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def eat(self, char: str) -> bool:
        if self.peek() == char:
            self.pos += 1
            return True
        return False

    def skip(self, chars: str) -> None:
        while self.peek() and self.peek() in chars:
            self.pos += 1

    def key(self) -> str:
        match = _KEY.match(self.text, self.pos)
        if not match:
            raise _bad("a key must start with a-z or *")
        self.pos = match.end()
        return match.group(0)

    def params(self) -> Params:
        params: Params = []
        while self.eat(";"):
            self.skip(" ")
            key = self.key()
            value: BareItem = self.bare() if self.eat("=") else True
            if any(k == key for k, _ in params):
                raise _bad("duplicate parameter " + key)
            params.append((key, value))
        return params

    def item(self) -> Item:
        value = self.bare()
        return Item(value, self.params())

    def member(self) -> Union[Item, InnerList]:
        if not self.eat("("):
            return self.item()
        items = []
        while True:
            self.skip(" ")
            if self.eat(")"):
                return InnerList(items, self.params())
            items.append(self.item())
            if self.peek() not in (" ", ")"):
                raise _bad("bad inner list")

    def bare(self) -> BareItem:
        char = self.peek()
        if char == "-" or "0" <= char <= "9":
            return self.number()
        if char == '"':
            return self.string()
        if char == ":":
            end = self.text.find(":", self.pos + 1)
            if end < 0:
                raise _bad("unterminated byte sequence")
            encoded = self.text[self.pos + 1 : end]
            if not re.fullmatch(r"[A-Za-z0-9+/=]*", encoded):
                raise _bad("byte sequence is not base64")
            self.pos = end + 1
            try:
                return base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise _bad("byte sequence is not base64") from None
        if char == "?":
            flag = self.text[self.pos + 1 : self.pos + 2]
            if flag not in ("0", "1"):
                raise _bad("bad boolean")
            self.pos += 2
            return flag == "1"
        if char == "*" or (char.isascii() and char.isalpha()):
            match = _TCHAR.match(self.text, self.pos)
            assert match is not None  # the pattern matches the empty string
            self.pos = match.end()
            return Token(match.group(0))
        raise _bad("not an item")

    def number(self) -> BareItem:
        match = re.compile(r"(-?)([0-9]+)(?:\.([0-9]*))?").match(self.text, self.pos)
        if not match:
            raise _bad("a number needs digits")
        self.pos = match.end()
        sign = -1 if match.group(1) else 1
        integer, fraction = match.group(2), match.group(3)
        if fraction is None:
            if len(integer) > 15:
                raise _bad("integer too long")
            return sign * int(integer)
        if len(integer) > 12 or not fraction or len(fraction) > 3:
            raise _bad("bad decimal")
        return Decimal(sign * int(integer + fraction.ljust(3, "0")))

    def string(self) -> str:
        self.pos += 1
        out = []
        while True:
            char = self.peek()
            if not char:
                raise _bad("unterminated string")
            self.pos += 1
            if char == '"':
                return "".join(out)
            if char == "\\":
                escaped = self.peek()
                if escaped not in ('"', "\\") or not escaped:
                    raise _bad("bad escape")
                out.append(escaped)
                self.pos += 1
            elif " " <= char <= "~":
                out.append(char)
            else:
                raise _bad("bad character in string")


def parse_dictionary(text: str) -> List[Tuple[str, Union[Item, InnerList]]]:
    """A dictionary's members in order; a duplicate key is refused, not overwritten."""
    if len(text) > MAX_LEN:
        raise _bad("too long")
    parser = _Parser(text)
    members: List[Tuple[str, Union[Item, InnerList]]] = []
    if not parser.peek():
        return members
    while True:
        key = parser.key()
        member = parser.member() if parser.eat("=") else Item(True, parser.params())
        if any(k == key for k, _ in members):
            raise _bad("duplicate key " + key)
        members.append((key, member))
        parser.skip(" \t")
        if not parser.peek():
            return members
        if not parser.eat(","):
            raise _bad("expected a comma")
        parser.skip(" \t")
        if not parser.peek():
            raise _bad("trailing comma")


def serialize_inner_list(inner: InnerList) -> str:
    return "(" + " ".join(_bare(i.value) + _params(i.params) for i in inner.items) + ")" + _params(inner.params)


def _params(params: Params) -> str:
    return "".join(";" + k + ("" if v is True else "=" + _bare(v)) for k, v in params)


def _bare(value: BareItem) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, Decimal):
        sign = "-" if value < 0 else ""
        whole, fraction = divmod(abs(int(value)), 1000)
        return "%s%d.%s" % (sign, whole, ("%03d" % fraction).rstrip("0") or "0")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Token):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return ":" + base64.b64encode(value).decode("ascii") + ":"
