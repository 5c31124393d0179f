"""The stand-in's media endpoint over real HTTP (docs/sandbox.md, "Media"): an upload answers
Meta's `{"id": ...}`; a send names that id; an id the number never got, or one forgotten (as
Meta's expire), is Meta's 131053; auth and malformed uploads answer Meta's codes."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests import media_files
from whatsapp_scheduler.sandbox import StandIn

TOKEN = "test-token"
PHONE_ID = "106540352242922"
IMAGE = {"messaging_product": "whatsapp", "to": "+16505551234", "type": "image"}


async def _upload(
    http: aiohttp.ClientSession,
    standin: StandIn,
    data: bytes,
    mime: str = "image/jpeg",
    *,
    token: str | None = TOKEN,
    product: str | None = "whatsapp",
    phone_id: str = PHONE_ID,
) -> tuple[int, Any]:
    form = aiohttp.FormData()
    if product is not None:
        form.add_field("messaging_product", product)
    form.add_field("file", data, content_type=mime, filename="a.bin")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{standin.url}/v23.0/{phone_id}/media"
    async with http.post(url, data=form, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_an_uploaded_id_can_be_sent_and_an_unknown_one_is_131053(
    standin: StandIn, http, send
) -> None:
    status, answer = await _upload(http, standin, media_files.jpeg())
    assert status == 200, answer
    assert set(answer) == {"id"}
    assert answer["id"].isdigit()
    status, reply = await send(standin, {**IMAGE, "image": {"id": answer["id"], "caption": "c"}})
    assert status == 200, reply
    status, reply = await send(standin, {**IMAGE, "image": {"id": "1479537139650973"}})
    assert (status, reply["error"]["code"]) == (400, 131053)


async def test_forgotten_ids_are_131053_as_expired_ones(standin: StandIn, http, send) -> None:
    _, answer = await _upload(http, standin, media_files.jpeg())
    async with http.post(f"{standin.url}/_sandbox/media/forget") as resp:
        assert (await resp.json()) == {"forgotten": 1}
    status, reply = await send(standin, {**IMAGE, "image": {"id": answer["id"]}})
    assert (status, reply["error"]["code"]) == (400, 131053)


async def test_the_inbox_serves_an_upload(standin: StandIn, http) -> None:
    data = media_files.pdf()
    _, answer = await _upload(http, standin, data, "application/pdf")
    async with http.get(f"{standin.url}/_sandbox/media/{answer['id']}") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("application/pdf")
        assert await resp.read() == data


async def test_uploads_are_refused_with_metas_codes(standin: StandIn, http) -> None:
    data = media_files.jpeg()
    assert (await _upload(http, standin, data, token=None))[1]["error"]["code"] == 104
    assert (await _upload(http, standin, data, token="wrong"))[1]["error"]["code"] == 190
    status, answer = await _upload(http, standin, data, product=None)
    assert (status, answer["error"]["code"]) == (400, 100)
    status, answer = await _upload(http, standin, media_files.gif(), "image/gif")
    assert (status, answer["error"]["code"]) == (400, 131053)
    assert standin.media.uploads == {}


async def test_malformed_uploads_are_metas_100_and_unknown_files_404(
    standin: StandIn, http
) -> None:
    url = f"{standin.url}/v23.0/{PHONE_ID}/media"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with http.post(url, json={"messaging_product": "whatsapp"}, headers=headers) as resp:
        assert (resp.status, (await resp.json())["error"]["code"]) == (400, 100)  # not multipart
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("messaging_product", "whatsapp")
    form.add_field("type", "image/jpeg")
    async with http.post(url, data=form, headers=headers) as resp:
        answer = await resp.json()
        assert (resp.status, answer["error"]["code"]) == (400, 100)  # no file
        assert "file" in answer["error"]["error_data"]["details"]
    async with http.get(f"{standin.url}/_sandbox/media/404404") as resp:
        assert resp.status == 404
    assert standin.media.uploads == {}


async def test_the_oldest_uploads_go_when_the_shelf_is_full(
    standin: StandIn, http, monkeypatch
) -> None:
    from whatsapp_scheduler.sandbox import media as shelf

    monkeypatch.setattr(shelf, "MAX_TOTAL", 5000)
    ids = [(await _upload(http, standin, media_files.jpeg(2000)))[1]["id"] for _ in range(3)]
    assert list(standin.media.uploads) == ids[1:]  # the first was dropped to stay under 5,000
    assert not standin.media.known(PHONE_ID, ids[0])
    assert standin.media.known(PHONE_ID, ids[2])
    assert not standin.media.known("999", ids[2])  # another number never got it
