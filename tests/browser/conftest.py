"""Browser tests drive Debian's Chromium. `scripts/test` installs it; in CI it must be there."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Locally a missing Chromium skips (shown by -ra); in CI it stops the run instead."""
    wanted = any(item.get_closest_marker("browser") for item in items)
    if wanted and shutil.which(CHROMIUM) is None and os.environ.get("CI"):
        raise pytest.UsageError(f"CI=true but {CHROMIUM} is missing: browser tests must run")
