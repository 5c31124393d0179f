"""Meta's Cloud API error codes: ONE table of what each code means to this service.

Pure (no I/O). For each Graph `error.code` the table gives:

- its class (`ErrorClass`): what `whatsapp/cloud_api.py` raises for it, i.e. what the retry
  policy (`dispatch/retries.py`) will do: retry soon (rate-limited), retry with back-off
  (temporary), pause the whole number (account) or fail the message (permanent);
- its own retry rule (`RetryRule`), for the codes that have one: 131056 (pair rate, retry
  after 4^x s), 130429 (throughput, hold the whole number and halve its rate) and Meta's
  "service unavailable" codes 2, 131016 and 133004 (an outage: `is_outage_code`);
- a short title (Meta's own where it is short);
- the explanation for people, in English and Turkish (dashboard and CLI, via `explain()`).

`RANGES` covers the blocks Meta documents as one entry (200-299: a permission not granted or
removed). A code in neither `CODES` nor `RANGES` is `PERMANENT` (`UNKNOWN_CLASS`): an unknown
code is never retried. The code decides, never the HTTP status; only an answer without a Graph
error falls back on the status (`cloud_api.parse_response`). The facts and their sources at
Meta: docs/meta-cloud-api.md, "Error codes"; what the dispatcher does with each class:
docs/dispatcher.md, "Retry table".

The sandbox's stand-in has its own catalogue (`sandbox/graph_errors.py`) on purpose: it plays
Meta, so it must not learn Meta's codes from the client it tests.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final


class ErrorClass(enum.StrEnum):
    """What the sender raises for a code (`cloud_api.classify`)."""

    RATE_LIMITED = "rate_limited"  # errors.RateLimited: the same request succeeds after a wait
    TEMPORARY = "temporary"  # errors.TemporaryFailure: Meta failed for now; back-off and retry
    ACCOUNT = "account"  # errors.AccountFailure: token, account or number unusable; pause it
    PERMANENT = "permanent"  # errors.PermanentFailure: this message will never succeed as it is


class RetryRule(enum.StrEnum):
    """A code's own retry rule, on top of what its class implies."""

    #: Retry after 4^x s, x = attempts so far (Meta's advice), capped (`dispatch/retries.py`).
    PAIR_RATE = "pair_rate"
    #: Hold every send from the number (retry-after, else 1 s) and halve its rate
    #: (`dispatch/dispatcher.py`, `dispatch/ratelimit.py`); the message is retried as usual.
    THROUGHPUT = "throughput"
    #: Meta's service itself is down ("service unavailable"), not this message: the failure
    #: counts toward the sender's circuit breaker (`dispatch/breaker.py`) like a 5xx without
    #: a body, a timeout or a refused connection.
    OUTAGE = "outage"


@dataclasses.dataclass(frozen=True, slots=True)
class MetaError:
    """One row of the table."""

    kind: ErrorClass
    title: str
    english: str
    turkish: str
    retry: RetryRule | None = None


#: Too many messages to one recipient too quickly (retry after 4^x s).
PAIR_RATE_CODE: Final = 131056
#: Too many messages per second from one business number (hold the number, slow down).
THROUGHPUT_CODE: Final = 130429
#: Meta's per-user marketing limit: wait 24 h, one more try, then failed (docs/limits.md).
MARKETING_LIMIT_CODE: Final = 131049
#: The class of a code that is in neither `CODES` nor `RANGES`.
UNKNOWN_CLASS: Final = ErrorClass.PERMANENT


