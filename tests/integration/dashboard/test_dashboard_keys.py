"""The dashboard signed in with scoped keys: a read key sees and cannot change, a sender-limited
key sees only its senders' messages, and revoking a key ends its open sessions at once."""

from __future__ import annotations

from tests.integration.test_api_keys import add_sender
from tests.integration.test_api_schedule import GOOD


async def _key(dash, name: str, scope: str, senders: list[str] | None = None) -> str:
    body: dict[str, object] = {"name": name, "scope": scope}
    if senders is not None:
        body["senders"] = senders
    response = await dash.api.post("/keys", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


async def test_a_read_key_sees_messages_but_gets_no_forms(dash):
    assert (await dash.api.post("/schedule", json=GOOD)).status_code == 200
    assert (await dash.sign_in(await _key(dash, "board", "read"))).status_code == 303
    upcoming = await dash.browser.get("/")
    assert upcoming.status_code == 200
    assert GOOD["id"] in upcoming.text
    assert 'href="/compose"' not in upcoming.text
    assert "/cancel" not in upcoming.text
    page = await dash.browser.get(f"/message/{GOOD['id']}")
    assert page.status_code == 200
    assert "/cancel" not in page.text
    for path in ("/compose", "/import", f"/message/{GOOD['id']}/cancel"):
        refused = await dash.browser.get(path)
        assert refused.status_code == 403
        assert "write" in refused.text
    cancel = await dash.browser.post(f"/message/{GOOD['id']}/cancel", data={"csrf": dash.csrf})
    assert cancel.status_code == 403
    compose = await dash.browser.post(
        "/compose",
        data={
            "csrf": dash.csrf,
            "recipient": GOOD["alici"],
            "text": "hi",
            "date": "2026-03-02",
            "time": "10:00",
        },
    )
    assert compose.status_code == 403
    chunk = await dash.browser.post(
        "/dashboard/api/import/batch",
        json={"messages": [dict(GOOD, id="imp-1")]},
        headers={"X-CSRF-Token": dash.csrf},
    )
    assert chunk.status_code == 403
    assert "write" in chunk.json()["detail"]
    assert (await dash.store.get(GOOD["id"])).status == "queued"
    assert await dash.store.get("imp-1") is None


async def test_a_write_keys_dashboard_messages_name_the_key(dash):
    assert (await dash.sign_in(await _key(dash, "front-desk", "write"))).status_code == 303
    response = await dash.browser.post(
        "/compose",
        data={
            "csrf": dash.csrf,
            "recipient": GOOD["alici"],
            "text": "hi",
            "date": "2026-03-02",
            "time": "10:00",
        },
    )
    assert response.status_code == 303
    created = response.headers["location"].split("created=")[1]
    assert (await dash.api.get(f"/status/{created}")).json()["anahtar"] == "front-desk"


async def test_a_sender_limited_key_sees_only_its_senders(dash):
    add_sender(dash, "shop", "111111")
    assert (await dash.api.post("/schedule", json=GOOD)).status_code == 200  # sender default
    assert (await dash.sign_in(await _key(dash, "shop-app", "write", ["shop"]))).status_code == 303
    assert GOOD["id"] not in (await dash.browser.get("/")).text
    assert (await dash.browser.get(f"/message/{GOOD['id']}")).status_code == 404
    cancel = await dash.browser.post(f"/message/{GOOD['id']}/cancel", data={"csrf": dash.csrf})
    assert cancel.status_code == 409
    assert (await dash.store.get(GOOD["id"])).status == "queued"


async def test_revoking_a_key_ends_its_open_sessions_at_once(dash):
    key = await _key(dash, "app", "write")
    assert (await dash.sign_in(key)).status_code == 303
    assert (await dash.browser.get("/")).status_code == 200
    assert (await dash.browser.get("/docs")).status_code == 200  # the session reads the API
    assert (await dash.api.delete("/keys/app")).status_code == 200
    page = await dash.browser.get("/")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/signin")
    assert (await dash.browser.get("/dashboard/api/events?ids=x")).status_code == 401
    assert (await dash.browser.get("/docs")).status_code == 401
    assert (await dash.sign_in(key)).status_code == 401  # nor can it sign in again
    assert (await dash.sign_in(await _key(dash, "other", "read"))).status_code == 303
