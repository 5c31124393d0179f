"""The dashboard's words in English and Turkish, and how a request's language is chosen.

Pure, but for reading a catalogue file once. The language comes from the `lang` cookie (set by the switch link on every page), else from
the browser's Accept-Language, else English. The service's validation rules are English
templates with their values (`errors.ValidationFailed`: `template`, `params`); `rule_text`
says one in the reader's language from a gettext catalogue (`web/locale/<lang>/LC_MESSAGES/
rules.po`, read with Babel; `scripts/i18n` extracts the rules from the code into it), and
keeps the English when the catalogue has none.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages import pofile

from whatsapp_scheduler.core import errors

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
        "nav.catalogue": "Templates",
        "nav.skip": "Skip to content",
        "catalogue.title": "Templates from Meta",
        "catalogue.help": "The message templates of your WhatsApp Business Accounts, as last synced from Meta (every TEMPLATE_SYNC_SECONDS and at once on Meta's template webhooks). Only APPROVED templates can be sent; a PAUSED one waits until Meta unpauses it.",
        "catalogue.search": "Name contains",
        "catalogue.all": "all",
        "catalogue.category": "Category",
        "catalogue.quality": "Quality",
        "catalogue.body": "Body",
        "catalogue.parameters": "{count} parameter(s)",
        "catalogue.use": "Use in a message",
        "catalogue.sync": "Sync from Meta now",
        "catalogue.synced_ok": "Synced from Meta.",
        "catalogue.synced_failed": "The sync failed for at least one account; its last catalogue is kept (see the service's log).",
        "catalogue.count": "{shown} of {total} templates",
        "catalogue.empty": "No template matches. If the list is empty, the templates were never synced: check the sender's WABA id.",
        "catalogue.not_configured": "No template catalogue is set up on this service.",
        "catalogue.status.APPROVED": "approved",
        "catalogue.status.PENDING": "pending review",
        "catalogue.status.PAUSED": "paused by Meta",
        "catalogue.status.REJECTED": "rejected",
        "catalogue.status.DISABLED": "disabled",
        "category.MARKETING": "marketing",
        "category.UTILITY": "utility",
        "category.AUTHENTICATION": "authentication",
        "category.SERVICE": "service (a text)",
        "compose.sender": "From (business number)",
        "compose.preview": "Preview",
        "compose.preview_none": "Not in the synced catalogue of this sender: the service will refuse it if the catalogue is synced, or Meta checks it at send time.",
        "compose.preview_languages": "It exists in: {languages}",
        "compose.preview_takes": "Takes {count} body parameter(s), one a line: {names}",
        "compose.preview_missing": "Still missing: {names}",
        "compose.preview_status": "Status: {status} · category: {category}",
        "nav.docs": "API docs",
        "nav.signout": "Sign out",
        "nav.other_language": "Türkçe",
        "signin.title": "Sign in",
        "signin.key": "API key",
        "signin.submit": "Sign in",
        "signin.wrong": "That API key is not right. Use the API_KEY the service was started with.",
        "signin.expired": "The form expired; please try again.",
        "signin.throttled": "Too many wrong keys from here. Try again in {minutes} min.",
        "signin.help": "Use the service's API key (the API_KEY setting, or the key printed at start-up in sandbox mode).",
        "csrf.refused": "This form is out of date or came from another site. Reload the page and try again.",
        "scope.refused": "The key you signed in with cannot do this: it needs the {scope} scope.",
        "status.queued": "queued",
        "status.sending": "sending",
        "status.sent": "sent",
        "status.delivered": "delivered",
        "status.read": "read",
        "status.failed": "failed",
        "status.cancelled": "cancelled",
        "status.paused": "paused (campaign)",
        "status.history_all": "all finished",
        "col.recipient": "Recipient",
        "col.sender": "Sender",
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
        "zone.common": "Common",
        "zone.all": "All, by UTC offset now",
        "zone.filter": "Search zones",
        "window.open": "Their 24-hour window with this number is open until {until} (they last wrote at {last}): a text due before then can go.",
        "window.closed_since": "Their 24-hour window is closed (they last wrote at {last}): WhatsApp refuses a text (131047) unless they write first. Choose a template.",
        "window.never": "They have never written to this number, so their 24-hour window is closed: WhatsApp refuses a text (131047) unless they write first. Choose a template.",
        "window.opted_out": "They opted out of messages from this number on {when}: the service will refuse a message to them.",
        "stats.title": "The last 14 days",
        "stats.help": "Messages by the day they were due ({zone}), coloured by what became of them; it follows the statuses live.",
        "stats.failures": "Why messages failed",
        "stats.no_failures": "None failed.",
        "stats.no_code": "no code from Meta (e.g. too late, or nothing was sent)",
        "stats.numbers": "The numbers",
        "stats.day": "Day",
        "stats.empty": "No message was due in these days.",
        "bulk.select": "Select",
        "bulk.select_all": "Select all on this page",
        "bulk.cancel": "Cancel selected",
        "bulk.title": "Cancel the selected messages?",
        "bulk.question": "These {n} messages will not be sent. They stay in the history as cancelled.",
        "bulk.confirm": "Yes, cancel {n} messages",
        "bulk.too_late": "(can no longer be cancelled)",
        "bulk.missing": "{n} of the selected messages were not found.",
        "bulk.nothing": "None of the selected messages can be cancelled any more.",
        "bulk.done": "Cancelled {cancelled}.",
        "bulk.done_refused": "Cancelled {cancelled}; {refused} could not be cancelled (sent or being sent meanwhile).",
        "bulk.none": "No message was selected.",
        "count.total": "messages",
        "count.more": "or more",
        "page.next": "Next page",
        "page.first": "First page",
        "history.title": "History",
        "history.empty": "No messages match.",
        "error.cursor": "This page link is not valid any more (cursor). Start again from the first page.",
        "error.date": "{param}: not a date to search by. Use a real date (YYYY-MM-DD) from 1970-01-01 to 9998-12-31.",
        "filter.status": "Status",
        "filter.recipient": "Recipient",
        "filter.sender": "Sender",
        "filter.sender_all": "all",
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
        "attempt.sent_as": "Sent as",
        "attempt_outcome.sent": "accepted by Meta",
        "attempt_outcome.retry": "failed, tried again",
        "attempt_outcome.failed": "failed",
        "attempt_outcome.final": "failed: no attempts left",
        "attempt_outcome.ambiguous": "unclear (may have reached Meta)",
        "attempt_outcome.deferred": "held back (not counted)",
        "attempt_outcome.expired": "too late to send",
        "message.meta_code": "Meta code {code}",
        "message.gave_up": "This error is usually temporary, but every attempt failed, so this message will not be sent. Schedule it again if it is still wanted.",
        "message.retrying": "retrying: next try at {when}",
        "message.accepted": "Meta took it",
        "cancel.too_late": "This message is {status}: it can no longer be cancelled.",
        "edit": "Edit",
        "edit.title": "Edit this message",
        "edit.date": "Date",
        "edit.time": "Time",
        "edit.save": "Save",
        "edit.back": "Back",
        "edit.done": "Edited.",
        "edit.send_now": "Send now",
        "edit.too_late": "This message is {status}: it can no longer be edited.",
        "sent_as.text": "text",
        "sent_as.template": "template",
        "sent_as.fallback_template": "fallback template (24-hour window closed)",
        "compose.title": "Compose",
        "compose.recipient": "Recipient (with + and country code)",
        "compose.text": "Text",
        "compose.date": "Date",
        "compose.time": "Time",
        "compose.repeat": "Repeat",
        "compose.repeat_none": "Once",
        "compose.repeat_daily": "Every day",
        "compose.repeat_weekly": "Every week, on this weekday",
        "compose.repeat_monthly": "Every month, on this day",
        "compose.repeat_yearly": "Every year, on this date",
        "compose.repeat_custom": "Custom rule",
        "compose.rule": "Rule (RFC 5545, for a custom repeat)",
        "compose.zone": "Time zone",
        "compose.submit": "Schedule",
        "sandbox.banner": "Sandbox mode: nothing reaches WhatsApp; a stand-in for Meta takes every message.",
        "sandbox.inbox": "Open the sandbox inbox",
        "history.export": "Export CSV (these filters)",
        "compose.sending": "Scheduling…",
        "compose.form_used": "This form already scheduled message {id} with other values, so nothing was stored now. Check that message in Upcoming; to schedule another, submit this new form.",
        "compose.checking": "checking…",
        "compose.ok": "valid:",
        "compose.kind": "Send",
        "compose.kind_text": "a text",
        "compose.kind_template": "a template",
        "compose.kind_media": "a photo, video or file",
        "message.media_open": "Open the file",
        "compose.kind_location": "a location",
        "compose.media_help": "Choose a file: it is uploaded now and checked against WhatsApp's rules (JPEG/PNG photos up to 5 MB, MP4 videos up to 16 MB, audio up to 16 MB, PDF and Office documents up to 100 MB, WebP stickers). Or give a link that Meta fetches at sending time. Like a text, it needs the recipient's open 24-hour window.",
        "compose.media_file": "File",
        "compose.uploading": "Uploading {name}…",
        "compose.uploaded": "Uploaded {name}: {size}, {type}",
        "compose.upload_failed": "The upload failed: choose the file again.",
        "compose.upload_refused": "This file cannot be sent: {rule}",
        "compose.media_type": "Send as",
        "compose.media_image": "photo",
        "compose.media_video": "video",
        "compose.media_audio": "audio",
        "compose.media_document": "document",
        "compose.media_sticker": "sticker",
        "compose.media_link": "or a link (https://…)",
        "compose.caption": "Caption (photo, video, document)",
        "compose.filename": "File name the recipient sees (document)",
        "compose.latitude": "Latitude",
        "compose.longitude": "Longitude",
        "compose.place_name": "Place name",
        "compose.place_address": "Address",
        "compose.kind_interactive": "buttons or a list",
        "compose.kind_contact": "a contact card",
        "compose.interactive_help": "A message with reply buttons, a list to choose from or a button that opens a link. Like a text, it needs the recipient's open 24-hour window.",
        "compose.interactive_type": "With",
        "compose.interactive_button": "reply buttons",
        "compose.interactive_list": "a list",
        "compose.interactive_cta_url": "a link button",
        "compose.body_text": "Message (up to 1,024 characters)",
        "compose.header_text": "Heading (optional, up to 60 characters)",
        "compose.footer_text": "Footer (optional, up to 60 characters)",
        "compose.buttons": "Button titles, one a line (1 to 3, up to 20 characters each)",
        "compose.list_button": "The button that opens the list (up to 20 characters)",
        "compose.list_rows": "Rows, one a line: a title, or title | description (1 to 10; titles up to 24 characters, descriptions up to 72)",
        "compose.cta_text": "Button text (up to 20 characters)",
        "compose.cta_url": "Link (http:// or https://)",
        "compose.contact_help": "One contact card: the recipient can save the contact or message it from the chat. Like a text, it needs the recipient's open 24-hour window.",
        "compose.contact_name": "Name",
        "compose.contact_phone": "Phone number (with the country code, e.g. +90)",
        "compose.contact_email": "Email (optional)",
        "compose.contact_company": "Company (optional)",
        "compose.template_name": "Template name (as approved by Meta)",
        "compose.template_language": "Language code (e.g. tr, en_US)",
        "compose.template_params": "Body parameters, one a line ({{1}}, {{2}} …)",
        "compose.template_help": "Templates may be sent at any time, even when the recipient's 24-hour window is closed. Meta checks that the template exists in that language and takes that many parameters; a mismatch comes back as a failure (132000, 132001).",
        "compose.fallback": "Fallback template (optional)",
        "compose.fallback_help": "WhatsApp delivers free-form text only within 24 hours of the recipient's last message; outside that window only a template goes through. A fallback template is sent instead of this text when the window is closed at the due time — if the service runs with WINDOW_POLICY=template.",
        "compose.policy.send": "This service runs with WINDOW_POLICY=send: the text is sent anyway (WhatsApp refuses it with 131047) and the fallback is not used.",
        "compose.policy.fail": "This service runs with WINDOW_POLICY=fail: a text whose window will be closed is refused, and the fallback is not used.",
        "compose.policy.template": "This service runs with WINDOW_POLICY=template: the fallback is sent when the window is closed; a text without one is refused then.",
        "compose.warnings": "Scheduled, with a warning:",
        "warning.window_closed": "The recipient's 24-hour window will be closed at the due time, so WhatsApp will refuse this text (131047) unless they write first. Send a template instead, or give a fallback template (WINDOW_POLICY=template).",
        "warning.link_unresolved": "The host of the link {field} ({host}) does not resolve from this server: check the address; Meta fetches the file itself and may not reach it either.",
        "warning.link_unreachable": "The link {field} did not work from this server ({reason}): check it; Meta fetches the file at sending time and fails the message (131053) if it cannot.",
        "warning.window_closed_sandbox": 'In this sandbox it will be delivered anyway: its stand-in for Meta does not enforce the window unless you turn that on (PUT /_sandbox/limits {"window_check": "async"}), so texts can be tried freely. With Meta it would fail.',
        "warning.window_closed_fallback": "The recipient's 24-hour window will be closed at the due time: the fallback template {template} will be sent instead of the text.",
        "warning.undeliverable": "Meta reported this number undeliverable (131026: not on WhatsApp, an old app, or terms not accepted) and they have not written since: the message may fail again.",
        "consent.opted_out_all": "The recipient opted out of all messages from this number ({at}, source: {source}). Nothing is sent to them until they opt in again (a START keyword, or PUT /contacts/…/consent).",
        "consent.opted_out_marketing": "The recipient opted out of marketing messages from this number ({at}, source: {source}). Utility and authentication templates and texts still go.",
        "warning.template_paused": "Meta has paused the template {template}: the message waits until it is unpaused, or expires.",
        "warning.template_unchecked": "The template {template} could not be checked against the synced catalogue; Meta checks it when it is sent.",
        "warning.quiet_hours": "Due at {asked} ({zone}), inside the quiet hours {window}: it goes at {moved} instead (send with quiet_hours: false through the API for what must go at once).",
        "reason.quiet_hours": "Waiting: due inside the quiet hours ({zone} time); it goes at their end, {when}.",
        "reason.messaging_limit": "Waiting: the business's daily messaging limit (unique contacts in 24 h) is reached; it goes when a slot frees, {when}.",
        "reason.marketing_limit": "Waiting: Meta's per-user marketing limit (131049) refused it; one more try at {when}.",
        "reason.frequency_cap": "Waiting: this contact has had the most marketing messages MARKETING_FREQUENCY_CAP allows; it goes at {when}.",
        "reason.opted_out": "Cancelled: the recipient opted out.",
        "message.deferred": "deferred until {when}: {reason}",
        "template.mark": "template",
        "template.fallback_mark": "fallback",
        "message.template": "Template",
        "message.language": "Language",
        "message.parameters": "Parameters",
        "message.components": "Other components",
        "message.fallback": "Fallback template",
        "message.fallback_help": "Sent instead of the text if the recipient's 24-hour window is closed when it is due (WINDOW_POLICY={policy}).",
        "page.previous": "Previous page",
        "import.title": "Import a CSV file",
        "import.help": "Columns: recipient, date, time, text and optionally timezone (a header row; English or Turkish names such as Telefon, Tarih, Saat, Mesaj). UTF-8 or Turkish Excel's Windows-1254, separated by , ; or tab; dates 2026-12-03 or 03.12.2026. At most 10,000 rows (and 1 MiB); use the CLI for more.",
        "import.sample": "Download a sample file",
        "import.file": "CSV file",
        "import.preview": "Preview",
        "import.zone": "Time zone for rows without one",
        "import.valid": "valid",
        "import.bad": "refused",
        "import.store": "Store the valid rows",
        "import.none_valid": "No valid rows to store.",
        "import.storing": "Storing…",
        "import.summary": "Stored {stored}, refused {refused}.",
        "import.summary_already": "Stored {stored}, already stored before {already} (not stored again), refused {refused}.",
        "import.ok": "ok",
        "import.template": "Template (optional)",
        "import.template_help": "Send one approved template to every row instead of a text: the file then needs no text column, and its other columns are the template's body parameters ({{1}}, {{2}} ... or the names of a named template). The preview shows each row's message filled in.",
        "import.more_rows": "more valid rows not shown",
        "import.more_bad": "more refused rows not shown (fix the ones above and preview again)",
        "live.on": "live",
        "live.off": "offline",
        "error.title": "Error",
        "notfound": "No message has that id.",
        "unreadable": "This message cannot be shown: its stored {column} is not a valid value (the row was changed outside the service). Correct or delete the row in the database.",
    },
    "tr": {
        "app": "WhatsApp Zamanlayıcı",
        "nav.upcoming": "Bekleyenler",
        "nav.history": "Geçmiş",
        "nav.compose": "Yeni mesaj",
        "nav.import": "İçe aktar",
        "nav.catalogue": "Şablonlar",
        "nav.skip": "İçeriğe geç",
        "catalogue.title": "Meta'daki şablonlar",
        "catalogue.help": "WhatsApp Business hesaplarınızın mesaj şablonları, Meta'dan son eşitlendiği hâliyle (her TEMPLATE_SYNC_SECONDS'ta bir ve Meta'nın şablon webhook'larıyla hemen). Yalnızca ONAYLI şablonlar gönderilebilir; DURAKLATILMIŞ bir şablon Meta onu yeniden açana kadar bekler.",
        "catalogue.search": "Adında geçen",
        "catalogue.all": "tümü",
        "catalogue.category": "Kategori",
        "catalogue.quality": "Kalite",
        "catalogue.body": "Gövde",
        "catalogue.parameters": "{count} parametre",
        "catalogue.use": "Mesajda kullan",
        "catalogue.sync": "Meta'dan şimdi eşitle",
        "catalogue.synced_ok": "Meta'dan eşitlendi.",
        "catalogue.synced_failed": "En az bir hesapta eşitleme başarısız oldu; o hesabın son kataloğu korunuyor (servisin günlüğüne bakın).",
        "catalogue.count": "{total} şablondan {shown} tanesi",
        "catalogue.empty": "Eşleşen şablon yok. Liste boşsa şablonlar hiç eşitlenmemiştir: göndericinin WABA kimliğini denetleyin.",
        "catalogue.not_configured": "Bu serviste şablon kataloğu kurulu değil.",
        "catalogue.status.APPROVED": "onaylı",
        "catalogue.status.PENDING": "incelemede",
        "catalogue.status.PAUSED": "Meta duraklattı",
        "catalogue.status.REJECTED": "reddedildi",
        "catalogue.status.DISABLED": "devre dışı",
        "category.MARKETING": "pazarlama",
        "category.UTILITY": "hizmet bildirimi",
        "category.AUTHENTICATION": "kimlik doğrulama",
        "category.SERVICE": "hizmet (metin)",
        "compose.sender": "Gönderen (işletme numarası)",
        "compose.preview": "Önizleme",
        "compose.preview_none": "Bu göndericinin eşitlenmiş kataloğunda yok: katalog eşitliyse servis reddeder, değilse Meta gönderimde denetler.",
        "compose.preview_languages": "Şu dillerde var: {languages}",
        "compose.preview_takes": "{count} gövde parametresi alır, satır başına bir tane: {names}",
        "compose.preview_missing": "Eksik: {names}",
        "compose.preview_status": "Durum: {status} · kategori: {category}",
        "nav.docs": "API belgeleri",
        "nav.signout": "Çıkış",
        "nav.other_language": "English",
        "signin.title": "Giriş",
        "signin.key": "API anahtarı",
        "signin.submit": "Giriş yap",
        "signin.wrong": "Bu API anahtarı yanlış. Servisin başlatıldığı API_KEY değerini kullanın.",
        "signin.expired": "Formun süresi doldu; lütfen tekrar deneyin.",
        "signin.throttled": "Buradan çok fazla yanlış anahtar denendi. {minutes} dk sonra tekrar deneyin.",
        "signin.help": "Servisin API anahtarını kullanın (API_KEY ayarı ya da sandbox modunda başlangıçta yazılan anahtar).",
        "csrf.refused": "Bu form eski ya da başka bir siteden geldi. Sayfayı yenileyip tekrar deneyin.",
        "scope.refused": "Giriş yaptığınız anahtar bunu yapamaz: {scope} yetkisi gerekiyor.",
        "status.queued": "sırada",
        "status.sending": "gönderiliyor",
        "status.sent": "gönderildi",
        "status.delivered": "teslim edildi",
        "status.read": "okundu",
        "status.failed": "başarısız",
        "status.cancelled": "iptal edildi",
        "status.paused": "duraklatıldı (kampanya)",
        "status.history_all": "tüm biten",
        "col.recipient": "Alıcı",
        "col.sender": "Gönderen",
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
        "zone.common": "Sık kullanılanlar",
        "zone.all": "Tümü, şu anki UTC farkına göre",
        "zone.filter": "Saat dilimi ara",
        "window.open": "Bu numarayla 24 saatlik pencereleri {until} saatine kadar açık (en son {last} saatinde yazdılar): o zamana kadarki bir metin gidebilir.",
        "window.closed_since": "24 saatlik pencereleri kapalı (en son {last} saatinde yazdılar): önce onlar yazmazsa WhatsApp metni reddeder (131047). Bir şablon seçin.",
        "window.never": "Bu numaraya hiç yazmadılar, bu yüzden 24 saatlik pencereleri kapalı: önce onlar yazmazsa WhatsApp metni reddeder (131047). Bir şablon seçin.",
        "window.opted_out": "{when} tarihinde bu numaradan ileti almayı bıraktılar: servis onlara gidecek bir iletiyi reddeder.",
        "stats.title": "Son 14 gün",
        "stats.help": "Gönderim günlerine göre mesajlar ({zone}), sonlarının ne olduğuna göre renkli; durumları canlı izler.",
        "stats.failures": "Mesajlar neden başarısız oldu",
        "stats.no_failures": "Başarısız olan yok.",
        "stats.no_code": "Meta'dan kod yok (örneğin çok geç kaldı ya da hiç gönderilmedi)",
        "stats.numbers": "Sayılar",
        "stats.day": "Gün",
        "stats.empty": "Bu günlerde gönderilecek mesaj yoktu.",
        "bulk.select": "Seç",
        "bulk.select_all": "Bu sayfadakilerin tümünü seç",
        "bulk.cancel": "Seçilenleri iptal et",
        "bulk.title": "Seçilen mesajlar iptal edilsin mi?",
        "bulk.question": "Bu {n} mesaj gönderilmeyecek. Geçmişte iptal edildi olarak kalırlar.",
        "bulk.confirm": "Evet, {n} mesajı iptal et",
        "bulk.too_late": "(artık iptal edilemez)",
        "bulk.missing": "Seçilen mesajlardan {n} tanesi bulunamadı.",
        "bulk.nothing": "Seçilen mesajların hiçbiri artık iptal edilemez.",
        "bulk.done": "{cancelled} mesaj iptal edildi.",
        "bulk.done_refused": "{cancelled} mesaj iptal edildi; {refused} mesaj iptal edilemedi (bu arada gönderildi ya da gönderiliyor).",
        "bulk.none": "Hiç mesaj seçilmedi.",
        "count.total": "mesaj",
        "count.more": "ya da daha fazla",
        "page.next": "Sonraki sayfa",
        "page.first": "İlk sayfa",
        "history.title": "Geçmiş",
        "history.empty": "Eşleşen mesaj yok.",
        "error.cursor": "Bu sayfa bağlantısı artık geçerli değil (cursor). İlk sayfadan yeniden başlayın.",
        "error.date": "{param}: aranabilecek bir tarih değil. 1970-01-01 ile 9998-12-31 arasında gerçek bir tarih (YYYY-MM-DD) girin.",
        "filter.status": "Durum",
        "filter.recipient": "Alıcı",
        "filter.sender": "Gönderen",
        "filter.sender_all": "tümü",
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
        "attempt.sent_as": "Gönderilen",
        "attempt_outcome.sent": "Meta kabul etti",
        "attempt_outcome.retry": "başarısız, yeniden denendi",
        "attempt_outcome.failed": "başarısız",
        "attempt_outcome.final": "başarısız: deneme hakkı kalmadı",
        "attempt_outcome.ambiguous": "belirsiz (Meta'ya ulaşmış olabilir)",
        "attempt_outcome.deferred": "bekletildi (sayılmadı)",
        "attempt_outcome.expired": "göndermek için çok geç",
        "message.meta_code": "Meta kodu {code}",
        "message.gave_up": "Bu hata genellikle geçicidir, ama bütün denemeler başarısız oldu; bu ileti gönderilmeyecek. Hâlâ gerekiyorsa yeniden zamanlayın.",
        "message.retrying": "yeniden denenecek: sonraki deneme {when}",
        "message.accepted": "Meta aldı",
        "cancel.too_late": "Bu mesajın durumu: {status}. Artık iptal edilemez.",
        "edit": "Düzenle",
        "edit.title": "Bu iletiyi düzenle",
        "edit.date": "Tarih",
        "edit.time": "Saat",
        "edit.save": "Kaydet",
        "edit.back": "Geri",
        "edit.done": "Düzenlendi.",
        "edit.send_now": "Şimdi gönder",
        "edit.too_late": "Bu ileti {status} durumunda: artık düzenlenemez.",
        "sent_as.text": "metin",
        "sent_as.template": "şablon",
        "sent_as.fallback_template": "yedek şablon (24 saatlik pencere kapalı)",
        "compose.title": "Yeni mesaj",
        "compose.recipient": "Alıcı (+ ve ülke koduyla)",
        "compose.text": "Metin",
        "compose.date": "Tarih",
        "compose.time": "Saat",
        "compose.repeat": "Tekrar",
        "compose.repeat_none": "Bir kez",
        "compose.repeat_daily": "Her gün",
        "compose.repeat_weekly": "Her hafta, bu gün",
        "compose.repeat_monthly": "Her ay, bu günde",
        "compose.repeat_yearly": "Her yıl, bu tarihte",
        "compose.repeat_custom": "Özel kural",
        "compose.rule": "Kural (RFC 5545, özel tekrar için)",
        "compose.zone": "Saat dilimi",
        "compose.submit": "Zamanla",
        "sandbox.banner": "Deneme (sandbox) modu: hiçbir şey WhatsApp'a gitmez; her iletiyi Meta'nın yerine geçen bir taklit alır.",
        "sandbox.inbox": "Deneme gelen kutusunu açın",
        "history.export": "CSV olarak indir (bu filtrelerle)",
        "compose.sending": "Zamanlanıyor…",
        "compose.form_used": "Bu form {id} iletisini başka değerlerle zaten zamanladı; bu kez hiçbir şey kaydedilmedi. O iletiyi Yaklaşanlar listesinde kontrol edin; başka bir ileti için bu yeni formu gönderin.",
        "compose.checking": "denetleniyor…",
        "compose.ok": "geçerli:",
        "compose.kind": "Gönder",
        "compose.kind_text": "metin",
        "compose.kind_template": "şablon",
        "compose.kind_media": "fotoğraf, video ya da dosya",
        "message.media_open": "Dosyayı aç",
        "compose.kind_location": "konum",
        "compose.media_help": "Bir dosya seçin: hemen yüklenir ve WhatsApp'ın kurallarına göre denetlenir (5 MB'a kadar JPEG/PNG fotoğraf, 16 MB'a kadar MP4 video, 16 MB'a kadar ses, 100 MB'a kadar PDF ve Office belgesi, WebP çıkartma). Ya da Meta'nın gönderim anında indireceği bir bağlantı verin. Metin gibi, alıcının 24 saatlik penceresinin açık olması gerekir.",
        "compose.media_file": "Dosya",
        "compose.uploading": "{name} yükleniyor…",
        "compose.uploaded": "{name} yüklendi: {size}, {type}",
        "compose.upload_failed": "Yükleme olmadı: dosyayı yeniden seçin.",
        "compose.upload_refused": "Bu dosya gönderilemez: {rule}",
        "compose.media_type": "Gönderim biçimi",
        "compose.media_image": "fotoğraf",
        "compose.media_video": "video",
        "compose.media_audio": "ses",
        "compose.media_document": "belge",
        "compose.media_sticker": "çıkartma",
        "compose.media_link": "ya da bir bağlantı (https://…)",
        "compose.caption": "Açıklama (fotoğraf, video, belge)",
        "compose.filename": "Alıcının göreceği dosya adı (belge)",
        "compose.latitude": "Enlem",
        "compose.longitude": "Boylam",
        "compose.place_name": "Yerin adı",
        "compose.place_address": "Adres",
        "compose.kind_interactive": "düğmeli ya da listeli ileti",
        "compose.kind_contact": "kişi kartı",
        "compose.interactive_help": "Yanıt düğmeleri, seçim listesi ya da bir bağlantıyı açan düğme içeren bir ileti. Metin gibi, alıcının 24 saatlik penceresinin açık olması gerekir.",
        "compose.interactive_type": "Biçim",
        "compose.interactive_button": "yanıt düğmeleri",
        "compose.interactive_list": "liste",
        "compose.interactive_cta_url": "bağlantı düğmesi",
        "compose.body_text": "İleti (en çok 1.024 karakter)",
        "compose.header_text": "Başlık (isteğe bağlı, en çok 60 karakter)",
        "compose.footer_text": "Alt bilgi (isteğe bağlı, en çok 60 karakter)",
        "compose.buttons": "Düğme yazıları, her satıra bir tane (1-3 düğme, her biri en çok 20 karakter)",
        "compose.list_button": "Listeyi açan düğmenin yazısı (en çok 20 karakter)",
        "compose.list_rows": "Satırlar, her satıra bir tane: başlık ya da başlık | açıklama (1-10 satır; başlık en çok 24, açıklama en çok 72 karakter)",
        "compose.cta_text": "Düğme yazısı (en çok 20 karakter)",
        "compose.cta_url": "Bağlantı (http:// ya da https://)",
        "compose.contact_help": "Tek bir kişi kartı: alıcı kişiyi rehberine kaydedebilir ya da sohbetten ona yazabilir. Metin gibi, alıcının 24 saatlik penceresinin açık olması gerekir.",
        "compose.contact_name": "Ad soyad",
        "compose.contact_phone": "Telefon numarası (ülke koduyla, ör. +90)",
        "compose.contact_email": "E-posta (isteğe bağlı)",
        "compose.contact_company": "Şirket (isteğe bağlı)",
        "compose.template_name": "Şablon adı (Meta'nın onayladığı)",
        "compose.template_language": "Dil kodu (ör. tr, en_US)",
        "compose.template_params": "Gövde parametreleri, satır başına bir tane ({{1}}, {{2}} …)",
        "compose.template_help": "Şablonlar her zaman gönderilebilir, alıcının 24 saatlik penceresi kapalı olsa bile. Şablonun o dilde var olup olmadığını ve kaç parametre aldığını Meta denetler; uyuşmazlık başarısızlık olarak döner (132000, 132001).",
        "compose.fallback": "Yedek şablon (isteğe bağlı)",
        "compose.fallback_help": "WhatsApp serbest metni yalnızca alıcının son mesajından sonraki 24 saat içinde iletir; bu pencere dışında yalnızca şablon geçer. Gönderim zamanında pencere kapalıysa bu metin yerine yedek şablon gönderilir — servis WINDOW_POLICY=template ile çalışıyorsa.",
        "compose.policy.send": "Bu servis WINDOW_POLICY=send ile çalışıyor: metin yine de gönderilir (WhatsApp 131047 ile reddeder), yedek şablon kullanılmaz.",
        "compose.policy.fail": "Bu servis WINDOW_POLICY=fail ile çalışıyor: penceresi kapalı olacak bir metin reddedilir, yedek şablon kullanılmaz.",
        "compose.policy.template": "Bu servis WINDOW_POLICY=template ile çalışıyor: pencere kapalıysa yedek şablon gönderilir; yedeği olmayan metin o zaman reddedilir.",
        "compose.warnings": "Zamanlandı, bir uyarıyla:",
        "warning.window_closed": "Alıcının 24 saatlik penceresi gönderim zamanında kapalı olacak; alıcı önce yazmazsa WhatsApp bu metni reddeder (131047). Bunun yerine şablon gönderin ya da yedek şablon verin (WINDOW_POLICY=template).",
        "warning.link_unresolved": "{field} bağlantısının sunucusu ({host}) bu sunucudan çözümlenemiyor: adresi kontrol edin; dosyayı Meta kendisi indirir ve ona da ulaşamayabilir.",
        "warning.link_unreachable": "{field} bağlantısı bu sunucudan çalışmadı ({reason}): kontrol edin; Meta dosyayı gönderim anında indirir, indiremezse mesaj başarısız olur (131053).",
        "warning.window_closed_sandbox": 'Bu sanal ortamda yine de teslim edilir: Meta\'nın yerine geçen sunucu, siz açmadıkça pencereyi uygulamaz (PUT /_sandbox/limits {"window_check": "async"}); böylece metinleri serbestçe deneyebilirsiniz. Meta\'da başarısız olur.',
        "warning.window_closed_fallback": "Alıcının 24 saatlik penceresi gönderim zamanında kapalı olacak: metin yerine {template} yedek şablonu gönderilecek.",
        "warning.undeliverable": "Meta bu numaraya ulaşılamadığını bildirdi (131026: WhatsApp'ta değil, eski uygulama ya da koşullar kabul edilmemiş) ve kişi o zamandan beri yazmadı: mesaj yine başarısız olabilir.",
        "consent.opted_out_all": "Alıcı bu numaradan gelen tüm mesajlardan çıktı ({at}, kaynak: {source}). Yeniden izin verene kadar (BAŞLA yazarak ya da PUT /contacts/…/consent ile) ona hiçbir şey gönderilmez.",
        "consent.opted_out_marketing": "Alıcı bu numaradan gelen pazarlama mesajlarından çıktı ({at}, kaynak: {source}). Hizmet ve kimlik doğrulama şablonları ile metinler yine gider.",
        "warning.template_paused": "Meta {template} şablonunu duraklattı: mesaj, şablon yeniden açılana ya da süresi dolana kadar bekler.",
        "warning.template_unchecked": "{template} şablonu eşitlenen katalogla denetlenemedi; Meta onu gönderimde denetler.",
        "warning.quiet_hours": "Gönderim zamanı {asked} ({zone}), sessiz saatler ({window}) içinde: bunun yerine {moved} saatinde gider. Hemen gitmesi gerekenler için API'de quiet_hours: false verin.",
        "reason.quiet_hours": "Bekliyor: sessiz saatler içinde ({zone} saatiyle); bitişlerinde, {when} saatinde gider.",
        "reason.messaging_limit": "Bekliyor: işletmenin günlük mesajlaşma sınırına (24 saatte tekil kişi) ulaşıldı; bir yer açılınca, {when} saatinde gider.",
        "reason.marketing_limit": "Bekliyor: Meta'nın kişi başı pazarlama sınırı (131049) reddetti; {when} saatinde bir kez daha denenir.",
        "reason.frequency_cap": "Bekliyor: bu kişi MARKETING_FREQUENCY_CAP'in izin verdiği kadar pazarlama mesajı aldı; {when} saatinde gider.",
        "reason.opted_out": "İptal edildi: alıcı mesaj almak istemediğini bildirdi.",
        "message.deferred": "{when} saatine ertelendi: {reason}",
        "template.mark": "şablon",
        "template.fallback_mark": "yedek",
        "message.template": "Şablon",
        "message.language": "Dil",
        "message.parameters": "Parametreler",
        "message.components": "Diğer bileşenler",
        "message.fallback": "Yedek şablon",
        "message.fallback_help": "Gönderim zamanında alıcının 24 saatlik penceresi kapalıysa metin yerine gönderilir (WINDOW_POLICY={policy}).",
        "page.previous": "Önceki sayfa",
        "import.title": "CSV dosyası içe aktar",
        "import.help": "Sütunlar: alıcı, tarih, saat, metin ve isteğe bağlı saat dilimi (başlık satırı; Telefon, Tarih, Saat, Mesaj gibi Türkçe ya da İngilizce adlar). UTF-8 ya da Türkçe Excel'in Windows-1254 kodlaması; ayırıcı , ; ya da sekme; tarih 2026-12-03 ya da 03.12.2026. En fazla 10.000 satır (ve 1 MiB); daha fazlası için CLI kullanın.",
        "import.sample": "Örnek dosyayı indirin",
        "import.file": "CSV dosyası",
        "import.preview": "Önizle",
        "import.zone": "Saat dilimi olmayan satırlar için",
        "import.valid": "geçerli",
        "import.bad": "reddedildi",
        "import.store": "Geçerli satırları kaydet",
        "import.none_valid": "Kaydedilecek geçerli satır yok.",
        "import.storing": "Kaydediliyor…",
        "import.summary": "Kaydedilen {stored}, reddedilen {refused}.",
        "import.summary_already": "Kaydedilen {stored}, önceden kaydedilmiş {already} (yeniden kaydedilmedi), reddedilen {refused}.",
        "import.ok": "tamam",
        "import.template": "Şablon (isteğe bağlı)",
        "import.template_help": "Metin yerine her satıra onaylı bir şablon gönderin: dosyada metin sütunu gerekmez, diğer sütunlar şablonun gövde parametreleridir ({{1}}, {{2}} ... ya da adlı bir şablonun parametre adları). Önizleme her satırın iletisini doldurulmuş gösterir.",
        "import.more_rows": "geçerli satır daha (gösterilmiyor)",
        "import.more_bad": "reddedilen satır daha (gösterilmiyor; yukarıdakileri düzeltip yeniden önizleyin)",
        "live.on": "canlı",
        "live.off": "bağlantı yok",
        "error.title": "Hata",
        "notfound": "Bu kimlikle bir mesaj yok.",
        "unreadable": "Bu mesaj gösterilemiyor: kayıtlı {column} değeri geçerli değil (satır servisin dışında değiştirilmiş). Satırı veritabanında düzeltin ya da silin.",
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


#: The gettext catalogues of the service's rules, one per language besides English.
LOCALE_DIR = Path(__file__).parent / "locale"
RULES_DOMAIN = "rules"


@functools.cache
def rule_catalogue(language: str) -> dict[str, str]:
    """msgid (the English template) -> its translation, from `locale/<language>/LC_MESSAGES/
    rules.po`; {} for English or a language without one. Fuzzy entries are left out."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{RULES_DOMAIN}.po"
    if language == DEFAULT or not path.is_file():
        return {}
    with path.open("rb") as file:
        catalog = pofile.read_po(file, locale=language, domain=RULES_DOMAIN)
    return {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and isinstance(m.id, str) and m.string and not m.fuzzy
    }