#: code -> its row. Ordered by code.
CODES: Final[Mapping[int, MetaError]] = MappingProxyType(
    {
        0: MetaError(
            ErrorClass.ACCOUNT,
            "AuthException",
            "Meta could not authenticate the app: the access token expired or was revoked. Get a new token.",
            "Meta uygulamayı doğrulayamadı: erişim anahtarı (token) süresi dolmuş ya da iptal edilmiş. Yeni bir token alın.",
        ),
        1: MetaError(
            ErrorClass.TEMPORARY,
            "API Unknown",
            "Invalid request or a possible error on Meta's side; retried a few times.",
            "Geçersiz istek ya da Meta tarafında olası bir hata; birkaç kez yeniden denenir.",
        ),
        2: MetaError(
            ErrorClass.TEMPORARY,
            "API Service",
            "Meta was temporarily down or overloaded; retried later.",
            "Meta geçici olarak kapalı ya da aşırı yüklü; daha sonra yeniden denenir.",
            retry=RetryRule.OUTAGE,
        ),
        3: MetaError(
            ErrorClass.PERMANENT,
            "API Method",
            "The app lacks a capability or permission for this call.",
            "Uygulamanın bu işlem için yetkisi yok.",
        ),
        4: MetaError(
            ErrorClass.RATE_LIMITED,
            "API Too Many Calls",
            "The app hit Meta's API call rate limit; sending slows down and retries later.",
            "Uygulama Meta'nın API çağrı sınırına ulaştı; gönderim yavaşlar ve sonra yeniden denenir.",
        ),
        10: MetaError(
            ErrorClass.ACCOUNT,
            "Permission Denied",
            "A permission was not granted or was removed.",
            "Bir izin verilmemiş ya da geri alınmış.",
        ),
        17: MetaError(
            ErrorClass.RATE_LIMITED,
            "User request limit reached",
            "Too many requests for this user; retried later.",
            "Bu kullanıcı için çok fazla istek; daha sonra yeniden denenir.",
        ),
        33: MetaError(
            ErrorClass.ACCOUNT,
            "Parameter value is not valid",
            "The business phone number has been deleted.",
            "İşletme telefon numarası silinmiş.",
        ),
        100: MetaError(
            ErrorClass.PERMANENT,
            "Invalid parameter",
            "A parameter is unsupported, misspelled or too long: the request must be fixed.",
            "Bir parametre desteklenmiyor, yanlış yazılmış ya da çok uzun: istek düzeltilmeli.",
        ),
        190: MetaError(
            ErrorClass.ACCOUNT,
            "Access token has expired",
            "The access token expired: sending is paused until a new token is set.",
            "Erişim anahtarının (token) süresi doldu: yeni token girilene kadar gönderim durur.",
        ),
        200: MetaError(
            ErrorClass.ACCOUNT,
            "Provide valid app ID",
            "No valid access token was provided.",
            "Geçerli bir erişim anahtarı verilmedi.",
        ),
        368: MetaError(
            ErrorClass.ACCOUNT,
            "Temporarily blocked for policies violations",
            "The WhatsApp Business account is restricted for a policy violation: sending is paused.",
            "WhatsApp Business hesabı bir politika ihlali nedeniyle kısıtlandı: gönderim durur.",
        ),
        80007: MetaError(
            ErrorClass.RATE_LIMITED,
            "Rate limit issues",
            "The WhatsApp Business account reached its rate limit; retried later.",
            "WhatsApp Business hesabı hız sınırına ulaştı; daha sonra yeniden denenir.",
        ),
        130403: MetaError(
            ErrorClass.PERMANENT,
            "Business has blocked this user",
            "The business has blocked this user; the message is not sent.",
            "İşletme bu kullanıcıyı engellemiş; mesaj gönderilmez.",
        ),
        THROUGHPUT_CODE: MetaError(  # 130429
            ErrorClass.RATE_LIMITED,
            "Rate limit hit",
            "Too many messages per second from this number; retried shortly.",
            "Bu numaradan saniyede çok fazla mesaj; kısa süre sonra yeniden denenir.",
            retry=RetryRule.THROUGHPUT,
        ),
        130472: MetaError(
            ErrorClass.PERMANENT,
            "User's number is part of an experiment",
            "The user is part of a Meta experiment; the message was not sent (and not billed).",
            "Kullanıcı bir Meta deneyinde; mesaj gönderilmedi (ücretlendirilmedi).",
        ),
        130497: MetaError(
            ErrorClass.PERMANENT,
            "Messaging to this country is restricted",
            "This account may not message users in that country.",
            "Bu hesap o ülkedeki kullanıcılara mesaj gönderemez.",
        ),
        131000: MetaError(
            ErrorClass.TEMPORARY,
            "Something went wrong",
            "Meta reported an unknown failure; retried a few times.",
            "Meta bilinmeyen bir hata bildirdi; birkaç kez yeniden denenir.",
        ),
        131005: MetaError(
            ErrorClass.PERMANENT,
            "Access denied",
            "A permission was not granted or was removed.",
            "Bir izin verilmemiş ya da geri alınmış.",
        ),
        131008: MetaError(
            ErrorClass.PERMANENT,
            "Required parameter is missing",
            "A required parameter is missing.",
            "Gerekli bir parametre eksik.",
        ),
        131009: MetaError(
            ErrorClass.PERMANENT,
            "Parameter value is not valid",
            "A parameter value is invalid.",
            "Bir parametre değeri geçersiz.",
        ),
        131016: MetaError(
            ErrorClass.TEMPORARY,
            "Service unavailable",
            "A Meta service is temporarily unavailable; retried later.",
            "Bir Meta hizmeti geçici olarak kullanılamıyor; daha sonra yeniden denenir.",
            retry=RetryRule.OUTAGE,
        ),
        131021: MetaError(
            ErrorClass.PERMANENT,
            "Recipient cannot be sender",
            "The sender and the recipient are the same number.",
            "Gönderen ve alıcı aynı numara.",
        ),
        131026: MetaError(
            ErrorClass.PERMANENT,
            "Message undeliverable",
            "Undeliverable: the number is not on WhatsApp, or the user has not accepted the terms or uses an old app.",
            "Teslim edilemedi: numara WhatsApp'ta değil ya da kullanıcı koşulları kabul etmemiş veya eski bir uygulama kullanıyor.",
        ),
        131030: MetaError(
            ErrorClass.PERMANENT,
            "Recipient not in allowed list",
            "The recipient is not on the test number's allowed list: add it in Meta's dashboard.",
            "Alıcı test numarasının izinli listesinde değil: Meta panelinden ekleyin.",
        ),
        131031: MetaError(
            ErrorClass.ACCOUNT,
            "Business Account locked",
            "The business account is locked: sending is paused.",
            "İşletme hesabı kilitlendi: gönderim durur.",
        ),
        131037: MetaError(
            ErrorClass.PERMANENT,
            "Display name approval needed",
            "The number has no approved display name yet.",
            "Numaranın henüz onaylı bir görünen adı yok.",
        ),
        131042: MetaError(
            ErrorClass.ACCOUNT,
            "Business eligibility payment issue",
            "A payment or billing problem at Meta: fix the payment method.",
            "Meta'da ödeme ya da faturalama sorunu: ödeme yöntemini düzeltin.",
        ),
        131045: MetaError(
            ErrorClass.ACCOUNT,
            "Incorrect certificate",
            "The phone number is not registered correctly.",
            "Telefon numarası doğru kaydedilmemiş.",
        ),
        131047: MetaError(
            ErrorClass.PERMANENT,
            "Re-engagement message",
            "The 24-hour window is closed: the person has not written to you in the last 24 hours, so only a template message can reach them.",
            "24 saatlik pencere kapandı: kişi son 24 saatte size yazmadı; ona yalnızca şablon (template) mesajı ulaşabilir.",
        ),
        131048: MetaError(
            ErrorClass.ACCOUNT,
            "Spam rate limit hit",
            "Spam rate limit: this number is restricted after blocks or spam reports; sending is paused.",
            "Spam sınırı: engellemeler ya da spam bildirimleri nedeniyle numara kısıtlandı; gönderim durur.",
        ),
        131049: MetaError(
            ErrorClass.PERMANENT,
            "Not delivered for healthy ecosystem engagement",
            "Not delivered to keep engagement healthy (per-user marketing limit); wait at least 24 hours.",
            "Etkileşimi korumak için teslim edilmedi (kullanıcı başına pazarlama sınırı); en az 24 saat bekleyin.",
        ),
        131050: MetaError(
            ErrorClass.PERMANENT,
            "User stopped marketing messages",
            "The user stopped marketing messages from you.",
            "Kullanıcı sizden gelen pazarlama mesajlarını durdurdu.",
        ),
        131051: MetaError(
            ErrorClass.PERMANENT,
            "Unsupported message type",
            "Unsupported message type.",
            "Desteklenmeyen mesaj türü.",
        ),
        131052: MetaError(
            ErrorClass.PERMANENT,
            "Media download error",
            "Media the user sent could not be downloaded.",
            "Kullanıcının gönderdiği medya indirilemedi.",
        ),
        131053: MetaError(
            ErrorClass.PERMANENT,
            "Media upload error",
            "The media in the message could not be uploaded.",
            "Mesajdaki medya yüklenemedi.",
        ),
        PAIR_RATE_CODE: MetaError(  # 131056
            ErrorClass.RATE_LIMITED,
            "Pair rate limit hit",
            "Too many messages to the same recipient too quickly; retried later.",
            "Aynı alıcıya çok kısa sürede çok fazla mesaj; daha sonra yeniden denenir.",
            retry=RetryRule.PAIR_RATE,
        ),
        131057: MetaError(
            ErrorClass.TEMPORARY,
            "Account in maintenance mode",
            "The business account is in maintenance mode; retried in about a minute.",
            "İşletme hesabı bakım modunda; yaklaşık bir dakika sonra yeniden denenir.",
        ),
        131063: MetaError(
            ErrorClass.PERMANENT,
            "Marketing messages disabled",
            "Marketing templates are disabled on the Cloud API for this account.",
            "Bu hesapta Cloud API üzerinden pazarlama şablonları kapalı.",
        ),
        131064: MetaError(
            ErrorClass.PERMANENT,
            "Messaging limited",
            "Messaging is limited because of template classification violations.",
            "Şablon sınıflandırma ihlalleri nedeniyle mesajlaşma kısıtlandı.",
        ),
        132000: MetaError(
            ErrorClass.PERMANENT,
            "Template Param Count Mismatch",
            "The number of parameters does not match the template.",
            "Parametre sayısı şablonla uyuşmuyor.",
        ),
        132001: MetaError(
            ErrorClass.PERMANENT,
            "Template does not exist",
            "The template does not exist in that language or is not approved.",
            "Şablon o dilde yok ya da onaylanmamış.",
        ),
        132005: MetaError(
            ErrorClass.PERMANENT,
            "Template Hydrated Text Too Long",
            "The filled-in template text is too long.",
            "Doldurulmuş şablon metni çok uzun.",
        ),
        132007: MetaError(
            ErrorClass.PERMANENT,
            "Template Format Character Policy Violated",
            "The template content violates a policy.",
            "Şablon içeriği bir politikayı ihlal ediyor.",
        ),
        132012: MetaError(
            ErrorClass.PERMANENT,
            "Template Parameter Format Mismatch",
            "Template parameter values are formatted incorrectly.",
            "Şablon parametre değerleri yanlış biçimlendirilmiş.",
        ),
        132015: MetaError(
            ErrorClass.PERMANENT,
            "Template is Paused",
            "The template is paused for low quality.",
            "Şablon düşük kalite nedeniyle duraklatıldı.",
        ),
        132016: MetaError(
            ErrorClass.PERMANENT,
            "Template is Disabled",
            "The template is permanently disabled.",
            "Şablon kalıcı olarak devre dışı.",
        ),
        133004: MetaError(
            ErrorClass.TEMPORARY,
            "Server Temporarily Unavailable",
            "Meta's server is temporarily unavailable; retried later.",
            "Meta sunucusu geçici olarak kullanılamıyor; daha sonra yeniden denenir.",
            retry=RetryRule.OUTAGE,
        ),
        133010: MetaError(
            ErrorClass.ACCOUNT,
            "Phone number Not Registered",
            "The phone number is not registered on the platform.",
            "Telefon numarası platforma kayıtlı değil.",
        ),
        135000: MetaError(
            ErrorClass.PERMANENT,
            "Generic user error",
            "Unknown error in the request parameters.",
            "İstek parametrelerinde bilinmeyen hata.",
        ),
        2494100: MetaError(
            ErrorClass.TEMPORARY,
            "Account in maintenance mode",
            "The phone number is in maintenance mode; retried in a few minutes.",
            "Telefon numarası bakım modunda; birkaç dakika sonra yeniden denenir.",
        ),
    }
)

