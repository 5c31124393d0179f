"""The dashboard's files over real HTTP (docs/media.md): compose uploads a file first
(`/dashboard/api/media`: a session, its CSRF token, the API's checks with the rule in the
reader's language), then schedules it by its id; a place by its coordinates; the message page
shows the file, served to signed-in sessions only."""

from __future__ import annotations

from typing import Any

from tests import media_files

BASE = {"recipient": "+905551234567", "date": "2026-03-02", "time": "10:00"}


async def _upload(dash: Any, data: bytes, name: str = "a.bin", **headers: str) -> Any:
    return await dash.browser.post(
        "/dashboard/api/media",
        files={"file": (name, data, "application/octet-stream")},
        headers={"X-CSRF-Token": dash.csrf, **headers},
    )


async def test_a_file_uploaded_in_compose_is_scheduled_by_its_id_and_shown(signed_in):
    answer = await _upload(signed_in, media_files.png(), "ürün.png")
    assert answer.status_code == 201, answer.text
    stored = answer.json()
    assert (stored["type"], stored["mime_type"], stored["filename"]) == (
        "image",
        "image/png",
        "ürün.png",
    )
    assert stored["url"] == f"/dashboard/files/{stored['id']}"
    form = {**BASE, "csrf": signed_in.csrf, "kind": "media", "media_type": "image",
            "media_id": stored["id"], "caption": "Yeni ürün", "filename": "ignored.pdf"}  # fmt: skip
    page = await signed_in.browser.post("/compose", data=form)
    assert page.status_code == 303, page.text
    message_id = page.headers["location"].split("created=")[1]
    message = await signed_in.store.get(message_id)
    assert message is not None
    assert message.content == {
        "type": "image",
        "image": {"id": stored["id"], "caption": "Yeni ürün"},
    }
    shown = await signed_in.browser.get(f"/message/{message_id}")
    assert f'<img src="/dashboard/files/{stored["id"]}"' in shown.text
    served = await signed_in.browser.get(stored["url"])
    assert served.status_code == 200
    assert served.content == media_files.png()
    assert served.headers["content-type"] == "image/png"
    assert served.headers["content-disposition"].startswith("inline;")
    assert served.headers["x-content-type-options"] == "nosniff"


async def test_documents_are_downloads_and_files_need_a_session(signed_in, dash):
    stored = (await _upload(signed_in, media_files.pdf(), "fatura.pdf")).json()
    served = await signed_in.browser.get(stored["url"])
    assert served.headers["content-disposition"] == "attachment; filename*=UTF-8''fatura.pdf"
    import httpx

    async with httpx.AsyncClient(base_url=dash.url) as stranger:
        refused = await stranger.get(stored["url"])
    assert refused.status_code in (302, 303, 401)
    assert refused.content != media_files.pdf()


async def test_a_refused_file_says_why_in_the_readers_language(signed_in):
    answer = await _upload(signed_in, media_files.gif())
    assert answer.status_code == 422
    english = answer.json()
    assert "it is image/gif" in english["detail"]
    assert english["text"].startswith("This file cannot be sent: must be a file type")
    signed_in.browser.cookies.set("lang", "tr")
    turkish = (await _upload(signed_in, media_files.gif())).json()
    assert turkish["text"].startswith("Bu dosya gönderilemez:")
    too_big = await _upload(signed_in, media_files.jpeg(5 * 1024 * 1024 + 1))
    assert too_big.status_code == 413


async def test_an_upload_without_the_csrf_token_is_refused(signed_in):
    answer = await signed_in.browser.post(
        "/dashboard/api/media", files={"file": ("a.png", media_files.png(), "image/png")}
    )
    assert answer.status_code == 403
    assert signed_in.store  # nothing to read back: the file was never stored


async def test_a_place_and_a_missing_upload_in_compose(signed_in):
    place = {**BASE, "csrf": signed_in.csrf, "kind": "location", "latitude": "41,0369",
             "longitude": "28.985", "place_name": "Mağaza"}  # fmt: skip
    page = await signed_in.browser.post("/compose", data=place)
    assert page.status_code == 303, page.text
    message = await signed_in.store.get(page.headers["location"].split("created=")[1])
    assert message is not None
    assert message.content == {
        "type": "location",
        "location": {"latitude": 41.0369, "longitude": 28.985, "name": "Mağaza"},
    }
    bad = {**place, "latitude": "north"}
    page = await signed_in.browser.post("/compose", data=bad)
    assert page.status_code == 422
    assert 'id="latitude"' in page.text
    assert 'name="latitude" id="latitude" value="north"' in page.text
    nothing = {**BASE, "csrf": signed_in.csrf, "kind": "media", "media_type": "document"}
    page = await signed_in.browser.post("/compose", data=nothing)
    assert page.status_code == 422
    assert "document" in page.text