def rule_text(error: errors.ValidationFailed, language: str) -> str:
    """`error`'s rule in `language`: its template's translation filled in with its values;
    the English rule when the catalogue has no translation (or it does not fill in)."""
    found = rule_catalogue(language).get(error.template)
    if found is None:
        return error.rule
    try:
        return found.format(**error.params) if error.params else found
    except (KeyError, IndexError, ValueError):  # a translation that lost a placeholder
        logger.warning("rule translation does not fill in: %r (%s)", error.template, language)
        return error.rule


def error_text(error: errors.SchedulerError, language: str) -> str:
    """An error as a reader of `language` sees it: a refused field as `field: rule` in their
    words (the field is the API's name, kept); any other error in the service's words."""
    if isinstance(error, errors.ValidationFailed):
        return f"{error.field}: {rule_text(error, language)}"
    return error.message


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


#: The `status_reason` codes explained in words (`reason.<code>`); the API gives both languages.
REASONS = ("quiet_hours", "messaging_limit", "marketing_limit", "frequency_cap", "opted_out")


def reason_texts(code: str | None, **values: object) -> dict[str, str] | None:
    """`status_reason` in plain words, `{"en": ..., "tr": ...}`; None for no (or an unknown)
    code. `values`: `when` (the new time, as shown) and `zone`."""
    if code not in REASONS:
        return None
    return {lang: TEXTS[lang][f"reason.{code}"].format(**values) for lang in LANGUAGES}


