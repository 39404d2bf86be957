"""Verifying Postbode's calls on the receiving side, one class per signature scheme.

Each takes the request as your framework received it: the method, the path and query,
the headers and the raw body (read the body as bytes before any form or JSON parsing).
A genuine call returns; anything else raises :class:`VerificationError`, whose ``code``
says why. Answer such a call ``401``.
"""

from ._common import Verified, VerificationError, wsgi_target
from ._http_signature import HttpSignature
from ._keys import PublicKey, PublishedKeys, dnspython_resolver
from ._nonces import NonceCache
from ._rfc9421 import Rfc9421
from ._standard_webhooks import StandardWebhooks

__all__ = [
    "HttpSignature",
    "NonceCache",
    "PublicKey",
    "PublishedKeys",
    "Rfc9421",
    "StandardWebhooks",
    "Verified",
    "VerificationError",
    "dnspython_resolver",
    "wsgi_target",
]
