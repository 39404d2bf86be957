"""``standard-webhooks``: HMAC-SHA256 with the webhook's secret (the Standard Webhooks
specification), as in docs/payloads.md."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Optional, Sequence, Union

from ._common import Body, Headers, ReceivedRequest, VerificationError, now_or

SECRET_PREFIX = "whsec_"


def _secret_key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a Postbode secret starts with whsec_")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the secret is not whsec_ followed by base64") from None
    if not key:
        raise ValueError("the secret is empty")
    return key


class StandardWebhooks:
    """Checks ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``.

    ``secret`` is the webhook's ``whsec_...`` secret; during a rotation pass both, the new
    and the previous one. ``tolerance`` is how far (seconds) the timestamp may be from
    this machine's clock, either way.
    """

    def __init__(self, secret: Union[str, Sequence[str]], *, tolerance: int = 300) -> None:
        secrets = [secret] if isinstance(secret, str) else list(secret)
        if not secrets:
            raise ValueError("give at least one secret")
        self._keys = [_secret_key(s) for s in secrets]
        self._tolerance = tolerance

    def verify(self, headers: Headers, body: Body, *, now: Optional[int] = None) -> None:
        """Returns when the call is genuine; raises :class:`VerificationError` otherwise."""
        request = ReceivedRequest("POST", "/", headers, body)
        delivery_id = request.required("webhook-id")
        timestamp = request.required("webhook-timestamp")
        signatures = request.required("webhook-signature")
        try:
            sent = int(timestamp)
        except ValueError:
            raise VerificationError("malformed", "the webhook-timestamp header is not Unix seconds") from None
        skew = now_or(now) - sent
        if abs(skew) > self._tolerance:
            raise VerificationError("stale", "the call is %d s away from now" % skew)
        signed = b"%s.%s.%s" % (delivery_id.encode("utf-8"), timestamp.encode("ascii"), request.body)
        for key in self._keys:
            expected = hmac.new(key, signed, hashlib.sha256).digest()
            for candidate in signatures.split():
                version, _, encoded = candidate.partition(",")
                if version != "v1":
                    continue
                try:
                    given = base64.b64decode(encoded, validate=True)
                except (binascii.Error, ValueError):
                    continue
                if hmac.compare_digest(expected, given):
                    return
        raise VerificationError("bad_signature", "the signature does not verify")