# Retry, send as a template, duplicate, imports (issue 21's bulk actions): kept together so
# the catalogues above stay as they were.
TEXTS["en"].update(
    {
        "retry": "Retry",
        "duplicate": "Duplicate",
        "retry.title": "Retry this message",
        "retry.template_title": "Send as a template instead",
        "retry.help": "A new message ({id}) with the same recipient, sender and content is scheduled; the failed one stays in the history as it is.",
        "retry.template_help": "Outside the recipient's 24-hour window only an approved template reaches them. A new message ({id}) with the template is scheduled; the failed one stays as it is.",
        "retry.pick": "Approved template",
        "retry.params": "Body parameters, one a line",
        "retry.no_templates": "No approved template is synced for the sender {sender}. Create one with Meta, then sync the catalogue.",
        "retry.when": "When",
        "retry.now": "Now",
        "retry.at": "At this date and time:",
        "retry.confirm": "Schedule the retry",
        "retry.template_confirm": "Schedule the template",
        "retry.made": "Scheduled as a new message.",
        "retry.of": "Retry of",
        "retry.retries": "Retried as",
        "retry.as_template": "Send as a template instead",
        "retry.not_failed": "Only a failed message can be retried; this one is {status}.",
        "retry.not_131047": "Sending as a template is offered only for a message that failed with Meta's code 131047 (the recipient's 24-hour window was closed); this one's code is {code}. Use Retry instead.",
        "retry.too_many": "This message has been retried {n} times already; duplicate it instead.",
        "bulk_retry.select_all": "Select all failed ones on this page",
        "bulk_retry.button": "Retry selected",
        "bulk_retry.title": "Retry the selected messages?",
        "bulk_retry.question": "A new message is scheduled for each of these {n}, now or at the time chosen below; the failed ones stay as they are.",
        "bulk_retry.zone_shown": "in {zone} (the dashboard's time zone): one moment for all",
        "bulk_retry.zone_own": "at that time in each message's own time zone",
        "bulk_retry.bad_time": "Choose a date and time from now on.",
        "bulk_retry.confirm": "Yes, retry {n} messages",
        "bulk_retry.not_retryable": "(not failed: not retried)",
        "bulk_retry.nothing": "None of the selected messages failed: nothing to retry.",
        "bulk_retry.done": "{made} retried as new messages; {refused} refused.",
        "bulk_retry.result": "Result",
        "bulk_retry.made": "new message",
        "imports.title": "Recent imports",
        "imports.help": "The CSV files imported on the Import page (known by their rows' ids, csv-<digest>-<line>; a file with its own id column is not listed), latest first, with their messages by status.",
        "imports.id": "Import",
        "imports.total": "Messages",
        "imports.by_status": "By status",
        "imports.next_due": "Next due",
        "imports.empty": "No import with messages still queued or recently finished.",
        "imports.one": "Import {id}",
        "imports.cancel": "Cancel the {n} still queued",
        "imports.still_to_go": "Still to be sent",
        "imports.this_one": "Once stored, this import is listed as",
    }
)
TEXTS["tr"].update(
    {
        "retry": "Yeniden dene",
        "duplicate": "Kopyala",
        "retry.title": "Bu mesajı yeniden dene",
        "retry.template_title": "Bunun yerine şablon gönder",
        "retry.help": "Aynı alıcı, gönderen ve içerikle yeni bir mesaj ({id}) zamanlanır; başarısız olan geçmişte olduğu gibi kalır.",
        "retry.template_help": "Alıcının 24 saatlik penceresi dışında ona yalnızca onaylı bir şablon ulaşır. Şablonla yeni bir mesaj ({id}) zamanlanır; başarısız olan olduğu gibi kalır.",
        "retry.pick": "Onaylı şablon",
        "retry.params": "Gövde parametreleri, her satıra bir tane",
        "retry.no_templates": "{sender} göndereni için eşitlenmiş onaylı şablon yok. Meta'da bir şablon oluşturun, sonra kataloğu eşitleyin.",
        "retry.when": "Ne zaman",
        "retry.now": "Şimdi",
        "retry.at": "Şu tarih ve saatte:",
        "retry.confirm": "Yeniden denemeyi zamanla",
        "retry.template_confirm": "Şablonu zamanla",
        "retry.made": "Yeni bir mesaj olarak zamanlandı.",
        "retry.of": "Şunun yeniden denemesi",
        "retry.retries": "Yeniden denemeleri",
        "retry.as_template": "Bunun yerine şablon gönder",
        "retry.not_failed": "Yalnızca başarısız bir mesaj yeniden denenebilir; bu mesajın durumu: {status}.",
        "retry.not_131047": "Şablon olarak gönderme yalnızca Meta'nın 131047 koduyla (alıcının 24 saatlik penceresi kapalıydı) başarısız olan mesajlar için sunulur; bu mesajın kodu {code}. Bunun yerine Yeniden dene'yi kullanın.",
        "retry.too_many": "Bu mesaj zaten {n} kez yeniden denendi; bunun yerine kopyalayın.",
        "bulk_retry.select_all": "Bu sayfadaki başarısızların tümünü seç",
        "bulk_retry.button": "Seçilenleri yeniden dene",
        "bulk_retry.title": "Seçilen mesajlar yeniden denensin mi?",
        "bulk_retry.question": "Bu {n} mesajın her biri için hemen ya da aşağıda seçilen saatte gönderilecek yeni bir mesaj zamanlanır; başarısız olanlar olduğu gibi kalır.",
        "bulk_retry.zone_shown": "{zone} saatiyle (panelin saat dilimi): hepsi aynı anda",
        "bulk_retry.zone_own": "her mesajın kendi saat diliminde bu saatte",
        "bulk_retry.bad_time": "Şu andan sonraki bir tarih ve saat seçin.",
        "bulk_retry.confirm": "Evet, {n} mesajı yeniden dene",
        "bulk_retry.not_retryable": "(başarısız değil: yeniden denenmedi)",
        "bulk_retry.nothing": "Seçilen mesajların hiçbiri başarısız olmadı: yeniden denenecek bir şey yok.",
        "bulk_retry.done": "{made} mesaj yeni mesaj olarak yeniden denendi; {refused} reddedildi.",
        "bulk_retry.result": "Sonuç",
        "bulk_retry.made": "yeni mesaj",
        "imports.title": "Son içe aktarmalar",
        "imports.help": "İçe aktar sayfasında yüklenen CSV dosyaları (satırlarının kimliğiyle bilinir, csv-<özet>-<satır>; kendi kimlik sütunu olan dosyalar listelenmez), en yenisi önce, mesajlarının durumlarıyla.",
        "imports.id": "İçe aktarma",
        "imports.total": "Mesaj",
        "imports.by_status": "Duruma göre",
        "imports.next_due": "Sıradaki",
        "imports.empty": "Hâlâ kuyrukta ya da yakın zamanda tamamlanmış mesajı olan bir içe aktarma yok.",
        "imports.one": "İçe aktarma {id}",
        "imports.cancel": "Kuyruktaki {n} mesajı iptal et",
        "imports.still_to_go": "Henüz gönderilmeyenler",
        "imports.this_one": "Kaydedildikten sonra bu içe aktarma şu adla listelenir:",
    }
)


