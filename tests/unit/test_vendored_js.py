"""The front-end files the package serves are the versions scripts/vendor/package-lock.json
pins (scripts/vendor-js copies them; a hand-edited or stale copy fails here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "whatsapp_scheduler" / "web" / "static" / "vendor"


def test_the_vendored_chart_js_is_the_locked_version():
    lock = json.loads((ROOT / "scripts" / "vendor" / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/chart.js"]["version"]
    banner = (VENDOR / "chart.umd.min.js").read_text(encoding="utf-8")[:200]
    found = re.search(r"Chart\.js v(\d+\.\d+\.\d+)", banner)
    assert found is not None, banner
    assert found[1] == locked
    assert "MIT License" in (VENDOR / "chart.js.LICENSE.md").read_text(encoding="utf-8")
