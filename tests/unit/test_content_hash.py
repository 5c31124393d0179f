"""`service.content_hash` decides whether a repeated id is a safe retry (200) or a conflict (409).

Its value is stored with every message, so it must never change between versions: the hashes
below were computed by the first release, and the text shortcut must give the general form's
bytes for every text.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from whatsapp_scheduler import service

DUE = datetime(2030, 1, 1, 6, 30, tzinfo=UTC)
TEMPLATE = {"name": "x", "language": {"code": "tr"}}


def test_hashes_stored_by_earlier_versions_still_match():
    text = 'Merhaba! Randevunuz yarın. "😀"'
    assert (
        service.content_hash("+905551234567", DUE, text, None)
        == "c47d60a8c85a283640adf6010392814030b4d28402284212be73f6bd67265d14"
    )
    assert (
        service.content_hash("+905551234567", DUE, None, TEMPLATE)
        == "77bd3ce2803f33488049371b7ac3cb25044bcfebd507d300a5ca0610dcaf3bca"
    )
    assert (
        service.content_hash("+905551234567", DUE, "hi", None, TEMPLATE)
        == "3261cd09646bed7411ce7702d3834b5d507c6553fd9372c6eed37d620b852239"
    )


def test_the_text_shortcut_hashes_the_same_bytes_as_the_general_form():
    rng = random.Random(20261128)
    alphabet = 'ab "\\\n\t\x00\x1f\x7fğüşİ😀\u2028\u200f/'
    for _ in range(5000):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        general = json.dumps(["+15551234567", DUE.isoformat(), body, None], ensure_ascii=False)
        expected = hashlib.sha256(general.encode("utf-8", "surrogatepass")).hexdigest()
        assert service.content_hash("+15551234567", DUE, body, None) == expected, repr(body)


def test_a_due_time_hashes_as_written_in_its_own_zone():
    """The text shortcut caches a UTC time's text; the same instant in another zone is an
    equal key but another text, and is hashed as written (as the general form does)."""
    istanbul = DUE.astimezone(ZoneInfo("Europe/Istanbul"))
    for due in (DUE, istanbul, DUE, istanbul.astimezone(timezone(timedelta(hours=3)))):
        general = json.dumps(["+15551234567", due.isoformat(), "hi", None], ensure_ascii=False)
        expected = hashlib.sha256(general.encode()).hexdigest()
        assert service.content_hash("+15551234567", due, "hi", None) == expected, due


def test_different_content_gives_a_different_hash():
    base = service.content_hash("+905551234567", DUE, "a", None)
    assert service.content_hash("+905551234568", DUE, "a", None) != base
    assert service.content_hash("+905551234567", DUE.replace(minute=31), "a", None) != base
    assert service.content_hash("+905551234567", DUE, "b", None) != base
    assert service.content_hash("+905551234567", DUE, "a", None, TEMPLATE) != base


def test_the_sender_counts_and_the_default_keeps_the_old_hashes():
    text = 'Merhaba! Randevunuz yarın. "😀"'
    old = service.content_hash("+905551234567", DUE, text, None)
    assert service.content_hash("+905551234567", DUE, text, None, None, "default") == old
    shop = service.content_hash("+905551234567", DUE, text, None, None, "shop")
    assert shop not in {old, service.content_hash("+905551234567", DUE, text, None, None, "ank")}
    parts = ["+905551234567", DUE.isoformat(), text, None, {"gonderen": "shop"}]
    general = json.dumps(parts, sort_keys=True, ensure_ascii=False)
    assert shop == hashlib.sha256(general.encode()).hexdigest()


def test_media_hashes_stored_by_earlier_versions_still_match():
    # computed by the general encoder (60771ca, before the media shortcut)
    link = {"link": "https://example.com/a.jpg", "caption": 'Fatura "2026" 😀'}
    assert (
        service.content_hash("+905551234567", DUE, None, None, None, "default", _image(link))
        == "27fb7678a85904c9c3b1cecc944894ec4373dfb7c3a08f6873b49f9858d3062f"
    )
    document = {"type": "document", "document": {"id": "med_0123", "filename": "f.pdf"}}
    assert (
        service.content_hash("+905551234567", DUE, None, None, None, "shop", document)
        == "01ea1c1531fdff1b2068aebf19c327dd3562ac9bfbd68c9db443e4c923927f1f"
    )


def test_the_media_shortcut_hashes_the_same_bytes_as_the_general_form():
    rng = random.Random(20261207)
    alphabet = 'ab "\\\n\t\x00\x1f\x7fğüşİ😀\u2028\u200f/'
    kinds = ["image", "video", "audio", "document", "sticker", "a", "zz"]

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))

    for _ in range(5000):
        kind = rng.choice(kinds)
        value: dict[str, object] = {
            rng.choice(["id", "link", "caption", "filename", text()]): text()
            for _ in range(rng.randint(0, 4))
        }
        if rng.random() < 0.1:
            value["n"] = rng.choice([1, 2.5, None, True])  # not strings only: the encoder
        content = {"type": kind, kind: value}
        sender = rng.choice(["default", "shop", text() or "x"])
        parts = [
            "+15551234567",
            DUE.isoformat(),
            None,
            None,
            None,
            {"content": content, "gonderen": sender},
        ]
        general = json.dumps(parts, ensure_ascii=False, sort_keys=True)
        expected = hashlib.sha256(general.encode("utf-8", "surrogatepass")).hexdigest()
        got = service.content_hash("+15551234567", DUE, None, None, None, sender, content)
        assert got == expected, (content, sender)


def _image(value: dict[str, str]) -> dict[str, object]:
    return {"type": "image", "image": value}