# -- dates, numbers and relative times in the reader's language (Babel's CLDR data) ----------
#: Dates as each language's readers write them: ISO in English (as the API and the CSVs have
#: them), day first with dots in Turkish ("03.12.2026"). CLDR patterns, formatted by Babel.
DATE_PATTERNS = {"en": "yyyy-MM-dd", "tr": "dd.MM.yyyy"}


def _locale(language: str) -> str:
    return language if language in LANGUAGES else DEFAULT


def format_day(day: date | str, language: str) -> str:
    """A calendar day (a date, or the `YYYY-MM-DD...` the client gave) in `language`; a string
    that is not a date is shown as it is."""
    if isinstance(day, str):
        text = day[:10]
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return text
    lang = _locale(language)
    return babel_dates.format_date(day, DATE_PATTERNS[lang], locale=lang)


def format_moment(when: datetime, language: str) -> str:
    """A local date and time to the second: `2026-12-03 14:30:05`, `03.12.2026 14:30:05`."""
    lang = _locale(language)
    return babel_dates.format_datetime(when, f"{DATE_PATTERNS[lang]} HH:mm:ss", locale=lang)


def time_left(due_at: datetime, now: datetime, language: str) -> str:
    """How long until `due_at`, in words: "in 2 days", "2 gün sonra", "3 saat sonra" (Babel's
    rounding: the largest unit that is at least 0.85 of one); "" when due."""
    left = due_at - now
    if left.total_seconds() <= 0:
        return ""
    return babel_dates.format_timedelta(left, add_direction=True, locale=_locale(language))


def format_number(value: int | float, language: str) -> str:
    """`12,345` in English, `12.345` in Turkish."""
    return babel_numbers.format_decimal(value, locale=_locale(language))
