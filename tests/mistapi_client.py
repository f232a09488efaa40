"""Juniper's Python SDK for Mist's API (`mistapi`) against mistgate, as a new user
would use it: driven by tests/mistapi.rs, which starts mistgate over HTTPS with a
certificate of a throwaway CA (trusted through REQUESTS_CA_BUNDLE, which the SDK's
HTTP library reads) and passes what to talk to in the environment.

Every call goes through the SDK's own functions; the answers are checked as a Mist
client reads them. Exits non-zero with the failed check on the first difference.
"""

import os
import re
import sys
import time

import mistapi
from mistapi.api.v1.orgs import webhooks as org_webhooks
from mistapi.api.v1.self import self as me
from mistapi.api.v1.sites import webhooks as site_webhooks

HOST = os.environ["MISTGATE_HOST"]
TOKEN = os.environ["MISTGATE_TOKEN"]
ORG = os.environ["MIST_ORG"]
SITE = os.environ["MIST_SITE"]
RECEIVER = os.environ["RECEIVER_URL"]
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def check(ok, what, answer=None):
    if not ok:
        extra = ""
        if answer is not None:
            extra = f": {answer.status_code} {answer.raw_data}"
        sys.exit(f"mistapi check failed: {what}{extra}")


def session():
    s = mistapi.APISession(
        console_log_level=50, logging_log_level=50, show_cli_notif=False
    )
    # The SDK's public setter (`set_cloud`) accepts only Juniper's host names: the
    # session is pointed at mistgate's host directly.
    s._cloud_uri = HOST
    # Validates the token against GET /api/v1/self, as with Mist.
    s.set_api_token(TOKEN)
    check(s._apitoken == [TOKEN], "the token is accepted by /self")
    s.login()
    check(s.get_authentication_status(), "logged in")
    return s


def deliveries(s, scope, scope_id, webhook_id, **query):
    search = getattr(scope, f"search{kind(scope)}WebhooksDeliveries")
    return search(s, scope_id, webhook_id, **query)


def kind(scope):
    return "Org" if scope is org_webhooks else "Site"


def exercise(s, scope, scope_id, topics, new_topics):
    k = kind(scope)
    create = getattr(scope, f"create{k}Webhook")
    listing = getattr(scope, f"list{k}Webhooks")
    get = getattr(scope, f"get{k}Webhook")
    update = getattr(scope, f"update{k}Webhook")
    ping = getattr(scope, f"ping{k}Webhook")
    delete = getattr(scope, f"delete{k}Webhook")
    count = getattr(scope, f"count{k}WebhooksDeliveries")

    made = []
    for n in range(3):
        body = {
            "name": f"{k.lower()}-{n}",
            "url": f"{RECEIVER}/{k.lower()}/{n}",
            "topics": topics,
            "secret": f"secret-{n}",
        }
        r = create(s, scope_id, body=body)
        check(r.status_code == 200, f"create {k} webhook", r)
        check(UUID.match(r.data["id"]), "a webhook id is a UUID", r)
        check(r.data["org_id"] == ORG, f"{k} webhook's org_id is the org", r)
        made.append(r.data)
    hook = made[0]["id"]

    # Lists page with limit/page and X-Page-* headers; get_all follows them.
    r = listing(s, scope_id, limit=2, page=1)
    check(r.status_code == 200 and len(r.data) == 2, "first page of 2", r)
    check(r.headers.get("X-Page-Total") == "3", "X-Page-Total", r)
    everything = mistapi.get_all(s, r)
    check(
        sorted(w["id"] for w in everything) == sorted(w["id"] for w in made),
        "get_all pages through every webhook",
    )

    r = get(s, scope_id, hook)
    check(r.status_code == 200 and r.data["name"] == f"{k.lower()}-0", "get", r)

    # An update sending only the changed field.
    r = update(s, scope_id, hook, body={"topics": new_topics})
    check(r.status_code == 200, "partial update", r)
    check(r.data["topics"] == new_topics, "partial update changes topics", r)
    check(r.data["url"] == made[0]["url"], "partial update keeps url", r)
    check(r.data["has_secret"] is True, "partial update keeps the secret", r)

    # Sending back what GET answered, with one change.
    echoed = get(s, scope_id, hook).data
    echoed["name"] = "renamed"
    r = update(s, scope_id, hook, body=echoed)
    check(r.status_code == 200 and r.data["name"] == "renamed", "echoed update", r)

    r = ping(s, scope_id, hook)
    check(r.status_code == 200, "ping", r)

    # The ping's delivery result, in Mist's relative times.
    found = None
    for _ in range(100):
        r = deliveries(s, scope, scope_id, hook, start="-1h", end="now")
        check(r.status_code == 200, "search deliveries", r)
        if r.data["results"]:
            found = r.data
            break
        time.sleep(0.1)
    check(found is not None, "the ping's delivery result appears")
    check(found["total"] >= len(found["results"]) >= 1, "search total", r)
    check(isinstance(found["start"], int) and isinstance(found["end"], int), "start/end", r)
    check(found["end"] - found["start"] in (3600, 3601), "start=-1h&end=now is an hour", r)
    result = found["results"][0]
    check(UUID.match(result["id"]), "a delivery result's id is a UUID string", r)
    check(result["topic"] == "ping" and result["status"] == "success", "ping delivered", r)
    check(result["webhook_id"] == hook, "result names its webhook", r)

    r = deliveries(s, scope, scope_id, hook, duration="1h", topic="ping", status="success")
    check(r.status_code == 200 and r.data["total"] >= 1, "duration=1h", r)
    r = deliveries(s, scope, scope_id, hook, start="-2h", end="-1h")
    check(r.status_code == 200 and r.data["total"] == 0, "an earlier hour is empty", r)

    r = count(s, scope_id, hook, distinct="topic", duration="1d", limit=5)
    check(r.status_code == 200, "count", r)
    check(r.data["limit"] == 5 and r.data["distinct"] == "topic", "count limit", r)
    check({"topic": "ping", "count": r.data["total"]} in r.data["results"], "count ping", r)

    for w in made:
        r = delete(s, scope_id, w["id"])
        check(r.status_code == 200, "delete", r)
    r = get(s, scope_id, hook)
    check(r.status_code == 404, "deleted webhook is gone", r)
    r = listing(s, scope_id)
    check(r.status_code == 200 and r.data == [], "nothing left", r)


def main():
    s = session()
    exercise(s, org_webhooks, ORG, ["alarms"], ["audits", "device-updowns"])

    # After an org webhook exists, /self names the org with the token's role.
    r = org_webhooks.createOrgWebhook(
        s, ORG, body={"url": f"{RECEIVER}/keep", "topics": ["audits"]}
    )
    check(r.status_code == 200, "create a webhook to keep", r)
    r = me.getSelf(s)
    check(r.status_code == 200 and r.data["name"] == "mistapi-test", "self name", r)
    check(
        {"scope": "org", "role": "admin", "org_id": ORG} in r.data["privileges"],
        "self privileges",
        r,
    )

    exercise(s, site_webhooks, SITE, ["zone", "location"], ["occupancy-alerts"])

    # Mist's errors: a site-only topic on an org webhook is refused, naming the field.
    r = org_webhooks.createOrgWebhook(
        s, ORG, body={"url": f"{RECEIVER}/x", "topics": ["occupancy-alerts"]}
    )
    check(r.status_code in (400, 422) and "topics" in r.data["detail"], "site-only refused", r)
    print("mistapi: every check passed")


main()
