"""Uploaded files end to end (docs/media.md): POST /media, a message naming our id, the real
dispatcher uploading the file to the stand-in's `/{phone_number_id}/media` before the send and
sending Meta's id; the id cached for the next message; a 131053 (Meta lost the id) answered
with a new upload and a resend within the same attempt, never a failed message."""

from __future__ import annotations

from tests import media_files
from tests.integration.lifecycle.conftest import NUMBER_ID, due_now

PHONE = "+905551230101"


async def _upload(env, data: bytes, name: str) -> str:
    answer = await env.client.post(
        "/media", files={"file": (name, data, "application/octet-stream")}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def test_an_uploaded_file_is_sent_by_metas_id_uploaded_once_per_number(live):
    async with live() as env:
        data = media_files.pdf(size=600 * 1024)
        ours = await _upload(env, data, "Fatura-2026-001.pdf")
        doc = {"id": ours, "filename": "Fatura-2026-001.pdf", "caption": "Faturanız"}
        first = {"id": "f-1", "alici": PHONE, "type": "document", "document": doc, **due_now()}
        assert (await env.client.post("/schedule", json=first)).status_code == 200
        await env.dispatch()
        await env.wait_status("f-1", "read")
        (upload,) = env.standin.media.uploads.values()
        assert (upload.phone_number_id, upload.mime, upload.data) == (
            NUMBER_ID,
            "application/pdf",
            data,
        )
        assert upload.filename == "Fatura-2026-001.pdf"
        (sent,) = env.standin.sends_for("f-1")
        assert sent.body["document"] == doc | {"id": upload.media_id}  # Meta's id, not ours
        stored = await env.store.get("f-1")
        assert stored is not None
        assert stored.content is not None
        assert stored.content["document"]["id"] == ours  # the message keeps our id
        # A second message of the same file: the cached id, no second upload.
        second = first | {"id": "f-2", **due_now()}
        assert (await env.client.post("/schedule", json=second)).status_code == 200
        await env.dispatch()
        await env.wait_status("f-2", "read")
        assert env.standin.media.requests == 1
        assert env.standin.sends_for("f-2")[0].body["document"]["id"] == upload.media_id


async def test_a_lost_meta_id_is_uploaded_again_and_the_message_sent(live):
    async with live() as env:
        ours = await _upload(env, media_files.jpeg(), "urun.jpg")
        image = {"id": ours, "caption": "Yeni ürün"}
        first = {"id": "i-1", "alici": PHONE, "type": "image", "image": image, **due_now()}
        assert (await env.client.post("/schedule", json=first)).status_code == 200
        await env.dispatch()
        await env.wait_status("i-1", "read")
        assert env.standin.media.forget() == 1  # Meta no longer knows the cached id
        second = first | {"id": "i-2", **due_now()}
        assert (await env.client.post("/schedule", json=second)).status_code == 200
        await env.dispatch()
        body = await env.wait_status("i-2", "read")
        refused, accepted = env.standin.sends_for("i-2")
        assert (refused.status, refused.error_code, accepted.status) == (400, 131053, 200)
        assert env.standin.media.requests == 2
        assert accepted.body["image"]["id"] == next(iter(env.standin.media.uploads))
        assert [a["outcome"] for a in body["attempt_history"]] == ["sent"]  # one attempt


async def test_metas_own_ids_pass_through_untouched(live):
    async with live() as env:
        import aiohttp

        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("file", media_files.webp(), content_type="image/webp", filename="s.webp")
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{env.standin.url}/v23.0/{NUMBER_ID}/media",
                data=form,
                headers={"Authorization": f"Bearer {env.settings.access_token.get_secret_value()}"},
            ) as resp,
        ):
            meta_id = (await resp.json())["id"]
        request = {
            "id": "s-1",
            "alici": PHONE,
            "type": "sticker",
            "sticker": {"id": meta_id},
            **due_now(),
        }
        assert (await env.client.post("/schedule", json=request)).status_code == 200
        await env.dispatch()
        await env.wait_status("s-1", "read")
        assert env.standin.sends_for("s-1")[0].body["sticker"] == {"id": meta_id}
        assert env.standin.media.requests == 1  # only the test's own upload


async def test_the_cli_uploads_a_file_given_as_a_path_and_sends_it(live, tmp_path):
    import asyncio

    invoice = tmp_path / "Fatura 2026-001.pdf"
    invoice.write_bytes(media_files.pdf())
    async with live() as env:

        def run(*argv: str) -> tuple[int, str, str]:
            answer: tuple[int, str, str] = env.cli(*argv)
            return answer

        code, out, err = await asyncio.to_thread(run, "upload", str(invoice))
        assert code == 0, err
        assert "document (application/pdf" in out
        local = due_now()
        at = ("--to", PHONE, "--at", f"{local['tarih']} {local['saat'][:5]}")
        code, out, err = await asyncio.to_thread(
            run,
            "schedule",
            *at,
            "--id",
            "cli-doc",
            "--document",
            str(invoice),
            "--caption",
            "Fatura",
        )
        assert code == 0, err
        stored = await env.store.get("cli-doc")
        assert stored is not None
        assert stored.content is not None
        document = stored.content["document"]
        assert document["id"].startswith("med_")
        assert (document["filename"], document["caption"]) == ("Fatura 2026-001.pdf", "Fatura")
        await env.dispatch()
        await env.wait_status("cli-doc", "read")
        (upload,) = env.standin.media.uploads.values()
        assert upload.data == invoice.read_bytes()
        # A path that is no file, and a file Meta would refuse: told, nothing scheduled.
        code, _, err = await asyncio.to_thread(run, "schedule", *at, "--image", "./nope.jpg")
        assert code == 2
        assert "'./nope.jpg' is neither an http(s) link nor a file here" in err
        gif = tmp_path / "a.gif"
        gif.write_bytes(media_files.gif())
        code, _, err = await asyncio.to_thread(run, "schedule", *at, "--image", str(gif))
        assert code == 1
        assert "image/gif" in err


async def test_files_of_messages_due_soon_are_uploaded_ahead(live):
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from tests.integration.lifecycle.conftest import ZONE
    from whatsapp_scheduler import bootstrap
    from whatsapp_scheduler.dispatch import media as dispatch_media

    async with live() as env:
        ours = await _upload(env, media_files.jpeg(), "a.jpg")
        later = (datetime.now(UTC) + timedelta(hours=2)).astimezone(ZoneInfo(ZONE))
        soon = {"tarih": later.date().isoformat(), "saat": later.strftime("%H:%M:%S")}
        request = {"id": "p-1", "alici": PHONE, "type": "image", "image": {"id": ours}, **soon}
        assert (await env.client.post("/schedule", json=request)).status_code == 200
        d = await bootstrap.build_dispatcher(env.settings, env.store)
        try:
            (sender,) = d.sender_objects().values()
            assert isinstance(sender, dispatch_media.UploadingSender)
            far = await sender.uploads.preupload({"default": sender.inner}, timedelta(seconds=0))
            assert (far, env.standin.media.requests) == (0, 0)  # not due within the horizon
            done = await sender.uploads.preupload({"default": sender.inner}, timedelta(days=1))
            assert (done, env.standin.media.requests) == (1, 1)
            cached = await env.store.meta_media_id(ours, NUMBER_ID, datetime.now(UTC))
            assert cached == next(iter(env.standin.media.uploads))
        finally:
            await d.stop()
