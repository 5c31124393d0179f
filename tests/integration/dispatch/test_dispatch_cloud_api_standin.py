"""CloudApiSender over real HTTP against the stand-in Cloud API on loopback."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from whatsapp_scheduler import testing
from whatsapp_scheduler.core import errors
from whatsapp_scheduler.sandbox import StandIn
from whatsapp_scheduler.whatsapp import cloud_api

DUE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOKEN = "dispatch-test-token"
NUMBER_ID = "106540352242922"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    # Generous: these sends must be answered, and the first request of a cold process can
    # take longer than half a second. Only the hang test wants a timeout (it has its own).
    timeout = aiohttp.ClientTimeout(total=10, connect=5)
    async with aiohttp.ClientSession(timeout=timeout) as client:
        yield client


def make_sender(
    session: aiohttp.ClientSession, url: str, token: str = TOKEN
) -> cloud_api.CloudApiSender:
    return cloud_api.CloudApiSender(
        session, access_token=token, phone_number_id=NUMBER_ID, graph_api_url=url
    )


async def test_text_message_is_accepted(standin: StandIn, session) -> None:
    sender = make_sender(session, standin.url)
    message = testing.make_message("c1", DUE, recipient="+16505551234", body="Merhaba")
    receipt = await sender.send(message)
    assert receipt.wamid.startswith("wamid.")
    assert receipt.wa_id == "16505551234"
    (request,) = standin.sends_for("c1")
    assert request.body["text"] == {"body": "Merhaba"}
    assert request.body["to"] == "+16505551234"
    assert request.wamid == receipt.wamid


async def test_template_message_is_accepted(standin: StandIn, session) -> None:
    template = {"name": "reminder", "language": {"code": "tr"}}
    message = testing.make_message("c2", DUE, template=template)
    await make_sender(session, standin.url).send(message)
    (request,) = standin.sends_for("c2")
    assert request.body["type"] == "template"
    assert request.body["template"]["name"] == "reminder"


async def test_permanent_code(standin: StandIn, session) -> None:
    standin.fail_next(1, 131026)
    with pytest.raises(errors.PermanentFailure) as caught:
        await make_sender(session, standin.url).send(testing.make_message("c3", DUE))
    assert caught.value.code == 131026


async def test_wrong_token_is_account_failure(standin: StandIn, session) -> None:
    with pytest.raises(errors.AccountFailure) as caught:
        await make_sender(session, standin.url, token="wrong").send(testing.make_message("c4", DUE))
    assert caught.value.code == 190


async def test_throughput_limit_is_rate_limited(standin: StandIn, session) -> None:
    standin.fail_next(1, 130429)
    with pytest.raises(errors.RateLimited) as caught:
        await make_sender(session, standin.url).send(testing.make_message("c5", DUE))
    assert caught.value.code == 130429


async def test_5xx_with_graph_body_is_temporary(standin: StandIn, session) -> None:
    standin.set_faults(error_rate=1.0, error_body=True)
    with pytest.raises(errors.TemporaryFailure) as caught:
        await make_sender(session, standin.url).send(testing.make_message("c6", DUE))
    assert not isinstance(caught.value, errors.AmbiguousFailure)
    assert caught.value.code == 2


async def test_5xx_without_body_is_ambiguous(standin: StandIn, session) -> None:
    standin.set_faults(error_rate=1.0, error_body=False)
    with pytest.raises(errors.AmbiguousFailure) as caught:
        await make_sender(session, standin.url).send(testing.make_message("c7", DUE))
    assert caught.value.http_status == 500


async def test_hang_is_ambiguous(standin: StandIn) -> None:
    import asyncio

    standin.set_faults(hang_rate=1.0, hang_seconds=60.0)  # far beyond the client's timeout
    timeout = aiohttp.ClientTimeout(total=0.5, connect=5)
    async with aiohttp.ClientSession(timeout=timeout) as short:
        with pytest.raises(errors.AmbiguousFailure):
            await make_sender(short, standin.url).send(testing.make_message("c8", DUE))
    # The stand-in serves in this loop: on a slow machine it may log the request only after
    # the client gave up. Wait for it (the point: a timed-out request may still have arrived).
    deadline = asyncio.get_running_loop().time() + 10
    while not standin.sends_for("c8"):
        assert asyncio.get_running_loop().time() < deadline, "the request never arrived"
        await asyncio.sleep(0.01)
    (request,) = standin.sends_for("c8")
    assert request.fault == "hang"
    assert request.wamid is not None


async def test_connection_refused_is_not_ambiguous(session) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = make_sender(session, f"http://127.0.0.1:{port}")
    with pytest.raises(errors.TemporaryFailure) as caught:
        await sender.send(testing.make_message("c9", DUE))
    assert not isinstance(caught.value, errors.AmbiguousFailure)


async def test_create_session_uses_settings() -> None:
    from whatsapp_scheduler import settings

    config = settings.Settings(
        _env_file=None,
        send_concurrency=7,
        request_timeout_seconds=3,
        connect_timeout_seconds=1,
    )
    session = cloud_api.create_session(config)
    try:
        assert session.connector is not None
        assert session.connector.limit == 7
        assert session.timeout.total == 3
        assert session.timeout.connect == 1
    finally:
        await session.close()


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_a_file_uploads_and_metas_refusals_raise_by_their_code(
    standin: StandIn, session
) -> None:
    from tests import media_files

    sender = make_sender(session, standin.url)
    data = media_files.pdf()
    media_id = await sender.upload_media(
        _chunks(data[:100], data[100:]), "application/pdf", "f.pdf"
    )
    (upload,) = standin.media.uploads.values()
    assert (upload.media_id, upload.data, upload.mime, upload.filename) == (
        media_id, data, "application/pdf", "f.pdf",
    )  # fmt: skip
    with pytest.raises(errors.AccountFailure) as wrong_token:  # 190: the number's token
        await make_sender(session, standin.url, "wrong").upload_media(
            _chunks(data), "application/pdf", None
        )
    assert wrong_token.value.code == 190
    with pytest.raises(errors.PermanentFailure) as refused:  # a type WhatsApp does not take
        await sender.upload_media(_chunks(media_files.gif()), "image/gif", "a.gif")
    assert refused.value.code == 131053


async def test_an_upload_that_gets_no_answer_is_tried_again_later(session) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sender = make_sender(session, f"http://127.0.0.1:{port}")  # nothing listens
    with pytest.raises(errors.TemporaryFailure, match="could not connect"):
        await sender.upload_media(_chunks(b"%PDF-1.4"), "application/pdf", None)
