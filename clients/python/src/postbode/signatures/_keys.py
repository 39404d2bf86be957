"""Postbode's public signing keys: where a verifier finds the key a call names.

Postbode publishes every key twice (docs/payloads.md, "How the keys are published"): as
a DKIM-style TXT record at the key id, and in the key set at
``GET /.well-known/postbode/keys``. :class:`PublishedKeys` reads either and caches what it
found.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from ._common import VerificationError, b64decode

RSA = "rsa-sha256"
ED25519 = "ed25519"

#: Looks up the TXT records at a name: one string per record, its character-strings
#: joined. An empty list when there is none.
ResolveTxt = Callable[[str], Sequence[str]]


class PublicKey:
    """One public key: ``rsa-sha256`` (RSA, PKCS#1 v1.5 with SHA-256) or ``ed25519``."""

    def __init__(self, algorithm: str, key: Any) -> None:
        self.algorithm = algorithm
        self._key = key

    @classmethod
    def from_spki(cls, algorithm: str, der: bytes) -> "PublicKey":
        try:
            key = serialization.load_der_public_key(der)
        except ValueError:
            raise VerificationError("malformed", "the published key is not a public key") from None
        expected = rsa.RSAPublicKey if algorithm == RSA else ed25519.Ed25519PublicKey
        if not isinstance(key, expected):
            raise VerificationError("malformed", "the published key is not an %s key" % algorithm)
        return cls(algorithm, key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            if self.algorithm == RSA:
                self._key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            else:
                self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def parse_key_set(key_set: Union[str, bytes, Mapping[str, Any]]) -> Dict[str, PublicKey]:
    """The keys of a key set by lower-case key id; keys of unknown algorithms are skipped."""
    data = json.loads(key_set) if isinstance(key_set, (str, bytes)) else key_set
    keys = {}
    for entry in data.get("keys", []):
        algorithm = entry.get("algorithm")
        if algorithm not in (RSA, ED25519):
            continue
        der = b64decode(entry["public_key"], "the key " + entry["key_id"])
        keys[entry["key_id"].lower()] = PublicKey.from_spki(algorithm, der)
    return keys


def parse_dkim_record(text: str) -> Optional[PublicKey]:
    """The key of a DKIM key record (``v=DKIM1;k=rsa;p=...``); ``None`` when revoked (empty ``p=``)."""
    tags: Dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip(" \t\r\n")
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise VerificationError("malformed", "DKIM record: a tag without =")
        name = name.strip(" \t\r\n")
        if name in tags:
            raise VerificationError("malformed", "DKIM record: duplicate tag " + name)
        tags[name] = value.strip(" \t\r\n")
    if tags.get("v", "DKIM1") != "DKIM1":
        raise VerificationError("malformed", "DKIM record: v= is not DKIM1")
    if "p" not in tags:
        raise VerificationError("malformed", "DKIM record: no p= tag")
    encoded = "".join(tags["p"].split())
    if not encoded:
        return None
    raw = b64decode(encoded, "DKIM record: p=")
    kind = tags.get("k", "rsa")
    if kind == "rsa":
        return PublicKey.from_spki(RSA, raw)
    if kind == "ed25519":
        try:
            return PublicKey(ED25519, ed25519.Ed25519PublicKey.from_public_bytes(raw))
        except ValueError:
            raise VerificationError("malformed", "DKIM record: not an Ed25519 key") from None
    raise VerificationError("malformed", "DKIM record: unknown key type k=" + kind)


def dnspython_resolver(nameserver: Optional[str] = None, port: int = 53, timeout: float = 5.0) -> ResolveTxt:
    """A TXT look-up with dnspython (``pip install 'postbode[dns]'``): the system's
    resolvers, or ``nameserver`` (an IP address) at ``port``."""
    import dns.exception  # noqa: PLC0415 (optional dependency)
    import dns.resolver  # noqa: PLC0415

    if nameserver is None:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [nameserver]
        resolver.port = port
    resolver.lifetime = timeout

    def resolve_txt(name: str) -> Sequence[str]:
        try:
            answer = resolver.resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]

    return resolve_txt


def _fetch(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the operator's URL)
        return response.read(1 << 20)


class PublishedKeys:
    """Finds a key by its id, from a key set or from DNS, and caches it.

    - :meth:`from_key_set`: a key set you already hold (fixed);
    - :meth:`from_url`: ``https://<postbode>/.well-known/postbode/keys``, fetched when
      first needed, again after ``cache_seconds``, and early when a call names a key it
      does not hold (at most every ``refresh_seconds``, so forged key ids cannot make it
      hammer the server);
    - :meth:`from_dns`: the TXT record at the key id, each kept ``cache_seconds``.
    """

    def __init__(self, lookup: Callable[[str], Optional[PublicKey]]) -> None:
        self._lookup = lookup

    def find(self, key_id: str) -> Optional[PublicKey]:
        return self._lookup(key_id)

    @classmethod
    def from_key_set(cls, key_set: Union[str, bytes, Mapping[str, Any]]) -> "PublishedKeys":
        keys = parse_key_set(key_set)
        return cls(lambda key_id: keys.get(key_id.lower()))

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        cache_seconds: float = 3600,
        refresh_seconds: float = 10,
        timeout: float = 10,
        fetch: Optional[Callable[[str], bytes]] = None,
    ) -> "PublishedKeys":
        get = fetch or (lambda u: _fetch(u, timeout))
        lock = threading.Lock()
        state: Dict[str, Any] = {"keys": {}, "fetched": None}

        def lookup(key_id: str) -> Optional[PublicKey]:
            with lock:
                now = time.monotonic()
                fetched = state["fetched"]
                key = state["keys"].get(key_id.lower())
                expired = fetched is None or now - fetched >= cache_seconds
                may_refresh = fetched is None or now - fetched >= refresh_seconds
                if expired or (key is None and may_refresh):
                    state["keys"] = parse_key_set(get(url))
                    state["fetched"] = now
                    key = state["keys"].get(key_id.lower())
                return key

        return cls(lookup)

    @classmethod
    def from_dns(
        cls,
        resolve_txt: Optional[ResolveTxt] = None,
        *,
        cache_seconds: float = 3600,
        missing_seconds: float = 10,
    ) -> "PublishedKeys":
        """``resolve_txt`` defaults to :func:`dnspython_resolver` with the system's resolvers."""
        resolve = resolve_txt or dnspython_resolver()
        lock = threading.Lock()
        cache: Dict[str, Tuple[float, Optional[PublicKey]]] = {}

        def lookup(key_id: str) -> Optional[PublicKey]:
            name = key_id.lower().rstrip(".")
            with lock:
                hit = cache.get(name)
                if hit is not None and time.monotonic() < hit[0]:
                    return hit[1]
            key = None
            for text in resolve(name):
                if text.startswith("v=DKIM1") or "p=" in text:
                    key = parse_dkim_record(text)
                    break
            with lock:
                if len(cache) > 10_000:
                    cache.clear()
                lifetime = cache_seconds if key is not None else missing_seconds
                cache[name] = (time.monotonic() + lifetime, key)
            return key

        return cls(lookup)
