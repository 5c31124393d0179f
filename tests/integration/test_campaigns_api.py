"""Campaigns over real HTTP on a real SQLite file (docs/campaigns.md): every recipient built
and validated first (placeholders, consent, past times), dry runs that store nothing, each
contact's own time zone with a DST gap, pacing, pause / resume / cancel in one statement,
the funnel, the recipients' pages and the CSV export, per-sender keys."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tests import media_files
from tests.integration.test_api_keys import add_sender, as_key, make_key
from whatsapp_scheduler.store import tables

A, B, C, D = "+905551110001", "+12025550102", "+905551110003", "+905551110004"


async def _contacts(api: Any) -> None:
    answer = await api.post(
        "/contacts",
        json={
            "contacts": [
                {"phone": A, "name": "Ayşe", "timezone": "Europe/Istanbul", "labels": ["vip"],
                 "attributes": {"appointment": "10:30"}},
                {"phone": B, "name": "Bob", "timezone": "America/New_York", "labels": ["vip"]},
                {"phone": C, "name": "Cem", "labels": ["vip"], "attributes": {"appointment": "11:00"}},
                {"phone": D, "name": "Deniz"},
            ]
        },
    )  # fmt: skip
    assert answer.json()["stored"] == 4
    opt_out = await api.put(f"/contacts/{C}/consent", json={"consent": "opted_out"})
    assert opt_out.status_code == 200


def _campaign(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "reminder",
        "mesaj": "Merhaba {{name}}, randevunuz {{attributes.appointment}}",
        "audience": {"labels": ["vip"]},
        "tarih": "2026-03-02",
        "saat": "09:00",
        "timezone": "Europe/Istanbul",
        "local_time": True,
    }
    return body | extra


def _count_messages(api: Any) -> int:
    with api.store._engine.begin() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(tables.messages)).scalar())


async def test_a_dry_run_answers_who_and_why_and_stores_nothing(api):
    await _contacts(api)
    answer = await api.post("/campaigns", json=_campaign(dry_run=True))
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert (data["recipients"], data["refused"], data["stored"]) == (1, 2, False)
    assert data["reasons"] == {"missing_field": 1, "opted_out": 1}
    why = {r["phone"]: (r["reason"], r["field"]) for r in data["refusals"]}
    assert why == {B: ("missing_field", "attributes.appointment"), C: ("opted_out", "alici")}
    assert _count_messages(api) == 0
    assert (await api.get("/campaigns")).json() == []
    assert (await api.get(f"/campaigns/{data['id']}")).status_code == 404


async def test_local_time_in_each_zone_with_defaults_and_a_dst_gap(api):
    await _contacts(api)
    body = _campaign(mesaj="Merhaba {{name}}, randevunuz {{attributes.appointment|yakında}}")
    data = (await api.post("/campaigns", json=body)).json()
    assert (data["recipients"], data["refused"], data["stored"]) == (2, 1, True)
    assert data["status"] == "scheduled"
    assert data["counts"]["queued"] == 2
    listed = (await api.get(f"/campaigns/{data['id']}/messages")).json()
    due = {m["alici"]: (m["scheduled_at"], m["timezone"], m["saat"]) for m in listed}
    assert due == {
        A: ("2026-03-02T06:00:00Z", "Europe/Istanbul", "09:00:00"),  # UTC+3
        B: ("2026-03-02T14:00:00Z", "America/New_York", "09:00:00"),  # UTC-5
    }
    stored = {m.recipient: m for m in [await api.store.get(x["id"]) for x in listed]}
    assert stored[A].body == "Merhaba Ayşe, randevunuz 10:30"
    assert stored[B].body == "Merhaba Bob, randevunuz yakında"
    assert stored[A].campaign_id == data["id"]
    # 2026-03-08 02:30 does not exist in New York (clocks go 02:00 -> 03:00).
    gap = _campaign(
        mesaj="hi", audience={"phones": [B]}, tarih="2026-03-08", saat="02:30", dry_run=True
    )
    shifted = (await api.post("/campaigns", json=gap)).json()
    assert shifted["dst_shifted"] == 1
    assert shifted["first_due_at"] == "2026-03-08T07:00:00Z"  # 03:00 EDT
    # Absolute: the campaign's zone for everyone, and its own gap is a refusal naming saat.
    absolute = _campaign(mesaj="hi", local_time=False, timezone="America/New_York",
                         tarih="2026-03-08", saat="02:30")  # fmt: skip
    refused = await api.post("/campaigns", json=absolute)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "saat"


async def test_pacing_spreads_the_recipients(api):
    phones = ["+905551110011", "+905551110012", "+905551110013"]
    body = _campaign(mesaj="hi", audience={"phones": phones}, local_time=False, pacing_minutes=10)
    data = (await api.post("/campaigns", json=body)).json()
    listed = (await api.get(f"/campaigns/{data['id']}/messages")).json()
    assert [m["scheduled_at"] for m in listed] == [
        "2026-03-02T06:00:00Z",
        "2026-03-02T06:05:00Z",
        "2026-03-02T06:10:00Z",
    ]
    assert (data["first_due_at"], data["last_due_at"]) == (
        "2026-03-02T06:00:00Z",
        "2026-03-02T06:10:00Z",
    )


async def test_bad_campaigns_are_refused_before_anything_is_stored(api):
    await _contacts(api)

    async def field(**extra: Any) -> str:
        answer = await api.post("/campaigns", json=_campaign(**extra))
        assert answer.status_code == 422, answer.text
        return str(answer.json()["errors"][0]["field"])

    assert await field(audience={"labels": ["nobody"]}) == "audience"
    assert await field(audience={}) == "audience"
    assert await field(mesaj="hi {{surname}}") == "mesaj"
    assert await field(template={"name": "x", "language": "tr"}) == "mesaj"  # both given
    assert await field(colour="red") == "colour"
    assert await field(audience={"labels": ["vip"], "everyone": True}) == "audience.everyone"
    assert await field(timezone="Mars/Olympus") == "timezone"
    assert await field(gonderen="nosuch") == "gonderen"
    assert _count_messages(api) == 0
    past = (await api.post("/campaigns", json=_campaign(tarih="2026-02-01", mesaj="hi"))).json()
    assert past["stored"] is False
    assert past["reasons"] == {"time": 3}  # past, before any other check


async def test_pause_resume_cancel_and_the_funnel(api, clock):
    await _contacts(api)
    data = (await api.post("/campaigns", json=_campaign(mesaj="hi {{name}}"))).json()
    cid = data["id"]
    paused = (await api.post(f"/campaigns/{cid}/pause")).json()
    assert (paused["changed"], paused["status"], paused["counts"]["paused"]) == (2, "paused", 2)
    with api.store._engine.begin() as conn:
        claimable = conn.execute(
            sa.select(sa.func.count())
            .select_from(tables.messages)
            .where(tables.messages.c.status == "queued")
        ).scalar()
    assert claimable == 0  # the dispatcher claims only queued messages
    resumed = (await api.post(f"/campaigns/{cid}/resume")).json()
    assert (resumed["changed"], resumed["status"]) == (2, "scheduled")
    # One is sent and read, the other failed at Meta (131049): the funnel counts both.
    first, second = [m["id"] for m in (await api.get(f"/campaigns/{cid}/messages")).json()]
    sent = datetime(2026, 3, 2, 6, 0, 1, tzinfo=UTC)
    with api.store._engine.begin() as conn:
        m = tables.messages
        conn.execute(sa.update(m).where(m.c.id == first).values(status="read", sent_at=sent))
        conn.execute(
            sa.update(m).where(m.c.id == second).values(status="failed", last_error_code=131049)
        )
    funnel = (await api.get(f"/campaigns/{cid}")).json()
    assert funnel["status"] == "completed"
    assert (funnel["counts"]["read"], funnel["counts"]["failed"]) == (1, 1)
    assert funnel["failed"][0]["code"] == 131049
    assert funnel["failed"][0]["explanation"]
    assert funnel["first_sent_at"] == "2026-03-02T06:00:01Z"
    only_failed = await api.get(f"/campaigns/{cid}/messages", params={"status": "failed"})
    assert [m["id"] for m in only_failed.json()] == [second]
    assert (await api.get(f"/campaigns/{cid}/messages", params={"status": "x"})).status_code == 422
    page = await api.get(f"/campaigns/{cid}/messages", params={"limit": 1, "cursor": first})
    assert [m["id"] for m in page.json()] == [second]
    # A second campaign is cancelled whole: reason campaign_cancelled.
    clock.advance(1)
    other = (await api.post("/campaigns", json=_campaign(mesaj="again", name="b"))).json()
    cancelled = (await api.post(f"/campaigns/{other['id']}/cancel")).json()
    assert (cancelled["changed"], cancelled["status"]) == (2, "cancelled")
    assert cancelled["cancelled"] == {"campaign_cancelled": 2}
    assert (await api.post(f"/campaigns/{other['id']}/resume")).status_code == 409
    listed = (await api.get("/campaigns")).json()
    assert [c["id"] for c in listed] == [other["id"], cid]
    export = await api.get(f"/campaigns/{cid}/export.csv")
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [(r["id"], r["status"], r["error_code"]) for r in rows] == [
        (first, "read", ""),
        (second, "failed", "131049"),
    ]


async def test_a_key_of_another_sender_sees_no_campaign(api):
    await _contacts(api)
    cid = (await api.post("/campaigns", json=_campaign(mesaj="hi"))).json()["id"]
    add_sender(api, "shop", "111111")
    shop = as_key(api, await make_key(api, "shop-app", "write", ["shop"]))
    async with shop:
        assert (await shop.get(f"/campaigns/{cid}")).status_code == 404
        assert (await shop.post(f"/campaigns/{cid}/cancel")).status_code == 404
        assert (await shop.get("/campaigns")).json() == []
        refused = await shop.post("/campaigns", json=_campaign(mesaj="hi"))
        assert refused.json()["errors"][0]["field"] == "gonderen"
    reader = as_key(api, await make_key(api, "reader", "read"))
    async with reader:
        assert (await reader.post(f"/campaigns/{cid}/pause")).status_code == 403
        assert (await reader.get(f"/campaigns/{cid}")).status_code == 200


def _cli(api: Any, *argv: str) -> tuple[int, str, str]:
    from tests.conftest import API_KEY
    from whatsapp_scheduler import cli
    from whatsapp_scheduler.cli import book

    args = cli._parser().parse_args(
        ["campaigns", *argv, "--url", str(api.base_url), "--api-key", API_KEY]
    )
    out, err = io.StringIO(), io.StringIO()
    code = book.run(args, out, err)
    return code, out.getvalue(), err.getvalue()


async def test_cli_create_show_pause_cancel_export(api, tmp_path):
    import asyncio

    await _contacts(api)
    create = ["create", "--name", "cli", "--at", "2026-03-02 09:00", "--label", "vip"]
    create += ["--text", "hi {{name}}", "--local-time", "--timezone", "Europe/Istanbul"]
    code, out, err = await asyncio.to_thread(_cli, api, *create, "--dry-run")
    assert code == 0
    assert out.startswith("would send cmp_")
    assert "2 recipients, 1 refused" in out
    assert "opted_out" in err
    assert _count_messages(api) == 0
    code, out, _ = await asyncio.to_thread(_cli, api, *create)
    cid = out.split()[1].rstrip(":")
    code, out, _ = await asyncio.to_thread(_cli, api, "show", cid)
    assert code == 0
    assert "scheduled" in out
    assert "queued 2" in out
    code, out, _ = await asyncio.to_thread(_cli, api, "pause", cid)
    assert out.strip() == f"pause: 2 messages; {cid} is paused"
    code, out, _ = await asyncio.to_thread(_cli, api, "cancel", cid)
    assert out.strip() == f"cancel: 2 messages; {cid} is cancelled"
    code, out, _ = await asyncio.to_thread(_cli, api, "list")
    assert out.startswith(f"{cid}\tcancelled\tcli")
    target = tmp_path / "out.csv"
    code, _, _ = await asyncio.to_thread(_cli, api, "export", cid, "--out", str(target))
    assert code == 0
    assert len(target.read_text(encoding="utf-8-sig").splitlines()) == 3
    code, _, err = await asyncio.to_thread(_cli, api, "show", "cmp_nothing")
    assert code == 1
    assert "404" in err


async def test_templates_are_checked_against_the_catalogue_for_every_recipient(
    make_settings, clock, sqlite_url
):
    from tests.integration.conftest import served_api
    from tests.integration.test_templates_store_contract import _t
    from whatsapp_scheduler.store import sql

    seeded = sql.SqlMessageStore.from_url(sqlite_url)
    await seeded.replace_templates(
        "2001",
        [_t("reminder"), _t("rejected_one", status="REJECTED"), _t("promo", category="MARKETING")],
    )
    await seeded.close()
    settings = make_settings(
        database_url=sqlite_url,
        phone_number_id="106540352242922",
        waba_id="2001",
        access_token="token-of-the-default-number",
    )
    async with served_api(settings, clock, sqlite_url) as api:
        await _contacts(api)
        params = ["{{name}}", "{{attributes.appointment|yakında}}"]
        body = _campaign(
            mesaj=None, template={"name": "reminder", "language": "tr", "parameters": params}
        )
        data = (await api.post("/campaigns", json=body)).json()
        assert (data["recipients"], data["reasons"]) == (2, {"opted_out": 1}), data
        listed = (await api.get(f"/campaigns/{data['id']}/messages")).json()
        stored = [await api.store.get(m["id"]) for m in listed]
        assert [m.category for m in stored] == ["UTILITY", "UTILITY"]
        texts = [p["text"] for m in stored for p in m.template["components"][0]["parameters"]]
        assert texts == ["Bob", "yakında", "Ayşe", "10:30"]  # in number order: +1... first
        rejected = _campaign(
            mesaj=None, template={"name": "rejected_one", "language": "tr", "parameters": params}
        )
        refused = (await api.post("/campaigns", json=rejected)).json()
        assert refused["stored"] is False
        assert refused["reasons"] == {"template": 3}
        wrong = _campaign(
            mesaj=None, template={"name": "reminder", "language": "tr", "parameters": ["{{name}}"]}
        )
        assert (await api.post("/campaigns", json=wrong)).json()["reasons"] == {"template": 3}


async def test_a_campaign_sends_a_file_with_each_contacts_caption(api):
    await _contacts(api)
    upload = await api.post(
        "/media", files={"file": ("katalog.png", media_files.png(), "application/octet-stream")}
    )
    assert upload.status_code == 201, upload.text
    photo = upload.json()["id"]
    body = _campaign(type="image", image={"id": photo, "caption": "Merhaba {{name}}"})
    del body["mesaj"]
    data = (await api.post("/campaigns", json=body)).json()
    assert (data["recipients"], data["refused"], data["stored"]) == (2, 1, True), data
    assert data["spec"]["content"] == {
        "type": "image",
        "image": {"id": photo, "caption": "Merhaba {{name}}"},
    }
    listed = (await api.get(f"/campaigns/{data['id']}/messages")).json()
    stored = {m.recipient: m for m in [await api.store.get(x["id"]) for x in listed]}
    assert stored[A].content == {"type": "image", "image": {"id": photo, "caption": "Merhaba Ayşe"}}
    assert stored[B].content == {"type": "image", "image": {"id": photo, "caption": "Merhaba Bob"}}
    assert stored[A].body is None

    by_link = _campaign(
        type="document",
        document={"link": "https://cdn.example.com/{{attributes.appointment}}.pdf",
                  "filename": "randevu.pdf"},
        dry_run=True,
    )  # fmt: skip
    del by_link["mesaj"]
    dry = (await api.post("/campaigns", json=by_link)).json()
    assert (dry["recipients"], dry["reasons"]) == (1, {"missing_field": 1, "opted_out": 1}), dry


async def test_a_campaigns_broken_file_is_refused_naming_the_field_and_stores_nothing(api):
    await _contacts(api)

    async def refused(**extra: Any) -> tuple[int, str]:
        body = {k: v for k, v in _campaign().items() if k != "mesaj"} | extra
        answer = await api.post("/campaigns", json=body)
        data = answer.json()
        if answer.status_code == 422:
            return 422, str(data["errors"][0]["field"])
        assert data["recipients"] == 0, (extra, data["refusals"])
        found = {r["field"] for r in data["refusals"] if r["reason"] != "opted_out"}
        return answer.status_code, ",".join(sorted(found))

    assert await refused(type="image", image={"link": "ftp://x.example/a.jpg"}) == (
        200,
        "image.link",
    )  # every recipient refused with the rule (nothing to store)
    assert await refused(type="image", image={"id": "med_" + "0" * 32}) == (200, "image.id")
    assert await refused(image={"link": "https://x.example/a.jpg"}) == (200, "type")
    both = await refused(mesaj="hi", type="image", image={"link": "https://x.example/a.jpg"})
    assert both == (422, "mesaj")
    unknown = await refused(type="image", image={"link": "https://x.example/{{surname}}"})
    assert unknown == (422, "image")
    assert _count_messages(api) == 0


async def test_the_funnel_counts_replies_and_the_median_time_to_read(api):
    """Meta's webhooks (signed, real HTTP): read receipts 60 s and 600 s after the sends give
    a median time to read; the contact's message back is a reply, counted once; a contact
    who writes before the send, or another sender's number, replies to nothing."""
    from tests.integration.test_api_webhook import _envelope, _post

    await _contacts(api)
    cid = (await api.post("/campaigns", json=_campaign(mesaj="hi {{name}}"))).json()["id"]
    first, second = [m["id"] for m in (await api.get(f"/campaigns/{cid}/messages")).json()]
    sent = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)  # an hour before the clock: the
    # webhooks' times are then taken as Meta gives them (a future one would be replaced)
    with api.store._engine.begin() as conn:
        m = tables.messages
        for i, mid in enumerate((first, second)):
            values = {"status": "sent", "sent_at": sent, "wamid": f"wamid.c{i}"}
            conn.execute(sa.update(m).where(m.c.id == mid).values(**values))
    number = ""  # this service's default sender has no number: a webhook names none

    def at(seconds: int) -> str:
        return str(int(sent.timestamp()) + seconds)

    def envelope(number_id: str, **kw: Any) -> dict[str, Any]:
        body = _envelope(**kw)
        metadata = body["entry"][0]["changes"][0]["value"]["metadata"]
        if number_id:
            metadata["phone_number_id"] = number_id
        else:
            del metadata["phone_number_id"]
        return body

    reads = [
        {"id": "wamid.c0", "status": "read", "timestamp": at(60), "recipient_id": A[1:]},
        {"id": "wamid.c1", "status": "read", "timestamp": at(600), "recipient_id": B[1:]},
    ]
    assert (await _post(api, envelope(number, statuses=reads))).status_code == 200
    funnel = (await api.get(f"/campaigns/{cid}")).json()
    assert funnel["counts"]["read"] == 2
    assert 60 <= funnel["median_read_seconds"] <= 66  # the lower of two, within its bucket
    assert funnel["replies"] == 0

    def text(phone: str, seconds: int, n: int) -> dict[str, Any]:
        return {
            "from": phone[1:], "id": f"wamid.in{n}", "timestamp": at(seconds),
            "type": "text", "text": {"body": "Tamam, teşekkürler"},
        }  # fmt: skip

    early = envelope(number, inbound=[text(B, -60, 1)])  # before the send: no reply
    assert (await _post(api, early)).status_code == 200
    elsewhere = envelope("999999999999", inbound=[text(B, 120, 2)])  # another number's
    assert (await _post(api, elsewhere)).status_code == 200
    assert (await api.get(f"/campaigns/{cid}")).json()["replies"] == 0
    twice = envelope(number, inbound=[text(A, 120, 3), text(A, 180, 4)])
    assert (await _post(api, twice)).status_code == 200
    funnel = (await api.get(f"/campaigns/{cid}")).json()
    assert funnel["replies"] == 1
    assert funnel["status"] == "completed"
    page = (await api.get(f"/campaigns/{cid}/messages")).json()
    assert [(m["alici"], m["replied_at"]) for m in page] == [  # in number order
        (B, None),
        (A, "2026-03-01T08:02:00Z"),  # its first answer, 120 s after the send
    ]
    export = await api.get(f"/campaigns/{cid}/export.csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [r["replied_at"] for r in rows] == ["", "2026-03-01T08:02:00+00:00"]
    import asyncio

    code, out, _ = await asyncio.to_thread(_cli, api, "show", cid)
    assert code == 0
    assert "replies        1" in out
    assert re.search(r"median read +6\d s", out), out  # 60 s, within its bucket


async def test_an_audience_from_a_csv_with_its_own_fields(api, tmp_path):
    """`audience.csv`: each row a recipient, its cells over the stored profile (Ayşe's stored
    appointment is replaced by the file's; a new number needs no profile), consent still
    applies (Cem opted out), a bad row is refused naming its line, and the address book is
    not changed; the CLI's --csv reads a Windows-1254 file (Turkish Excel)."""
    import asyncio

    await _contacts(api)
    sheet = (
        "Telefon;Ad;Appointment\n"
        f"{A};Ayşe Hanım;14:45\n"
        f"{C};Cem;15:00\n"
        "+905551110009;Şule;16:00\n"
        "12;Kısa;17:00\n"
    )
    body = _campaign(dry_run=True, local_time=False, audience={"csv": sheet})
    data = (await api.post("/campaigns", json=body)).json()
    assert (data["recipients"], data["refused"], data["stored"]) == (2, 2, False), data["refusals"]
    why = {r["field"]: r["reason"] for r in data["refusals"]}
    assert why == {"audience.csv[5].phone": "invalid_phone", "alici": "opted_out"}
    stored = await api.post("/campaigns", json=body | {"dry_run": False})
    cid = stored.json()["id"]
    texts = {m.recipient: m.body for m in await api.store.campaign_messages(cid, [], None, 10)}
    assert texts == {
        A: "Merhaba Ayşe Hanım, randevunuz 14:45",
        "+905551110009": "Merhaba Şule, randevunuz 16:00",
    }
    book = (await api.get(f"/contacts/{A}")).json()
    assert (book["name"], book["attributes"]) == ("Ayşe", {"appointment": "10:30"})  # unchanged
    assert (await api.get("/contacts/+905551110009")).json()["in_book"] is False
    bad = await api.post("/campaigns", json=_campaign(audience={"csv": "Ad\nAyşe\n"}))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "audience.csv"
    file = tmp_path / "liste.csv"
    file.write_bytes(f"telefon,ad,randevu\n{A},Işıl,09:15\n".encode("cp1254"))
    create = ["create", "--name", "csv", "--at", "2026-03-02 09:00", "--csv", str(file)]
    code, out, err = await asyncio.to_thread(
        _cli, api, *create, "--text", "Merhaba {{name}} {{attributes.randevu}}"
    )
    assert (code, err) == (0, "")
    assert "1 recipients, 0 refused" in out, out
    (made,) = await api.store.campaign_messages(out.split()[1].rstrip(":"), [], None, 10)
    assert made.body == "Merhaba Işıl 09:15"
