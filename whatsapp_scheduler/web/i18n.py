"""The dashboard's words in English and Turkish, and how a request's language is chosen.

Pure. The language comes from the `lang` cookie (set by the switch link on every page), else from
the browser's Accept-Language, else English. Validation messages stay as the service words them
(the same text the REST API returns); only the page around them is translated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "tr")
DEFAULT = "en"
COOKIE = "lang"

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "app": "WhatsApp Scheduler",
        "nav.upcoming": "Upcoming",
        "nav.history": "History",
        "nav.compose": "Compose",
        "nav.import": "Import",
        "nav.docs": "API docs",
        "nav.signout": "Sign out",
        "nav.other_language": "Türkçe",
        "signin.title": "Sign in",
        "signin.key": "API key",
        "signin.submit": "Sign in",
        "signin.wrong": "That API key is not right. Use the API_KEY the service was started with.",
        "signin.expired": "The form expired; please try again.",
        "signin.help": "Use the service's API key (the API_KEY setting, or the key printed at start-up in sandbox mode).",
        "csrf.refused": "This form is out of date or came from another site. Reload the page and try again.",
        "status.queued": "queued",
        "status.sending": "sending",
        "status.sent": "sent",
        "status.delivered": "delivered",
        "status.read": "read",
        "status.failed": "failed",
        "status.cancelled": "cancelled",
        "status.history_all": "all finished",
        "col.recipient": "Recipient",
        "col.due": "Due (local)",
        "col.left": "Time left",
        "col.status": "Status",
        "col.text": "Text",
        "col.actions": "",
        "col.line": "Line",
        "col.date": "Date",
        "col.time": "Time",
        "col.result": "Result",
        "upcoming.title": "Upcoming messages",
        "upcoming.empty": "Nothing is queued.",
        "upcoming.created": "Scheduled:",
        "upcoming.due_now": "due now",
        "cancel": "Cancel",
        "cancel.title": "Cancel this message?",
        "cancel.question": "It will not be sent. The message stays in the history as cancelled.",
        "cancel.confirm": "Yes, cancel it",
        "cancel.keep": "No, keep it",
        "cancel.done": "Cancelled.",
        "count.total": "messages",
        "count.more": "or more",
        "page.next": "Next page",
        "page.first": "First page",
        "history.title": "History",
        "history.empty": "No messages match.",
        "filter.status": "Status",
        "filter.recipient": "Recipient",
        "filter.from": "From",
        "filter.to": "To",
        "filter.apply": "Filter",
        "filter.clear": "Clear",
        "message.title": "Message",
        "message.id": "Id",
        "message.zone": "Time zone",
        "message.due_utc": "Due (UTC)",
        "message.wamid": "WhatsApp id",
        "message.attempts": "Attempts",
        "message.timeline": "Timeline",
        "message.last_error": "Last error",
        "message.no_attempts": "Not sent yet.",
        "attempt.number": "#",
        "attempt.started": "Started",
        "attempt.outcome": "Outcome",
        "attempt.http": "HTTP",
        "attempt.answer": "Meta's answer",
        "compose.title": "Compose",
        "compose.recipient": "Recipient (with + and country code)",
        "compose.text": "Text",
        "compose.date": "Date",
        "compose.time": "Time",
        "compose.zone": "Time zone",
        "compose.submit": "Schedule",
        "compose.checking": "checking…",
        "compose.ok": "valid:",
        "compose.template_hook": "Template",
        "import.title": "Import a CSV file",
        "import.help": "Columns: recipient, date, time, text and optionally timezone (header row, UTF-8). Up to about 7,000 rows; use the CLI for more.",
        "import.file": "CSV file",
        "import.preview": "Preview",
        "import.zone": "Time zone for rows without one",
        "import.valid": "valid",
        "import.bad": "refused",
        "import.store": "Store the valid rows",
        "import.none_valid": "No valid rows to store.",
        "import.storing": "Storing…",
        "import.summary": "Stored {stored}, refused {refused}.",
        "import.ok": "ok",
        "import.more_rows": "more valid rows not shown",
        "live.on": "live",
        "live.off": "offline",
        "error.title": "Error",
        "notfound": "No message has that id.",
    },
    "tr": {
        "app": "WhatsApp Zamanlayıcı",
        "nav.upcoming": "Bekleyenler",
        "nav.history": "Geçmiş",
        "nav.compose": "Yeni mesaj",
        "nav.import": "İçe aktar",
        "nav.docs": "API belgeleri",
        "nav.signout": "Çıkış",
        "nav.other_language": "English",
        "signin.title": "Giriş",
        "signin.key": "API anahtarı",
        "signin.submit": "Giriş yap",
        "signin.wrong": "Bu API anahtarı yanlış. Servisin başlatıldığı API_KEY değerini kullanın.",
        "signin.expired": "Formun süresi doldu; lütfen tekrar deneyin.",
        "signin.help": "Servisin API anahtarını kullanın (API_KEY ayarı ya da sandbox modunda başlangıçta yazılan anahtar).",
        "csrf.refused": "Bu form eski ya da başka bir siteden geldi. Sayfayı yenileyip tekrar deneyin.",
        "status.queued": "sırada",
        "status.sending": "gönderiliyor",
        "status.sent": "gönderildi",
        "status.delivered": "teslim edildi",
        "status.read": "okundu",
        "status.failed": "başarısız",
        "status.cancelled": "iptal edildi",
        "status.history_all": "tüm biten",
        "col.recipient": "Alıcı",
        "col.due": "Zaman (yerel)",
        "col.left": "Kalan süre",
        "col.status": "Durum",
        "col.text": "Metin",
        "col.actions": "",
        "col.line": "Satır",
        "col.date": "Tarih",
        "col.time": "Saat",
        "col.result": "Sonuç",
        "upcoming.title": "Bekleyen mesajlar",
        "upcoming.empty": "Sırada mesaj yok.",
        "upcoming.created": "Zamanlandı:",
        "upcoming.due_now": "şimdi",
        "cancel": "İptal et",
        "cancel.title": "Bu mesaj iptal edilsin mi?",
        "cancel.question": "Gönderilmeyecek. Mesaj geçmişte iptal edildi olarak kalır.",
        "cancel.confirm": "Evet, iptal et",
        "cancel.keep": "Hayır, kalsın",
        "cancel.done": "İptal edildi.",
        "count.total": "mesaj",
        "count.more": "ya da daha fazla",
        "page.next": "Sonraki sayfa",
        "page.first": "İlk sayfa",
        "history.title": "Geçmiş",
        "history.empty": "Eşleşen mesaj yok.",
        "filter.status": "Durum",
        "filter.recipient": "Alıcı",
        "filter.from": "Başlangıç",
        "filter.to": "Bitiş",
        "filter.apply": "Filtrele",
        "filter.clear": "Temizle",
        "message.title": "Mesaj",
        "message.id": "Kimlik",
        "message.zone": "Saat dilimi",
        "message.due_utc": "Zaman (UTC)",
        "message.wamid": "WhatsApp kimliği",
        "message.attempts": "Denemeler",
        "message.timeline": "Zaman çizelgesi",
        "message.last_error": "Son hata",
        "message.no_attempts": "Henüz gönderilmedi.",
        "attempt.number": "#",
        "attempt.started": "Başlangıç",
        "attempt.outcome": "Sonuç",
        "attempt.http": "HTTP",
        "attempt.answer": "Meta'nın yanıtı",
        "compose.title": "Yeni mesaj",
        "compose.recipient": "Alıcı (+ ve ülke koduyla)",
        "compose.text": "Metin",
        "compose.date": "Tarih",
        "compose.time": "Saat",
        "compose.zone": "Saat dilimi",
        "compose.submit": "Zamanla",
        "compose.checking": "denetleniyor…",
        "compose.ok": "geçerli:",
        "compose.template_hook": "Şablon",
        "import.title": "CSV dosyası içe aktar",
        "import.help": "Sütunlar: recipient, date, time, text ve isteğe bağlı timezone (başlık satırı, UTF-8). En fazla yaklaşık 7.000 satır; daha fazlası için CLI kullanın.",
        "import.file": "CSV dosyası",
        "import.preview": "Önizle",
        "import.zone": "Saat dilimi olmayan satırlar için",
        "import.valid": "geçerli",
        "import.bad": "reddedildi",
        "import.store": "Geçerli satırları kaydet",
        "import.none_valid": "Kaydedilecek geçerli satır yok.",
        "import.storing": "Kaydediliyor…",
        "import.summary": "Kaydedilen {stored}, reddedilen {refused}.",
        "import.ok": "tamam",
        "import.more_rows": "geçerli satır daha (gösterilmiyor)",
        "live.on": "canlı",
        "live.off": "bağlantı yok",
        "error.title": "Hata",
        "notfound": "Bu kimlikle bir mesaj yok.",
    },
}


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The language for a request: the cookie if valid, else the best Accept-Language match."""
    if cookie in LANGUAGES:
        return str(cookie)
    best, best_q = DEFAULT, -1.0
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        quality -= position * 1e-6  # earlier wins a tie
        if quality > best_q:
            best, best_q = primary, quality
    return best


def translator(language: str) -> Callable[..., str]:
    """`t(key, **values)` for templates; a missing key shows itself (and is logged)."""
    texts = TEXTS.get(language, TEXTS[DEFAULT])

    def t(key: str, **values: object) -> str:
        text = texts.get(key)
        if text is None:
            logger.warning("missing dashboard text %r for %s", key, language)
            text = TEXTS[DEFAULT].get(key, key)
        return text.format(**values) if values else text

    return t
