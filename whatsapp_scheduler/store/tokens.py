"""Senders' access tokens at rest: Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`)
with the keys in SECRET_KEY.

SECRET_KEY holds one or more Fernet keys, comma-separated: the first encrypts, every one
decrypts (`MultiFernet`). Rotating it is: put a new key first, run `whatsapp-scheduler senders
reencrypt` (every stored token is encrypted again with the first key), then drop the old key
(docs/operations.md). A token is decrypted only by `SenderDirectory` for the dispatcher; it is
never logged, and an error here never shows a token or a key.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from whatsapp_scheduler.core import errors

#: How to make a key, shown in every error about SECRET_KEY.
MAKE_KEY = (
    'python3 -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


class TokenUnreadable(errors.SchedulerError):
    """A stored access token cannot be decrypted with any key in SECRET_KEY."""


class TokenCipher:
    """Encrypts and decrypts access tokens with the keys of SECRET_KEY."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise errors.ConfigurationError(f"SECRET_KEY is empty; make a key with: {MAKE_KEY}")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode()))
            except (ValueError, TypeError):
                raise errors.ConfigurationError(
                    f"SECRET_KEY: key {position} of {len(keys)} is not a Fernet key (32 "
                    f"url-safe base64-encoded bytes); make one with: {MAKE_KEY}"
                ) from None
        self._fernet = MultiFernet(fernets)
        self.key_count = len(keys)

    @classmethod
    def from_secret(cls, secret: str) -> TokenCipher:
        """The cipher of a SECRET_KEY value: keys separated by commas, the first encrypts."""
        return cls([part.strip() for part in secret.split(",") if part.strip()])

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode("ascii")

    def decrypt(self, encrypted: str) -> str:
        try:
            return self._fernet.decrypt(encrypted.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise TokenUnreadable() from None

    def reencrypt(self, encrypted: str) -> str:
        """The same token encrypted with the first key (for `senders reencrypt`)."""
        try:
            return self._fernet.rotate(encrypted.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise TokenUnreadable() from None

    def __repr__(self) -> str:  # never show a key
        return f"TokenCipher(keys={self.key_count})"
