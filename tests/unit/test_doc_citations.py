"""Comments cite the repository's own docs as `docs/x.md, "Section"`: each cited section exists.

A maintainer who follows a citation must land on a heading; renaming a section without its
citations fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
QUOTED = r"[\"'][^\"'\n]+[\"']"
CITATION = re.compile(
    rf"(?P<file>(?:docs/)?[\w.-]+\.md),\s*(?P<sections>{QUOTED}(?:(?:,|,? and)\s*{QUOTED})*)"
)


def _citations() -> list[tuple[str, str, str]]:
    found = []
    for source in sorted((ROOT / "whatsapp_scheduler").rglob("*.py")):
        text = source.read_text(encoding="utf-8")
        for match in CITATION.finditer(text):
            for section in re.findall(QUOTED, match["sections"]):
                found.append((str(source.relative_to(ROOT)), match["file"], section[1:-1]))
    return found


def _headings(doc: Path) -> set[str]:
    lines = doc.read_text(encoding="utf-8").splitlines()
    return {line.lstrip("#").strip() for line in lines if re.match(r"^#{1,6} ", line)}


def test_citations_are_found() -> None:
    cited = {(file, section) for _, file, section in _citations()}
    assert ("docs/meta-cloud-api.md", "Error codes") in cited
    assert ("docs/meta-cloud-api.md", "Pair rate") in cited  # the second of "A" and "B"


def test_every_cited_section_exists() -> None:
    missing = []
    for source, file, section in _citations():
        doc = ROOT / file
        if not doc.is_file() or section not in _headings(doc):
            missing.append(f"{source}: {file}, {section!r}")
    assert missing == []
