"""The dashboard's pages with a stored row that cannot be read (issue 13; see
tests/integration/test_unreadable_rows.py): the lists leave it out, its own pages say why in
the page's language (409), never a 500."""

from __future__ import annotations

import logging

from tests.integration.test_unreadable_rows import corrupt, message


async def test_dashboard_pages_survive_a_broken_row(signed_in, sqlite_url, caplog):
    caplog.set_level(logging.WARNING)
    for message_id in ("m-good", "m-bad", "m-done", "m-bad-done"):
        answer = await signed_in.api.post("/schedule", json=message(message_id))
        assert answer.status_code == 200
    for message_id in ("m-done", "m-bad-done"):  # finished: the history lists them
        assert (await signed_in.api.delete(f"/schedule/{message_id}")).status_code == 200
    for message_id in ("m-bad", "m-bad-done"):
        await corrupt(sqlite_url, message_id, "due_at", "garbage")
    for path, shown, hidden in (("/", "m-good", "m-bad"), ("/history", "m-done", "m-bad-done")):
        page = await signed_in.browser.get(path)
        assert page.status_code == 200, page.text
        assert shown in page.text
        assert f"/message/{hidden}" not in page.text
    for lang, text in (
        ("en", "its stored due_at is not a valid value"),
        ("tr", "kayıtlı due_at değeri geçerli değil"),
    ):
        signed_in.browser.cookies.set("lang", lang)
        page = await signed_in.browser.get("/message/m-bad")
        assert page.status_code == 409
        assert text in page.text
        assert "m-bad" in page.text
    assert (await signed_in.browser.get("/message/m-bad/cancel")).status_code == 409
