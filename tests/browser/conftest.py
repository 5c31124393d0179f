"""Browser tests drive Debian's Chromium. `scripts/test` installs it; in CI it must be there."""

from __future__ import annotations

import os
import shutil

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
