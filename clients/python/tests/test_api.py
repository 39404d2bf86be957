"""Every operation of the client round-trips against the real service."""

import json
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from postbode import Client, Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from postbode._operations import OPERATIONS
from postbode.types import SCHEMAS

from conftest import eventually


@pytest.fixture(scope="module")
def document(service_url):
    return json.load(urllib.request.urlopen(service_url + "/openapi.json"))


def test_every_operation_the_client_calls_is_in_the_served_document(document):
    served = {
        op["operationId"]: (method.upper(), path)
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    assert {k: served.get(k) for k in OPERATIONS} == OPERATIONS


def test_each_typed_dictionary_has_the_properties_of_its_schema(document):
    schemas = document["components"]["schemas"]
    for typed, name in SCHEMAS.items():
        assert set(typed.__annotations__) == set(schemas[name]["properties"]), name


def test_events_send_one_with_an_idempotency_key_a_batch_and_get_with_deliveries(client, receiver):
    hook = client.webhooks.create(receiver.url, events=["order.paid"])
    accepted = client.events.send("order.paid", {"order": 42}, idempotency_key="order-42")
    assert accepted["deliveries"] == 1
    assert client.events.send("order.paid", {"order": 42}, idempotency_key="order-42")["id"] == accepted["id"]
    with pytest.raises(Conflict):
        client.events.send("order.paid", {"order": 43}, idempotency_key="order-42")
    batch = client.events.send_batch([{"type": "order.paid", "data": {"order": n}} for n in (1, 2)])
    assert len(batch["ids"]) == 2
    calls = receiver.wait_for(3)
    assert sorted(json.loads(c.body)["data"]["order"] for c in calls) == [1, 2, 42]
    event = eventually(
        "the delivery to be delivered",
        lambda: (lambda e: e if e["deliveries"][0]["status"] == "delivered" else None)(client.events.get(accepted["id"])),
    )
    assert event["type"] == "order.paid" and event["body"]["data"] == {"order": 42}
    delivery = client.deliveries.get(event["deliveries"][0]["id"])
    assert delivery["webhook_id"] == hook["id"]
    client.webhooks.delete(hook["id"])


def test_a_bad_batch_names_the_field_by_its_full_path(client):
    with pytest.raises(ValidationFailed) as refused:
        client.events.send_batch([{"type": "order.paid"}, {"data": {}}])
    assert refused.value.status == 422
    assert "events[1].type" in refused.value.field_errors


def test_webhooks_create_list_every_page_get_update_delete(client, receiver):
    created = [client.webhooks.create(receiver.url + "?n=%d" % n, description="page test") for n in range(3)]
    assert created[0]["secret"].startswith("whsec_")
    listed = [w["id"] for w in client.webhooks.list(limit=1) if w["description"] == "page test"]
    assert listed == [w["id"] for w in created]
    assert "secret" not in client.webhooks.get(created[0]["id"])
    updated = client.webhooks.update(created[0]["id"], description="changed", max_concurrency=4)
    assert (updated["description"], updated["max_concurrency"], updated["url"]) == ("changed", 4, created[0]["url"])
    for hook in created:
        client.webhooks.delete(hook["id"])
    with pytest.raises(NotFound):
        client.webhooks.get(created[0]["id"])


def test_webhooks_verify_test_secret_check_and_the_log(client, receiver):
    hook = client.webhooks.create(receiver.url, events=["all"])
    receiver.files["/hooks/" + hook["verification"]["file_name"]] = client.webhooks.verification_file(hook["id"])
    assert client.webhooks.verify(hook["id"])["status"] == "verified"
    report = client.webhooks.test(hook["id"], type="order.paid", data={"order": 7})
    assert report["status_code"] == 200
    assert json.loads(receiver.wait_for(1)[0].body)["data"] == {"order": 7}
    before = hook["secret"]
    rotated = client.webhooks.rotate_secret(hook["id"])
    shown = client.webhooks.secret(hook["id"])
    assert (shown["secret"], shown["previous_secret"]) == (rotated["secret"], before)
    checked = client.webhooks.check_all()["data"]
    assert any(line["webhook_id"] == hook["id"] and line["ok"] for line in checked)
    attempts = list(client.webhooks.attempts(hook["id"]))
    assert attempts and attempts[0]["trigger"] in ("test",)
    assert client.webhooks.export_attempts(hook["id"], "csv").splitlines()[0].startswith("id,")
    assert client.webhooks.export_attempts(hook["id"], "jsonl").strip()
    stats = client.webhooks.stats(hook["id"], bucket="hour")
    assert stats["webhook_id"] == hook["id"] and stats["bucket"] == "hour"
    client.webhooks.delete(hook["id"])


def test_a_failed_delivery_is_resent_and_recovered(client, receiver):
    receiver.statuses = [500, 500]
    hook = client.webhooks.create(receiver.url, events=["order.failed"])
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    event = client.events.send("order.failed", {"order": 1})
    receiver.wait_for(1)
    delivery = eventually(
        "the first attempt to fail",
        lambda: next((d for d in client.webhooks.deliveries(hook["id"]) if d["attempts"] == 1), None),
    )
    assert delivery["event_id"] == event["id"] and delivery["last_status_code"] == 500
    assert client.deliveries.resend(delivery["id"])["id"] == delivery["id"]
    receiver.wait_for(2)
    eventually("the resent attempt to be logged", lambda: client.deliveries.get(delivery["id"])["attempts"] == 2)
    assert client.webhooks.recover(hook["id"], since)["deliveries"] == 1
    receiver.wait_for(3)
    eventually("the recovered delivery", lambda: client.deliveries.get(delivery["id"])["status"] == "delivered")
    assert [d["id"] for d in client.webhooks.deliveries(hook["id"], status="delivered")] == [delivery["id"]]
    client.webhooks.delete(hook["id"])


def test_a_webhook_made_later_gets_the_events_it_missed_by_a_replay_job(client, receiver):
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    event = client.events.send("order.replayed.py", {"order": 7})
    hook = client.webhooks.create(receiver.url, events=["order.replayed.py"])
    started = client.webhooks.replay(hook["id"], since, status=["missing"])
    assert started["matched"] >= 1
    job = eventually("the replay job to end", lambda: (j := client.webhooks.job(started["job_id"]))["status"] != "running" and j)
    assert job["status"] == "done" and job["created"] == started["matched"] and job["webhook_id"] == hook["id"]
    eventually("the replayed delivery", lambda: [d for d in client.webhooks.deliveries(hook["id"]) if d["event_id"] == event["id"]])
    client.webhooks.delete(hook["id"])


def test_databases_collections_profiles_subprofiles_and_erasure(client):
    database = client.databases.create(
        "customers", [{"name": "email", "type": "email"}, {"name": "age", "type": "integer"}]
    )
    assert [d["id"] for d in client.databases.list() if d["id"] == database["id"]]
    assert client.databases.update(database["id"], name="clients")["name"] == "clients"
    assert client.databases.get(database["id"])["name"] == "clients"
    collection = client.collections.create(database["id"], "orders", [{"name": "total", "type": "float"}])
    assert [c["id"] for c in client.collections.list(database["id"])] == [collection["id"]]
    assert client.collections.update(collection["id"], name="purchases")["name"] == "purchases"
    assert client.collections.get(collection["id"])["name"] == "purchases"

    profile = client.profiles.create(database["id"], {"email": "piet@example.com", "age": 31}, interests=["news"])
    assert profile["sequence"] == 1
    assert [p["id"] for p in client.profiles.list(database["id"], where={"email": "piet@example.com"})] == [profile["id"]]
    assert client.profiles.update(profile["id"], {"age": 32})["fields"]["age"] == 32
    assert client.profiles.replace(profile["id"], {"email": "piet@example.com"})["fields"]["age"] is None
    assert client.profiles.get(profile["id"])["sequence"] == 3
    sub = client.subprofiles.create(profile["id"], collection["id"], {"total": 9.5})
    assert [s["id"] for s in client.subprofiles.list(profile["id"])] == [sub["id"]]
    assert client.subprofiles.update(sub["id"], {"total": 10.0})["fields"]["total"] == 10.0
    assert client.subprofiles.replace(sub["id"], {})["fields"]["total"] is None
    assert client.subprofiles.get(sub["id"])["collection_id"] == collection["id"]
    client.subprofiles.delete(sub["id"])

    summary = client.databases.import_profiles(database["id"], "email,age\nkees@example.com,40\nbad,x\n", key="email")
    assert (summary["created"], summary["rejected_count"]) == (1, 1)
    kees = next(client.profiles.list(database["id"], where={"email": "kees@example.com"}))
    client.profiles.delete(kees["id"])
    with pytest.raises(NotFound):
        client.profiles.get(kees["id"])
    erased = client.profiles.erase(profile["id"])
    assert erased["profile_id"] == profile["id"] and erased["erased"]["events"] >= 3
    client.collections.delete(collection["id"])
    client.databases.delete(database["id"])
    with pytest.raises(NotFound):
        client.databases.get(database["id"])


def test_messages_links_and_every_report(client, receiver):
    hook = client.webhooks.create(receiver.url, events=["delivery", "bounce", "failure", "abuse", "unsubscribe"])
    message = client.messages.create({"id": "spring-2026", "tags": ["spring"]}, "piet@example.com")
    assert message["open_url"].startswith("http")
    assert "/t/c/" in client.messages.link(message["id"], "https://shop.example.com/sale")["click_url"]
    reports = [
        client.messages.report_delivery(message["id"], 250, extended="2.0.0"),
        client.messages.report_bounce(message["id"], envelope="bounces@example.com"),
        client.messages.report_failure(message["id"], "rcpt", 550, extended="5.1.1", description="User unknown"),
        client.messages.report_abuse(message["id"], emailfrom="piet@example.com"),
        client.messages.report_unsubscribe(message["id"]),
    ]
    assert all(r["deliveries"] == 1 for r in reports)
    types = sorted(json.loads(c.body)["type"] for c in receiver.wait_for(5))
    assert types == ["abuse", "bounce", "delivery", "failure", "unsubscribe"]
    client.webhooks.delete(hook["id"])


def test_domains(client):
    domain = client.domains.create("shop-%d.example.com" % id(client))
    assert domain["record"]["type"] == "TXT"
    assert [d["id"] for d in client.domains.list()] == [domain["id"]]
    assert client.domains.get(domain["id"])["domain"] == domain["domain"]
    assert client.domains.validate(domain["id"])["status"] == "pending"
    client.domains.delete(domain["id"])
    with pytest.raises(NotFound):
        client.domains.get(domain["id"])


def test_accounts_and_keys_with_the_operator_token(operator, account, service_url):
    assert account["id"] in [a["id"] for a in operator.accounts.list(limit=1)]
    key = operator.accounts.create_key(account["id"])
    second = Client(key["api_key"], service_url)
    assert second.accounts.current()["id"] == account["id"]
    operator.accounts.delete_key(account["id"], key["id"])
    with pytest.raises(Unauthorized):
        second.accounts.current()


def test_a_scoped_key_sends_events_and_nothing_else(operator, account, service_url):
    key = operator.accounts.create_key(account["id"], name="shop", scopes=["events:write"])
    assert (key["name"], key["scopes"]) == ("shop", ["events:write"])
    sender = Client(key["api_key"], service_url)
    sender.events.send("order.paid", {"total": 1})
    with pytest.raises(Forbidden) as refused:
        list(sender.webhooks.list())
    assert refused.value.status == 403 and "webhooks:read" in str(refused.value)
    listed = {k["id"]: k for k in operator.accounts.list_keys(account["id"])}
    assert listed[key["id"]]["scopes"] == ["events:write"]
    assert listed[key["id"]]["name"] == "shop"
    operator.accounts.delete_key(account["id"], key["id"])


def test_signing_keys(operator, client):
    listed = operator.signing_keys.list()
    published = {k["key_id"] for k in client.signing_keys.key_set()["keys"]}
    assert {k["key_id"] for k in listed["data"]} == published
    assert {k["algorithm"] for k in client.signing_keys.key_set()["keys"]} == {"rsa-sha256", "ed25519"}
    # A rotation publishes a next key per algorithm (once: while one waits, it is the one).
    rotated = operator.signing_keys.rotate()
    assert {k["algorithm"] for k in rotated["data"] if k["state"] == "next"} == {k["algorithm"] for k in listed["data"]}
    assert {k["key_id"] for k in listed["data"] if k["state"] == "active"} <= {k["key_id"] for k in rotated["data"]}


def test_a_problem_document_names_each_bad_field(client):
    receiver_url = "http://127.0.0.1:9/hooks/receive.php"
    with pytest.raises(ValidationFailed) as refused:
        client.webhooks.create(receiver_url, max_concurrency="many", rate_limit={"per_second": "fast"})
    assert {"max_concurrency", "rate_limit.per_second"} <= set(refused.value.field_errors)
    assert refused.value.type == "/problems/validation" and refused.value.detail


def test_a_wrong_token_is_unauthorized(service_url):
    with pytest.raises(Unauthorized) as refused:
        Client("pb_wrong_token", service_url).accounts.current()
    assert refused.value.status == 401
