"""`serve --sandbox` registers the sandbox's second number as the sender `branch`."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from pydantic import SecretStr

from whatsapp_scheduler import bootstrap, server
from whatsapp_scheduler.store import migrate


async def _branch(settings: Any) -> Any:
    message_store = bootstrap.open_store(settings)
    try:
        directory = bootstrap.build_sender_directory(settings, message_store)
        return await directory.get(server.SANDBOX_BRANCH_NAME)
    finally:
        await message_store.close()


async def test_branch_is_registered_and_a_later_run_with_another_key_reads_it(
    make_settings: Any,
) -> None:
    first = make_settings(
        secret_key=SecretStr(Fernet.generate_key().decode()),
        phone_number_id=server.SANDBOX_PHONE_NUMBER_ID,
        access_token=SecretStr(server.SANDBOX_TOKEN),
    )
    migrate.upgrade(first.database_url)
    await server.register_sandbox_branch(first)
    found = await _branch(first)
    assert found is not None
    assert found.sender.phone_number_id == server.SANDBOX_BRANCH_PHONE_NUMBER_ID
    assert found.access_token == server.SANDBOX_BRANCH_TOKEN
    # A later sandbox run makes a new SECRET_KEY: the row is given the token again under it.
    later = first.model_copy(update={"secret_key": SecretStr(Fernet.generate_key().decode())})
    assert await _branch(later) is None  # unreadable under the new key
    await server.register_sandbox_branch(later)
    again = await _branch(later)
    assert again is not None
    assert again.access_token == server.SANDBOX_BRANCH_TOKEN
    assert again.sender.enabled
