"""Access tokens at rest: Fernet with the keys of SECRET_KEY (store/tokens.py)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from whatsapp_scheduler.core import errors
from whatsapp_scheduler.store import tokens

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_a_token_is_encrypted_and_decrypted_never_kept_in_clear():
    cipher = tokens.TokenCipher.from_secret(OLD)
    encrypted = cipher.encrypt("EAAG-secret-token")
    assert "EAAG" not in encrypted
    assert encrypted != cipher.encrypt("EAAG-secret-token")  # a fresh IV each time
    assert cipher.decrypt(encrypted) == "EAAG-secret-token"
    assert OLD not in repr(cipher)


def test_rotation_new_key_first_old_still_decrypts_then_reencrypt_drops_it():
    encrypted = tokens.TokenCipher.from_secret(OLD).encrypt("t0k")
    both = tokens.TokenCipher.from_secret(f"{NEW}, {OLD}")
    assert both.decrypt(encrypted) == "t0k"
    fresh = both.reencrypt(encrypted)
    only_new = tokens.TokenCipher.from_secret(NEW)
    assert only_new.decrypt(fresh) == "t0k"
    with pytest.raises(tokens.TokenUnreadable):
        only_new.decrypt(encrypted)  # the old key's token: no key decrypts it
    with pytest.raises(tokens.TokenUnreadable):
        only_new.reencrypt(encrypted)
    with pytest.raises(tokens.TokenUnreadable):
        only_new.decrypt("not a token at all ü")


@pytest.mark.parametrize(
    ("secret", "which"), [("short", "key 1 of 1"), (f"{OLD},nope", "key 2 of 2")]
)
def test_a_malformed_key_is_a_clear_configuration_error(secret, which):
    with pytest.raises(errors.ConfigurationError, match=which) as refused:
        tokens.TokenCipher.from_secret(secret)
    assert "Fernet.generate_key" in refused.value.message
    with pytest.raises(errors.ConfigurationError, match="empty"):
        tokens.TokenCipher.from_secret(" , ")


def test_settings_check_the_keys_at_start(make_settings):
    assert make_settings(secret_key=f"{NEW},{OLD}").secret_key is not None
    with pytest.raises(ValueError, match="SECRET_KEY: key 2 of 2 is not a Fernet key"):
        make_settings(secret_key=f"{NEW},abc")
    assert make_settings(secret_key="").secret_key is None
    with pytest.raises(errors.ConfigurationError, match="SECRET_KEY still has the placeholder"):
        make_settings(secret_key="changeme").check_startable()
