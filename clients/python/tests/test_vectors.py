"""The shared signature vectors (clients/testdata/signature-vectors.json): this library
reaches the same outcome as Postbode's Rust crate on every case."""

import json
import pathlib

import pytest

from postbode.signatures import HttpSignature, PublishedKeys, Rfc9421, StandardWebhooks, VerificationError

VECTORS = json.loads(
    (pathlib.Path(__file__).resolve().parents[2] / "testdata" / "signature-vectors.json").read_text("utf-8")
)


def keys_for(case):
    if case.get("keys") == "dns":
        records = {name: ["".join(strings)] for name, strings in VECTORS["dns"].items()}
        return PublishedKeys.from_dns(lambda name: records.get(name, []))
    return PublishedKeys.from_key_set(VECTORS["key_set"])


def verifier_for(case):
    policy = dict(VECTORS["policy"], **case.get("policy", {}))
    common = dict(account=policy["account"], key_domain=policy["key_domain"], account_header=policy["account_header"])
    if case["scheme"] == "standard-webhooks":
        hook = StandardWebhooks(case["secrets"])
        return lambda r, now: hook.verify(r["headers"], r["body"], now=now)
    if case["scheme"] == "http-signature":
        signature = HttpSignature(keys_for(case), max_age=policy["max_age"], **common)
    else:
        signature = Rfc9421(keys_for(case), max_age=policy["max_age"], scheme=policy["scheme"], **common)
    return lambda r, now: signature.verify(r["method"], r["target"], r["headers"], r["body"], now=now)


def test_the_vectors_cover_every_scheme():
    assert len(VECTORS["cases"]) >= 40
    assert {c["scheme"] for c in VECTORS["cases"]} == {"standard-webhooks", "http-signature", "rfc9421"}


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_each_vector_has_its_expected_outcome(case):
    verify = verifier_for(case)
    request = dict(case["request"], headers=[tuple(pair) for pair in case["request"]["headers"]])
    outcomes = []
    for _ in case["expect"]:
        try:
            verify(request, case["now"])
            outcomes.append("ok")
        except VerificationError as refused:
            outcomes.append(refused.code)
    assert outcomes == case["expect"]
