"""Meta's Cloud API error codes in plain words, in English and Turkish, for people.

Pure. Paraphrased from whatsapp-cloud-api.md §4.4 (Meta's error-code table): what the code
means and what to do about it. The dispatcher decides retries on its own (errors.py); this
module only explains, e.g. on the dashboard's message page and in the CLI client.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

#: code -> (English, Turkish)
EXPLANATIONS: dict[int, tuple[str, str]] = {
    0: (
        "Meta could not authenticate the app: the access token expired or was revoked. Get a new token.",
        "Meta uygulamayı doğrulayamadı: erişim anahtarı (token) süresi dolmuş ya da iptal edilmiş. Yeni bir token alın.",
    ),
    1: (
        "Invalid request or a possible error on Meta's side; retried a few times.",
        "Geçersiz istek ya da Meta tarafında olası bir hata; birkaç kez yeniden denenir.",
    ),
    2: (
        "Meta was temporarily down or overloaded; retried later.",
        "Meta geçici olarak kapalı ya da aşırı yüklü; daha sonra yeniden denenir.",
    ),
    3: (
        "The app lacks a capability or permission for this call.",
        "Uygulamanın bu işlem için yetkisi yok.",
    ),
    4: (
        "The app hit Meta's API call rate limit; sending slows down and retries later.",
        "Uygulama Meta'nın API çağrı sınırına ulaştı; gönderim yavaşlar ve sonra yeniden denenir.",
    ),
    10: (
        "A permission was not granted or was removed.",
        "Bir izin verilmemiş ya da geri alınmış.",
    ),
    17: (
        "Too many requests for this user; retried later.",
        "Bu kullanıcı için çok fazla istek; daha sonra yeniden denenir.",
    ),
    33: ("The business phone number has been deleted.", "İşletme telefon numarası silinmiş."),
    100: (
        "A parameter is unsupported, misspelled or too long: the request must be fixed.",
        "Bir parametre desteklenmiyor, yanlış yazılmış ya da çok uzun: istek düzeltilmeli.",
    ),
    190: (
        "The access token expired: sending is paused until a new token is set.",
        "Erişim anahtarının (token) süresi doldu: yeni token girilene kadar gönderim durur.",
    ),
    200: ("No valid access token was provided.", "Geçerli bir erişim anahtarı verilmedi."),
    368: (
        "The WhatsApp Business account is restricted for a policy violation: sending is paused.",
        "WhatsApp Business hesabı bir politika ihlali nedeniyle kısıtlandı: gönderim durur.",
    ),
    80007: (
        "The WhatsApp Business account reached its rate limit; retried later.",
        "WhatsApp Business hesabı hız sınırına ulaştı; daha sonra yeniden denenir.",
    ),
    130403: (
        "The business has blocked this user; the message is not sent.",
        "İşletme bu kullanıcıyı engellemiş; mesaj gönderilmez.",
    ),
    130429: (
        "Too many messages per second from this number; retried shortly.",
        "Bu numaradan saniyede çok fazla mesaj; kısa süre sonra yeniden denenir.",
    ),
    130472: (
        "The user is part of a Meta experiment; the message was not sent (and not billed).",
        "Kullanıcı bir Meta deneyinde; mesaj gönderilmedi (ücretlendirilmedi).",
    ),
    130497: (
        "This account may not message users in that country.",
        "Bu hesap o ülkedeki kullanıcılara mesaj gönderemez.",
    ),
    131000: (
        "Meta reported an unknown failure; retried a few times.",
        "Meta bilinmeyen bir hata bildirdi; birkaç kez yeniden denenir.",
    ),
    131005: (
        "A permission was not granted or was removed.",
        "Bir izin verilmemiş ya da geri alınmış.",
    ),
    131008: ("A required parameter is missing.", "Gerekli bir parametre eksik."),
    131009: ("A parameter value is invalid.", "Bir parametre değeri geçersiz."),
    131016: (
        "A Meta service is temporarily unavailable; retried later.",
        "Bir Meta hizmeti geçici olarak kullanılamıyor; daha sonra yeniden denenir.",
    ),
    131021: (
        "The sender and the recipient are the same number.",
        "Gönderen ve alıcı aynı numara.",
    ),
    131026: (
        "Undeliverable: the number is not on WhatsApp, or the user has not accepted the terms or uses an old app.",
        "Teslim edilemedi: numara WhatsApp'ta değil ya da kullanıcı koşulları kabul etmemiş veya eski bir uygulama kullanıyor.",
    ),
    131030: (
        "The recipient is not on the test number's allowed list: add it in Meta's dashboard.",
        "Alıcı test numarasının izinli listesinde değil: Meta panelinden ekleyin.",
    ),
    131031: (
        "The business account is locked: sending is paused.",
        "İşletme hesabı kilitlendi: gönderim durur.",
    ),
    131037: (
        "The number has no approved display name yet.",
        "Numaranın henüz onaylı bir görünen adı yok.",
    ),
    131042: (
        "A payment or billing problem at Meta: fix the payment method.",
        "Meta'da ödeme ya da faturalama sorunu: ödeme yöntemini düzeltin.",
    ),
    131045: (
        "The phone number is not registered correctly.",
        "Telefon numarası doğru kaydedilmemiş.",
    ),
    131047: (
        "The 24-hour window is closed: the person has not written to you in the last 24 hours, so only a template message can reach them.",
        "24 saatlik pencere kapandı: kişi son 24 saatte size yazmadı; ona yalnızca şablon (template) mesajı ulaşabilir.",
    ),
    131048: (
        "Spam rate limit: this number is restricted after blocks or spam reports; sending is paused.",
        "Spam sınırı: engellemeler ya da spam bildirimleri nedeniyle numara kısıtlandı; gönderim durur.",
    ),
    131049: (
        "Not delivered to keep engagement healthy (per-user marketing limit); wait at least 24 hours.",
        "Etkileşimi korumak için teslim edilmedi (kullanıcı başına pazarlama sınırı); en az 24 saat bekleyin.",
    ),
    131050: (
        "The user stopped marketing messages from you.",
        "Kullanıcı sizden gelen pazarlama mesajlarını durdurdu.",
    ),
    131051: ("Unsupported message type.", "Desteklenmeyen mesaj türü."),
    131052: (
        "Media the user sent could not be downloaded.",
        "Kullanıcının gönderdiği medya indirilemedi.",
    ),
    131053: (
        "The media in the message could not be uploaded.",
        "Mesajdaki medya yüklenemedi.",
    ),
    131056: (
        "Too many messages to the same recipient too quickly; retried later.",
        "Aynı alıcıya çok kısa sürede çok fazla mesaj; daha sonra yeniden denenir.",
    ),
    131057: (
        "The business account is in maintenance mode; retried in about a minute.",
        "İşletme hesabı bakım modunda; yaklaşık bir dakika sonra yeniden denenir.",
    ),
    131063: (
        "Marketing templates are disabled on the Cloud API for this account.",
        "Bu hesapta Cloud API üzerinden pazarlama şablonları kapalı.",
    ),
    131064: (
        "Messaging is limited because of template classification violations.",
        "Şablon sınıflandırma ihlalleri nedeniyle mesajlaşma kısıtlandı.",
    ),
    132000: (
        "The number of parameters does not match the template.",
        "Parametre sayısı şablonla uyuşmuyor.",
    ),
    132001: (
        "The template does not exist in that language or is not approved.",
        "Şablon o dilde yok ya da onaylanmamış.",
    ),
    132005: ("The filled-in template text is too long.", "Doldurulmuş şablon metni çok uzun."),
    132007: (
        "The template content violates a policy.",
        "Şablon içeriği bir politikayı ihlal ediyor.",
    ),
    132012: (
        "Template parameter values are formatted incorrectly.",
        "Şablon parametre değerleri yanlış biçimlendirilmiş.",
    ),
    132015: (
        "The template is paused for low quality.",
        "Şablon düşük kalite nedeniyle duraklatıldı.",
    ),
    132016: ("The template is permanently disabled.", "Şablon kalıcı olarak devre dışı."),
    133004: (
        "Meta's server is temporarily unavailable; retried later.",
        "Meta sunucusu geçici olarak kullanılamıyor; daha sonra yeniden denenir.",
    ),
    133010: (
        "The phone number is not registered on the platform.",
        "Telefon numarası platforma kayıtlı değil.",
    ),
    135000: (
        "Unknown error in the request parameters.",
        "İstek parametrelerinde bilinmeyen hata.",
    ),
    2494100: (
        "The phone number is in maintenance mode; retried in a few minutes.",
        "Telefon numarası bakım modunda; birkaç dakika sonra yeniden denenir.",
    ),
}


def explain(code: int | None, language: str = "en") -> str | None:
    """Plain words for Meta error `code` in `language` ("en" or "tr"), or None if unknown."""
    if code is None:
        return None
    pair = EXPLANATIONS.get(code)
    if pair is None and 200 <= code <= 299:
        pair = EXPLANATIONS[10]
    if pair is None:
        return None
    return pair[1] if language == "tr" else pair[0]
