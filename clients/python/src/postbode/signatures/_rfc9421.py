"""``rfc9421``: HTTP Message Signatures (RFC 9421) with Ed25519, as in docs/payloads.md."""

from __future__ import annotations

from typing import List, Optional

from . import _sfv
from ._common import (
    Body,
    Headers,
    ReceivedRequest,
    Verified,
    VerificationError,
    check_age,
    is_under_domain,
    now_or,
    same_bytes,
    sha256,
)
from ._keys import ED25519, PublishedKeys

LABEL = "sig1"
_PARAM_TYPES = {"created": int, "expires": int, "keyid": str, "alg": str, "nonce": str, "tag": str}


def _bad(why: str) -> VerificationError:
    return VerificationError("malformed", why)


class _Input:
    def __init__(self, label: str, inner: _sfv.InnerList) -> None:
        self.label = label
        self.components: List[str] = []
        for item in inner.items:
            name = item.value
            if not isinstance(name, str) or isinstance(name, _sfv.Token):
                raise _bad("signature-input: a component is not a string")
            if item.params:
                raise _bad("signature-input: component parameters are not supported")
            if not name or name != name.lower():
                raise _bad("signature-input: a component name is empty or not lower case")
            if name in self.components:
                raise _bad("signature-input: %s is covered twice" % name)
            self.components.append(name)
        self.params = {}
        for name, value in inner.params:
            kind = _PARAM_TYPES.get(name)
            if kind is not None:
                valid = (
                    isinstance(value, int) and not isinstance(value, (bool, _sfv.Decimal))
                    if kind is int
                    else isinstance(value, str) and not isinstance(value, _sfv.Token)
                )
                if not valid:
                    raise _bad("signature-input: %s has the wrong type" % name)
                self.params[name] = value
        self.serialized = _sfv.serialize_inner_list(inner)


def check_content_digest(value: str, body: bytes) -> None:
    for name, member in _sfv.parse_dictionary(value):
        if name == "sha-256":
            if not isinstance(member, _sfv.Item) or not isinstance(member.value, bytes):
                raise _bad("content-digest: sha-256 is not a byte sequence")
            if not same_bytes(sha256(body), member.value):
                raise VerificationError("digest_mismatch", "the body does not match its digest")
            return
    raise _bad("content-digest: no sha-256 member")


class Rfc9421:
    """Checks a call signed with ``rfc9421`` (Ed25519).

    ``scheme`` is the scheme Postbode called (the webhook URL's, ``https``; also behind a
    proxy that terminates TLS), part of the signed ``@target-uri``. The other arguments
    are those of :class:`HttpSignature`.
    """

    def __init__(
        self,
        keys: PublishedKeys,
        *,
        account: str,
        key_domain: str,
        account_header: str = "X-Postbode-Account",
        scheme: str = "https",
        max_age: int = 60,
        future_skew: int = 10,
    ) -> None:
        self._keys = keys
        self._account = account
        self._key_domain = key_domain
        self._account_header = account_header
        self._scheme = scheme.lower()
        self._max_age = max_age
        self._future_skew = future_skew
        self._required = ["@method", "@target-uri", "content-digest", "content-type", account_header.lower()]

    def verify(self, method: str, target: str, headers: Headers, body: Body, *, now: Optional[int] = None) -> Verified:
        request = ReceivedRequest(method, target, headers, body)
        at = now_or(now)
        inputs = []
        for label, member in _sfv.parse_dictionary(request.required("signature-input")):
            if not isinstance(member, _sfv.InnerList):
                raise _bad("signature-input: %s is not an inner list" % label)
            inputs.append(_Input(label, member))
        signatures = {}
        for label, member in _sfv.parse_dictionary(request.required("signature")):
            if not isinstance(member, _sfv.Item) or not isinstance(member.value, bytes):
                raise _bad("signature: %s is not a byte sequence" % label)
            signatures[label] = member.value
        if len(inputs) == 1:
            chosen = inputs[0]
        else:
            matching = [i for i in inputs if i.label == LABEL]
            if not matching:
                raise _bad("signature-input: no %s member" % LABEL)
            chosen = matching[0]
        signature = signatures.get(chosen.label)
        if signature is None:
            raise _bad("signature: no %s member" % chosen.label)
        algorithm = chosen.params.get("alg")
        if algorithm is not None and algorithm != ED25519:
            raise _bad("signature-input: alg %s is not %s" % (algorithm, ED25519))
        key_id = chosen.params.get("keyid")
        if key_id is None:
            raise _bad("signature-input: no keyid")
        created = chosen.params.get("created")
        if created is None:
            raise _bad("signature-input: no created")
        for name in self._required:
            if name not in chosen.components:
                raise VerificationError("not_covered", "the signature does not cover " + name)
        if not is_under_domain(key_id, self._key_domain):
            raise VerificationError("untrusted_key_domain", "the key %s is not under the trusted key domain" % key_id)
        check_age(created, at, self._max_age, self._future_skew)
        expires = chosen.params.get("expires")
        if expires is not None and expires <= at:
            raise VerificationError("stale", "the signature expired")
        if request.required(self._account_header) != self._account:
            raise VerificationError("wrong_account", "the account header names another account")
        check_content_digest(request.required("content-digest"), request.body)

        key = self._keys.find(key_id)
        if key is None:
            raise VerificationError("unknown_key", "no published key has the id " + key_id)
        if key.algorithm != ED25519:
            raise VerificationError("bad_signature", "the key is not an Ed25519 key")
        base = self._signature_base(request, chosen)
        if not key.verify(base.encode("utf-8"), signature):
            raise VerificationError("bad_signature", "the signature does not verify")
        return Verified(key_id, ED25519, chosen.components)

    def _signature_base(self, request: ReceivedRequest, chosen: _Input) -> str:
        path, _, query = request.target.partition("?")
        lines = []
        for name in chosen.components:
            if name == "@method":
                value = request.method
            elif name == "@target-uri":
                value = "%s://%s%s" % (self._scheme, request.required("host"), request.target)
            elif name == "@authority":
                value = request.required("host").lower()
            elif name == "@scheme":
                value = self._scheme
            elif name == "@request-target":
                value = request.target
            elif name == "@path":
                value = path
            elif name == "@query":
                value = "?" + query
            elif name.startswith("@"):
                raise _bad("signature-input: unsupported component " + name)
            else:
                value = request.required(name)
            if "\n" in value or "\r" in value:
                raise _bad("%s: a line break in the value" % name)
            lines.append('"%s": %s' % (name, value))
        lines.append('"@signature-params": ' + chosen.serialized)
        return "\n".join(lines)