#: Blocks of codes Meta documents as one entry; an entry in `CODES` wins over its block.
RANGES: Final[tuple[tuple[range, MetaError], ...]] = (
    (
        range(200, 300),
        MetaError(
            ErrorClass.ACCOUNT,
            "API Permission",
            "A permission was not granted or was removed.",
            "Bir izin verilmemiş ya da geri alınmış.",
        ),
    ),
)


def lookup(code: int | None) -> MetaError | None:
    """The row for Meta error `code` (its own, else its block's), or None if the table lacks it."""
    if code is None:
        return None
    entry = CODES.get(code)
    if entry is not None:
        return entry
    for codes, block in RANGES:
        if code in codes:
            return block
    return None


def error_class(code: int) -> ErrorClass:
    """What the sender raises for `code`; `UNKNOWN_CLASS` for a code outside the table."""
    entry = lookup(code)
    return UNKNOWN_CLASS if entry is None else entry.kind


def is_outage_code(code: int | None) -> bool:
    """Whether `code` says Meta's service is down (`RetryRule.OUTAGE`), not this message."""
    entry = lookup(code)
    return entry is not None and entry.retry is RetryRule.OUTAGE


def explain(code: int | None, language: str = "en") -> str | None:
    """Plain words for Meta error `code` in `language` ("en" or "tr"), or None if unknown."""
    entry = lookup(code)
    if entry is None:
        return None
    return entry.turkish if language == "tr" else entry.english


__all__ = [
    "CODES",
    "PAIR_RATE_CODE",
    "RANGES",
    "THROUGHPUT_CODE",
    "UNKNOWN_CLASS",
    "ErrorClass",
    "MetaError",
    "RetryRule",
    "error_class",
    "explain",
    "is_outage_code",
    "lookup",
]
