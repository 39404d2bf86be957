"""Each verifier accepts the service's real calls, in every format and with the keys
from the key set or from DNS, and refuses them once anything is changed."""

import json
import os

import pytest

from conftest import Receiver
from postbode.signatures import (
    HttpSignature,
    PublishedKeys,
    Rfc9421,
    StandardWebhooks,
    VerificationError,
    dnspython_resolver,
)

FORMATS = ["json", "form", "xml"]
SCHEMES = ["http-signature", "rfc9421"]


@pytest.fixture(scope="module")
def sent(client, service_url):
    """One event, delivered to a webhook per format and signature scheme (each also
    signed with standard-webhooks): the calls as the receiver got them, by (format, scheme)."""
    receiver = Receiver()
    hooks = {}
    for fmt in FORMATS:
        for scheme in SCHEMES:
            url = "%s?format=%s&scheme=%s" % (receiver.url, fmt, scheme)
            hook = client.webhooks.create(url, events=["order.signed"], format=fmt, signatures=["standard-webhooks", scheme])
            hooks[(fmt, scheme)] = hook
    client.events.send("order.signed", {"order": 42, "paid": True, "tags": ["a", "b"]})
    calls = {}
    for call in receiver.wait_for(len(hooks)):
        query = dict(part.split("=") for part in call.target.split("?", 1)[1].split("&"))
        calls[(query["format"], query["scheme"])] = call
    yield {"calls": calls, "hooks": hooks, "account": client.accounts.current()["id"]}
    for hook in hooks.values():
        client.webhooks.delete(hook["id"])
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture(scope="module")
def key_set_keys(service_url):
    return PublishedKeys.from_url(service_url + "/.well-known/postbode/keys")


@pytest.fixture(scope="module")
def dns_keys():
    host, port = os.environ["POSTBODE_TEST_DNS"].split(":")
    return PublishedKeys.from_dns(dnspython_resolver(host, int(port)))


def verifier(scheme, keys, account):
    domain = os.environ["POSTBODE_TEST_KEY_DOMAIN"]
    if scheme == "http-signature":
        return HttpSignature(keys, account=account, key_domain=domain)
    # The receiver is reached at http://127.0.0.1: the scheme Postbode called is part of
    # what rfc9421 signs.
    return Rfc9421(keys, account=account, key_domain=domain, scheme="http")


def check(scheme, keys, account, call, now=None):
    verifier(scheme, keys, account).verify(call.method, call.target, call.headers, call.body, now=now)


def refusal(action):
    with pytest.raises(VerificationError) as refused:
        action()
    return refused.value.code


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_real_call_verifies_with_the_key_set_and_with_dns(sent, key_set_keys, dns_keys, fmt, scheme):
    call = sent["calls"][(fmt, scheme)]
    assert call.header("Content-Type").startswith({"json": "application/json", "form": "application/x-www-form-urlencoded", "xml": "application/xml"}[fmt])
    check(scheme, key_set_keys, sent["account"], call)
    check(scheme, dns_keys, sent["account"], call)
    StandardWebhooks(sent["hooks"][(fmt, scheme)]["secret"]).verify(call.headers, call.body)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_changed_body_header_old_date_and_wrong_key_are_refused(sent, key_set_keys, scheme):
    call = sent["calls"][("json", scheme)]
    account = sent["account"]
    changed = json.loads(call.body)
    changed["data"]["order"] = 43
    tampered = type(call)(call.method, call.target, call.headers, json.dumps(changed).encode())
    assert refusal(lambda: check(scheme, key_set_keys, account, tampered)) == "digest_mismatch"
    retyped = call.with_header("Content-Type", "text/plain")
    assert refusal(lambda: check(scheme, key_set_keys, account, retyped)) == "bad_signature"
    import time

    later = int(time.time()) + 120
    assert refusal(lambda: check(scheme, key_set_keys, account, call, now=later)) == "stale"
    other = PublishedKeys.from_key_set(_vectors_key_set())
    wrong_key = PublishedKeys(lambda key_id: other.find(_vector_key_id(scheme)))
    assert refusal(lambda: check(scheme, wrong_key, account, call)) == "bad_signature"
    assert refusal(lambda: check(scheme, key_set_keys, "acc_someone_else", call)) == "wrong_account"


def test_a_replayed_call_is_refused(sent, key_set_keys):
    call = sent["calls"][("form", "http-signature")]
    receiver_side = verifier("http-signature", key_set_keys, sent["account"])
    receiver_side.verify(call.method, call.target, call.headers, call.body)
    with pytest.raises(VerificationError) as refused:
        receiver_side.verify(call.method, call.target, call.headers, call.body)
    assert refused.value.code == "replayed_nonce"


def test_standard_webhooks_refuses_a_changed_body_id_old_timestamp_and_wrong_secret(sent):
    call = sent["calls"][("xml", "rfc9421")]
    secret = sent["hooks"][("xml", "rfc9421")]["secret"]
    other_secret = sent["hooks"][("json", "rfc9421")]["secret"]
    hook = StandardWebhooks(secret)
    assert refusal(lambda: hook.verify(call.headers, call.body + b" ")) == "bad_signature"
    assert refusal(lambda: hook.verify(call.with_header("webhook-id", "dlv_other").headers, call.body)) == "bad_signature"
    sent_at = int(call.header("webhook-timestamp"))
    assert refusal(lambda: hook.verify(call.headers, call.body, now=sent_at + 301)) == "stale"
    assert refusal(lambda: StandardWebhooks(other_secret).verify(call.headers, call.body)) == "bad_signature"


def _vectors_key_set():
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[2] / "testdata" / "signature-vectors.json"
    return json.loads(path.read_text("utf-8"))["key_set"]


def _vector_key_id(scheme):
    algorithm = "rsa-sha256" if scheme == "http-signature" else "ed25519"
    return next(k["key_id"] for k in _vectors_key_set()["keys"] if k["algorithm"] == algorithm)
