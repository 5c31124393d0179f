"""Meta's template catalogue, read over HTTP: `GET /{version}/{WABA-ID}/message_templates`,
page after page (`paging.next`, Meta's cursor paging), with an injected aiohttp session.

Meta's OpenAPI description lists `data[]` (id, name, language, status, category, components)
and `paging.cursors.before/after`; `parameter_format` and `quality_score` are asked for by
`fields=` (docs/templates.md, "Sync").
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from whatsapp_scheduler.core import errors

logger = logging.getLogger(__name__)

FIELDS = "id,name,language,status,category,parameter_format,components,quality_score"
#: Templates asked for per page (Meta caps a WABA at 6,000 templates: 24 pages at most).
PAGE_SIZE = 250
#: Pages followed at most (a `next` that never ends is a fault, not a catalogue).
MAX_PAGES = 200


class TemplateFetchFailed(errors.SchedulerError):
    """Meta did not give the catalogue (the reason has no token in it)."""


class CloudApiTemplates:
    """Reads a WABA's templates from the Graph API (the `TemplateSource` of `service`)."""

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        graph_api_url: str = "https://graph.facebook.com",
        graph_api_version: str = "v23.0",
        page_size: int = PAGE_SIZE,
        timeout_seconds: float = 30.0,
    ) -> None:
        """Without `session`, each `fetch` opens its own and closes it (syncs are rare)."""
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.base = graph_api_url.rstrip("/")
        self.version = graph_api_version
        self.page_size = page_size

    async def fetch(self, waba_id: str, access_token: str) -> list[dict[str, Any]]:
        """Every template of `waba_id`, following `paging.next`; raises TemplateFetchFailed."""
        if self.session is not None:
            return await self._fetch(self.session, waba_id, access_token)
        async with aiohttp.ClientSession(timeout=self.timeout) as session:
            return await self._fetch(session, waba_id, access_token)

    async def _fetch(
        self, session: aiohttp.ClientSession, waba_id: str, access_token: str
    ) -> list[dict[str, Any]]:
        url: str | None = f"{self.base}/{self.version}/{waba_id}/message_templates"
        params: dict[str, str] | None = {"fields": FIELDS, "limit": str(self.page_size)}
        headers = {"Authorization": f"Bearer {access_token}"}
        found: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return found
            page = await self._get(session, url, params, headers, waba_id)
            data = page.get("data")
            if not isinstance(data, list):
                raise TemplateFetchFailed(f"WABA {waba_id}: the answer has no data list")
            found.extend(item for item in data if isinstance(item, dict))
            paging = page.get("paging")
            following = paging.get("next") if isinstance(paging, dict) else None
            # `next` carries the query (limit, after, fields) itself: ask it as it is
            url, params = (following, None) if isinstance(following, str) and data else (None, None)
        raise TemplateFetchFailed(f"WABA {waba_id}: more than {MAX_PAGES} pages")

    async def _get(
        self,
        session: aiohttp.ClientSession,
        url: str,
        params: dict[str, str] | None,
        headers: dict[str, str],
        waba_id: str,
    ) -> dict[str, Any]:
        try:
            async with session.get(url, params=params, headers=headers) as reply:
                try:
                    body = await reply.json(content_type=None)
                except ValueError:
                    body = None
                status = reply.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TemplateFetchFailed(
                f"WABA {waba_id}: Meta could not be reached ({type(exc).__name__})"
            ) from exc
        if status != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            code = error.get("code") if isinstance(error, dict) else None
            message = error.get("message") if isinstance(error, dict) else None
            raise TemplateFetchFailed(
                f"WABA {waba_id}: HTTP {status}"
                + (f", Graph error {code}: {message}" if code else "")
            )
        return body
