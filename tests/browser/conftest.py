"""Browser tests drive Debian's Chromium. `scripts/test` installs it; in CI it must be there."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
#: Flags for this machine's closed network and root user (see the env notes on Chromium).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Skip a browser test where Chromium is missing (locally only: CI stops, see below).
needs_chromium = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason="needs Debian's chromium package"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Locally a missing Chromium skips (shown by -ra); in CI it stops the run instead."""
    wanted = any(item.get_closest_marker("browser") for item in items)
    if wanted and shutil.which(CHROMIUM) is None and os.environ.get("CI"):
        raise pytest.UsageError(f"CI=true but {CHROMIUM} is missing: browser tests must run")


@pytest.fixture(autouse=True)
def _generous_expect_timeout() -> None:
    """Playwright's `expect` waits 5 s by default: short for Chromium on a loaded 2-core
    machine. A deadline only, like every wait in the suite: free while the page is quick."""
    try:
        from playwright.async_api import expect
    except ImportError:  # the tests skip or fail on their own
        return
    expect.set_options(timeout=20_000)


#: JavaScript for `page.evaluate(WATCH_STATUSES_JS, {"selector", "container", "key"})`: from
#: now on, record every value the `data-status` of each `selector` element takes, per
#: `closest(container).dataset[key]`, in `window.__statuses`. A MutationObserver sees each
#: change, however brief; a polling `expect` sees a state only if it lasts until its next look
#: (Playwright looks once a second after the first few), which on a loaded machine is luck.
WATCH_STATUSES_JS = """({selector, container, key}) => {
  const seen = (window.__statuses = {});
  const note = (el, value) => {
    const owner = el.closest(container);
    if (!owner || value == null) return;
    const list = (seen[owner.dataset[key]] ||= []);
    if (list[list.length - 1] !== value) list.push(value);
  };
  new MutationObserver((records) => {
    const touched = new Set();
    for (const r of records) {
      if (r.type === "childList") {
        for (const n of r.addedNodes) {
          if (!(n instanceof Element)) continue;
          if (n.matches(selector)) touched.add(n);
          n.querySelectorAll(selector).forEach((el) => touched.add(el));
        }
      } else if (r.target.matches(selector)) {
        note(r.target, r.oldValue);  // the value it had until this change
        touched.add(r.target);
      }
    }
    touched.forEach((el) => note(el, el.dataset.status));  // and the one it has now
  }).observe(document.body, {subtree: true, childList: true, attributes: true,
                             attributeFilter: ["data-status"], attributeOldValue: true});
  document.querySelectorAll(selector).forEach((el) => note(el, el.dataset.status));
}"""
#: `await page.evaluate(STATUSES_SEEN_JS, key)`: the values recorded for one key, in order.
STATUSES_SEEN_JS = "(key) => (window.__statuses || {})[key] || []"


class StatusWatch:
    """Records the statuses a page shows (see WATCH_STATUSES_JS); the `status_watch` fixture."""

    async def start(self, page, selector: str, container: str, key: str) -> None:
        """Watch `selector` elements, keyed by `closest(container).dataset[key]`."""
        await page.evaluate(
            WATCH_STATUSES_JS, {"selector": selector, "container": container, "key": key}
        )

    async def seen(self, page, key: str) -> list[str]:
        """Every status shown for `key` since `start`, oldest first."""
        return list(await page.evaluate(STATUSES_SEEN_JS, key))


@pytest.fixture
def status_watch() -> StatusWatch:
    return StatusWatch()


def watch_csp(page: Any) -> list[str]:
    """Collect what the page's Content-Security-Policy refused (Chromium logs each refusal on the
    console as "Refused to ... Content Security Policy ..."). The list is filled as the test
    goes; a test asserts it is empty at the end."""
    refused: list[str] = []

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", on_console)
    return refused


@contextlib.contextmanager
def serve_sandbox(tmp_path: Path, api_key: str) -> Iterator[Any]:
    """A real `whatsapp-scheduler serve --sandbox` with `api_key`, healthy, stopped after."""
    from tests.acceptance.conftest import BIN, Service, base_env, free_port

    port = free_port()
    argv = [str(BIN), "serve", "--sandbox", "--port", str(port), "--sandbox-port", str(free_port())]
    running = Service(argv, base_env(tmp_path, API_KEY=api_key), port, tmp_path)
    try:
        running.wait_healthy()
        yield running
    finally:
        running.stop()
