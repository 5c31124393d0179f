"""What a running app holds: settings, store, service, and the optional dispatcher."""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from whatsapp_scheduler import clock as clock_mod
from whatsapp_scheduler import service, settings, store


class BackgroundDispatcher(Protocol):
    """The slice of the dispatcher the web app uses."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def nudge(self, run_at: Any) -> None: ...

    def health(self) -> dict[str, Any]: ...


@dataclasses.dataclass
class Runtime:
    settings: settings.Settings
    store: store.MessageStore
    service: service.SchedulerService
    clock: clock_mod.Clock
    api_key: str
    dispatcher: BackgroundDispatcher | None = None
