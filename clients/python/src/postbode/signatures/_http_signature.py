"""``http-signature``: the suite's draft-cavage HTTP Signature with ``rsa-sha256``, keys
published like DKIM keys, as in docs/payloads.md."""

from __future__ import annotations

import email.utils
import re
from typing import Dict, List, Optional

from ._common import (
    Body,
    Headers,
    ReceivedRequest,
    Verified,
    VerificationError,
    b64decode,
    check_age,
    is_under_domain,
    now_or,
    same_bytes,
    sha256,
)
from ._keys import RSA, PublishedKeys
from ._nonces import NonceCache

MIN_NONCE_LEN = 16
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BARE_VALUE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z/=]+")


def _bad(why: str) -> VerificationError:
    return VerificationError("malformed", why)


def parse_signature_header(value: str) -> Dict[str, str]:
    """The parameters of a ``Signature`` header, names in lower case; a repeated parameter
    refuses the header. An ``Authorization: Signature ...`` value is accepted too."""
    if len(value) > 8192:
        raise _bad("signature header: too long")
    text = value.strip()
    if text[:10].lower() == "signature ":
        text = text[10:].lstrip()
    params: Dict[str, str] = {}
    pos = 0
    while True:
        while pos < len(text) and text[pos] in " \t,":
            pos += 1
        if pos >= len(text):
            return params
        name_match = _TOKEN.match(text, pos)
        if not name_match:
            raise _bad("signature header: expected a parameter name")
        name = name_match.group(0).lower()
        pos = name_match.end()
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos >= len(text) or text[pos] != "=":
            raise _bad("signature header: %s has no value" % name)
        pos += 1
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] == '"':
            pos += 1
            out = []
            while True:
                if pos >= len(text):
                    raise _bad("signature header: unterminated quoted string")
                char = text[pos]
                if char == '"':
                    pos += 1
                    break
                if char == "\\":
                    if pos + 1 >= len(text):
                        raise _bad("signature header: unterminated quoted string")
                    char = text[pos + 1]
                    pos += 1
                if ord(char) < 32 and char != "\t" or ord(char) == 127:
                    raise _bad("signature header: control character")
                out.append(char)
                pos += 1
            param = "".join(out)
        else:
            value_match = _BARE_VALUE.match(text, pos)
            if not value_match:
                raise _bad("signature header: %s has no value" % name)
            param = value_match.group(0)
            pos = value_match.end()
        if name in params:
            raise _bad("signature header: %s appears twice" % name)
        params[name] = param
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] != ",":
            raise _bad("signature header: expected a comma")


def check_digest(value: str, body: bytes) -> None:
    """The ``sha-256`` entry of a ``Digest`` value (the algorithm in any case) matches the body."""
    found: Optional[str] = None
    for entry in value.split(","):
        algorithm, sep, encoded = entry.strip().partition("=")
        if not sep:
            raise _bad("digest: an entry without =")
        if algorithm.strip().lower() == "sha-256":
            if found is not None:
                raise _bad("digest: two sha-256 entries")
            found = encoded
    if found is None:
        raise _bad("digest: no sha-256 entry")
    if not same_bytes(sha256(body), b64decode(found, "digest")):
        raise VerificationError("digest_mismatch", "the body does not match its digest")


def _signing_string(request: ReceivedRequest, covered: List[str], params: Dict[str, str]) -> str:
    lines = []
    for name in covered:
        if name == "(request-target)":
            value = "%s %s" % (request.method.lower(), request.target)
        elif name == "(keyid)":
            value = params["keyid"]
        elif name == "(algorithm)":
            value = params.get("algorithm", RSA)
        elif name in ("(created)", "(expires)"):
            number = params.get(name[1:-1])
            if number is None:
                raise _bad("signature: %s is covered but has no parameter" % name)
            value = number
        elif name.startswith("("):
            raise _bad("signature: unsupported pseudo-header " + name)
        else:
            value = request.required(name)
        lines.append("%s: %s" % (name, value))
    return "\n".join(lines)


