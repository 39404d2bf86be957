"""What every scheme shares: the request as received, and why a call is refused."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import urllib.parse
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

#: Header names and values, as a mapping (Flask's, Django's and Starlette's ``headers``
#: work as they are) or as ``(name, value)`` pairs.
Headers = Union[Mapping[str, str], Iterable[Tuple[str, str]]]
Body = Union[bytes, bytearray, memoryview, str]


class VerificationError(Exception):
    """A call that must be refused (answer it ``401``).

    ``code`` says why, in the words every Postbode verifier uses: ``missing_header``,
    ``malformed``, ``not_covered``, ``untrusted_key_domain``, ``stale``,
    ``wrong_account``, ``digest_mismatch``, ``unknown_key``, ``bad_signature`` or
    ``replayed_nonce``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Verified:
    """What a successful check established: the key that signed and what it covered."""

    def __init__(self, key_id: str, algorithm: str, covered: Sequence[str]) -> None:
        self.key_id = key_id
        self.algorithm = algorithm
        self.covered = list(covered)

    def __repr__(self) -> str:
        return "Verified(key_id=%r, algorithm=%r)" % (self.key_id, self.algorithm)


class ReceivedRequest:
    """A request as the schemes see it: method, path and query, headers, raw body."""

    def __init__(self, method: str, target: str, headers: Headers, body: Body) -> None:
        self.method = method
        self.target = origin_form(target)
        self.pairs = header_pairs(headers)
        self.body = body.encode("utf-8") if isinstance(body, str) else bytes(body)

    def header(self, name: str) -> Optional[str]:
        """Every field of that name, trimmed, joined by ``", "`` in order; ``None`` when absent."""
        wanted = name.strip().lower()
        values = [v.strip() for n, v in self.pairs if n.strip().lower() == wanted]
        return ", ".join(values) if values else None

    def required(self, name: str) -> str:
        value = self.header(name)
        if value is None:
            raise VerificationError("missing_header", "the %s header is missing" % name.lower())
        return value


def header_pairs(headers: Headers) -> List[Tuple[str, str]]:
    items = headers.items() if hasattr(headers, "items") else headers  # type: ignore[union-attr]
    pairs = []
    for name, value in items:  # type: ignore[misc]
        if isinstance(value, (list, tuple)):
            pairs.extend((str(name), str(v)) for v in value)
        else:
            pairs.append((str(name), str(value)))
    return pairs


def origin_form(target: str) -> str:
    """``/path?query`` of a request target given as it is or as an absolute URL."""
    if "://" in target:
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        return rest[slash:] if slash >= 0 else "/"
    return target


def wsgi_target(environ: Mapping[str, Any]) -> str:
    """The request target as the client sent it, from a WSGI environ (Flask's
    ``request.environ``, Django's ``request.META``): the signatures cover it byte for
    byte, and frameworks' own paths are decoded."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    path = urllib.parse.quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""), safe="/;=,~!$&'()*+:@")
    query = environ.get("QUERY_STRING", "")
    return path + ("?" + query if query else "")


def now_or(now: Optional[int]) -> int:
    return int(time.time()) if now is None else int(now)


def b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError("malformed", "%s is not base64" % what) from None


def sha256(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


def same_bytes(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def check_age(sent: int, now: int, max_age: int, future_skew: int) -> None:
    age = now - sent
    if age > max_age:
        raise VerificationError("stale", "the call is %d s old, more than allowed" % age)
    if -age > future_skew:
        raise VerificationError("stale", "the call is dated %d s in the future" % -age)


def is_under_domain(key_id: str, trusted_domain: str) -> bool:
    """Whether ``key_id`` is ``<selector>._domainkey.<trusted_domain>`` exactly."""
    lower = key_id.lower()
    at = lower.find("._domainkey.")
    if at <= 0:
        return False
    domain = lower[at + len("._domainkey.") :].rstrip(".")
    return bool(domain) and domain == trusted_domain.lower().rstrip(".")
