"""Dashboard sign-in, session cookie, CSRF and the /docs pass, over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import API_KEY
from tests.integration.dashboard.conftest import CSRF
from whatsapp_scheduler.web import sessions


@pytest.mark.parametrize("path", ["/", "/history", "/compose", "/import", "/message/x"])
async def test_pages_redirect_to_sign_in_when_signed_out(dash, path):
    response = await dash.browser.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin?next=")


@pytest.mark.parametrize("path", ["/dashboard/api/recipient?value=1", "/dashboard/api/events"])
async def test_json_endpoints_answer_401_when_signed_out(dash, path):
    response = await dash.browser.get(path)
    assert response.status_code == 401


async def test_sign_in_sets_an_httponly_samesite_strict_signed_cookie(dash):
    response = await dash.sign_in()
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{sessions.COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain http on loopback; set on https
    assert API_KEY not in cookie
    assert (await dash.browser.get("/")).status_code == 200


async def test_a_wrong_key_is_refused_with_a_clear_message(dash):
    response = await dash.sign_in("not-the-key")
    assert response.status_code == 401
    assert "That API key is not right" in response.text
    assert (await dash.browser.get("/")).status_code == 303


async def test_sign_in_without_the_form_token_is_refused(dash):
    response = await dash.browser.post("/signin", data={"api_key": API_KEY, "csrf": "x"})
    assert response.status_code == 403
    assert (await dash.browser.get("/")).status_code == 303


async def test_a_tampered_cookie_is_not_a_session(signed_in):
    value = signed_in.browser.cookies[sessions.COOKIE]
    _payload, signature = value.split(".")
    forged = sessions._b64(b'{"auth":true,"csrf":"x","iat":1772355600}')
    signed_in.browser.cookies.set(sessions.COOKIE, f"{forged}.{signature}")
    assert (await signed_in.browser.get("/")).status_code == 303


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("POST", "/compose", {"recipient": "+905551234567", "text": "x"}),
        ("POST", "/message/any/cancel", {}),
        ("POST", "/signout", {}),
    ],
)
async def test_posts_without_the_csrf_token_are_refused(signed_in, method, path, data):
    response = await signed_in.browser.request(method, path, data=data)
    assert response.status_code == 403
    wrong = await signed_in.browser.request(method, path, data={**data, "csrf": "wrong"})
    assert wrong.status_code == 403


async def test_json_posts_need_the_csrf_header(signed_in):
    body: dict[str, list[Any]] = {"messages": []}
    refused = await signed_in.browser.post("/dashboard/api/import/batch", json=body)
    assert refused.status_code == 403
    accepted = await signed_in.browser.post(
        "/dashboard/api/import/batch", json=body, headers={"X-CSRF-Token": signed_in.csrf}
    )
    assert accepted.status_code == 200


async def test_sign_out_ends_the_session(signed_in):
    response = await signed_in.browser.post("/signout", data={"csrf": signed_in.csrf})
    assert response.status_code == 303
    assert (await signed_in.browser.get("/")).status_code == 303


async def test_docs_open_with_a_session_but_api_writes_still_need_the_key(dash):
    assert (await dash.browser.get("/docs")).status_code == 401
    await dash.sign_in()
    assert (await dash.browser.get("/docs")).status_code == 200
    assert (await dash.browser.get("/openapi.json")).status_code == 200
    write = await dash.browser.post(
        "/schedule", json={"alici": "+905551234567", "tarih": "2026-03-02", "saat": "10:00"}
    )
    assert write.status_code == 401


async def test_next_never_leaves_the_site(dash):
    form = await dash.browser.get("/signin?next=//evil.example/x")
    assert 'value="/"' in form.text
    response = await dash.browser.get("/lang/tr?next=https://evil.example")
    assert response.headers["location"] == "/"


async def test_sign_out_revokes_the_cookie_itself(signed_in):
    """A copy of the cookie kept from before sign-out (a stolen one) no longer works."""
    old = signed_in.browser.cookies[sessions.COOKIE]
    assert (await signed_in.browser.get("/docs")).status_code == 200
    response = await signed_in.browser.post("/signout", data={"csrf": signed_in.csrf})
    assert response.status_code == 303
    signed_in.browser.cookies.set(sessions.COOKIE, old)
    assert (await signed_in.browser.get("/")).status_code == 303
    assert (await signed_in.browser.get("/dashboard/api/recipient?value=1")).status_code == 401
    assert (await signed_in.browser.get("/docs")).status_code == 401
    again = await signed_in.browser.post("/signout", data={"csrf": signed_in.csrf})
    assert again.status_code == 303  # nothing left to end: back to the form


async def test_other_sessions_survive_one_sign_out(dash, signed_in):
    import httpx

    other = httpx.AsyncClient(base_url=dash.url, timeout=10)
    try:
        form = await other.get("/signin")
        token = CSRF.search(form.text)
        assert token is not None
        signin = await other.post("/signin", data={"api_key": API_KEY, "csrf": token[1]})
        assert signin.status_code == 303
        await signed_in.browser.post("/signout", data={"csrf": signed_in.csrf})
        assert (await other.get("/")).status_code == 200
    finally:
        await other.aclose()


async def test_a_session_ends_everywhere_and_with_a_new_api_key(
    make_settings, clock, sqlite_url, signed_in
):
    """Two processes on one database: sign-out on one ends the cookie on the other; a process
    started with another API_KEY accepts none of the old cookies."""
    import httpx

    from tests.integration.conftest import ServedApp
    from whatsapp_scheduler.store import sql
    from whatsapp_scheduler.web import app as app_mod

    cookie = signed_in.browser.cookies[sessions.COOKIE]
    stores = [sql.SqlMessageStore.from_url(sqlite_url) for _ in range(2)]
    same = app_mod.create_app(make_settings(database_url=sqlite_url), store=stores[0], clock=clock)
    rotated = app_mod.create_app(
        make_settings(database_url=sqlite_url, api_key="a-new-key-after-rotation-0123456789"),
        store=stores[1],
        clock=clock,
    )
    async with ServedApp(same) as second, ServedApp(rotated) as third:
        jar = {sessions.COOKIE: cookie}
        async with httpx.AsyncClient(base_url=second.url, cookies=jar) as client:
            assert (await client.get("/")).status_code == 200
            await signed_in.browser.post("/signout", data={"csrf": signed_in.csrf})
            assert (await client.get("/")).status_code == 303
        await signed_in.sign_in()
        jar = {sessions.COOKIE: signed_in.browser.cookies[sessions.COOKIE]}
        async with httpx.AsyncClient(base_url=third.url, cookies=jar) as client:
            assert (await client.get("/")).status_code == 303
    for s in stores:
        await s.close()


async def test_a_session_expires_after_twelve_hours(signed_in, clock):
    clock.advance(sessions.MAX_AGE_SECONDS - 60)
    assert (await signed_in.browser.get("/")).status_code == 200
    clock.advance(120)
    assert (await signed_in.browser.get("/")).status_code == 303