class HttpSignature:
    """Checks a call signed with ``http-signature``.

    - ``keys``: where the keys are (:class:`PublishedKeys`: the key set URL or DNS);
    - ``account``: your account id (``acc_...``), as ``GET /v1/account`` shows it, with the
      operator's ``signature.account_prefix`` in front if one is set;
    - ``key_domain``: the key domain you trust; only keys ``<selector>._domainkey.<key_domain>``;
    - ``max_age``: how old ``Date`` may be (60 s); ``future_skew``: how far ahead (10 s).

    Keep one instance for the life of the process: it remembers the nonces of accepted
    calls, and refuses a call whose nonce it has seen (a replay).
    """

    def __init__(
        self,
        keys: PublishedKeys,
        *,
        account: str,
        key_domain: str,
        account_header: str = "X-Postbode-Account",
        max_age: int = 60,
        future_skew: int = 10,
        nonce_cache: Optional[NonceCache] = None,
    ) -> None:
        self._keys = keys
        self._account = account
        self._key_domain = key_domain
        self._account_header = account_header
        self._max_age = max_age
        self._future_skew = future_skew
        self._nonces = nonce_cache or NonceCache()
        self._required = ["(request-target)", "host", "date", account_header.lower(), "digest", "x-nonce"]

    def verify(self, method: str, target: str, headers: Headers, body: Body, *, now: Optional[int] = None) -> Verified:
        """``target`` is the path and query as requested (``/hooks/in.php?a=1``); returns
        what was verified, or raises :class:`VerificationError`."""
        request = ReceivedRequest(method, target, headers, body)
        at = now_or(now)
        params = parse_signature_header(request.required("signature"))
        key_id = params.get("keyid")
        if key_id is None:
            raise _bad("signature header: no keyId")
        if "signature" not in params:
            raise _bad("signature header: no signature")
        signature = b64decode(params["signature"], "signature header: signature")
        covered = params["headers"].lower().split() if "headers" in params else ["date"]
        if not covered:
            raise _bad("signature header: headers is empty")
        algorithm = params.get("algorithm")
        if algorithm is not None and algorithm.lower() != RSA:
            raise _bad("signature header: algorithm %s is not %s" % (algorithm, RSA))
        for name in self._required:
            if name not in covered:
                raise VerificationError("not_covered", "the signature does not cover " + name)
        if not is_under_domain(key_id, self._key_domain):
            raise VerificationError("untrusted_key_domain", "the key %s is not under the trusted key domain" % key_id)

        try:
            sent = int(email.utils.parsedate_to_datetime(request.required("date")).timestamp())
        except (TypeError, ValueError, IndexError):
            raise _bad("date: not an HTTP date") from None
        check_age(sent, at, self._max_age, self._future_skew)
        if request.required(self._account_header) != self._account:
            raise VerificationError("wrong_account", "the account header names another account")
        check_digest(request.required("digest"), request.body)
        nonce = request.required("x-nonce")
        if len(nonce) < MIN_NONCE_LEN:
            raise _bad("x-nonce: shorter than %d characters" % MIN_NONCE_LEN)

        key = self._keys.find(key_id)
        if key is None:
            raise VerificationError("unknown_key", "no published key has the id " + key_id)
        if key.algorithm != RSA:
            raise VerificationError("bad_signature", "the key is not an RSA key")
        text = _signing_string(request, covered, params)
        if not key.verify(text.encode("utf-8"), signature):
            raise VerificationError("bad_signature", "the signature does not verify")
        # Only now: forged calls must not fill the cache.
        window = self._max_age + self._future_skew + 1
        if not self._nonces.check_and_insert(nonce, at, window):
            raise VerificationError("replayed_nonce", "the nonce was already seen: the call is replayed")
        return Verified(key_id, RSA, covered)
