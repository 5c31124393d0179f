"""The one table of Meta's error codes (`whatsapp/errorcodes.py`), pinned.

The expected classes are written down here as the code sets `whatsapp/cloud_api.py` held before
the table existed: moving a code to another class must be a deliberate change of this file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from whatsapp_scheduler.core import errors
from whatsapp_scheduler.sandbox import graph_errors
from whatsapp_scheduler.whatsapp import cloud_api, errorcodes
from whatsapp_scheduler.whatsapp.errorcodes import ErrorClass, RetryRule

# cloud_api.py's sets before the table (RATE_LIMIT_CODES, TEMPORARY_CODES, ACCOUNT_CODES,
# ACCOUNT_CODE_RANGE); every other code was a PermanentFailure.
OLD_RATE_LIMITED = frozenset({4, 17, 80007, 130429, 131056})
OLD_TEMPORARY = frozenset({1, 2, 131000, 131016, 131057, 133004, 2494100})
OLD_ACCOUNT = frozenset({0, 190, 368, 131031, 131042, 131048, 10, 33, 131045, 133010})
OLD_ACCOUNT_RANGE = range(200, 300)

OLD_CLASSES: list[tuple[int, ErrorClass]] = (
    [(code, ErrorClass.RATE_LIMITED) for code in sorted(OLD_RATE_LIMITED)]
    + [(code, ErrorClass.TEMPORARY) for code in sorted(OLD_TEMPORARY)]
    + [(code, ErrorClass.ACCOUNT) for code in sorted(OLD_ACCOUNT)]
    + [(code, ErrorClass.ACCOUNT) for code in OLD_ACCOUNT_RANGE]
)
OLD_CLASSIFIED = OLD_RATE_LIMITED | OLD_TEMPORARY | OLD_ACCOUNT | frozenset(OLD_ACCOUNT_RANGE)

RAISED: dict[ErrorClass, type[errors.SendError]] = {
    ErrorClass.RATE_LIMITED: errors.RateLimited,
    ErrorClass.TEMPORARY: errors.TemporaryFailure,
    ErrorClass.ACCOUNT: errors.AccountFailure,
    ErrorClass.PERMANENT: errors.PermanentFailure,
}

#: Codes outside the table (and outside 200-299): permanent, as any unknown code always was.
UNKNOWN = [-1, 5, 199, 300, 999, 130000, 131999, 132999, 999999, 2494101]


@pytest.mark.parametrize(("code", "kind"), OLD_CLASSES)
def test_every_code_classified_before_keeps_its_class(code: int, kind: ErrorClass) -> None:
    assert errorcodes.error_class(code) is kind
    raised = cloud_api.classify(code, "t", http_status=400, retry_after=2.0)
    assert type(raised) is RAISED[kind]
    assert (raised.code, raised.http_status, raised.message) == (code, 400, "t")


@pytest.mark.parametrize("code", sorted(set(errorcodes.CODES) - OLD_CLASSIFIED) + UNKNOWN)
def test_every_other_code_is_permanent(code: int) -> None:
    assert errorcodes.error_class(code) is ErrorClass.PERMANENT
    assert type(cloud_api.classify(code, "t", http_status=400)) is errors.PermanentFailure


def test_unknown_codes_are_permanent() -> None:
    assert errorcodes.UNKNOWN_CLASS is ErrorClass.PERMANENT
    for code in UNKNOWN:
        assert errorcodes.lookup(code) is None


def test_the_table_holds_exactly_the_old_sets() -> None:
    def of(kind: ErrorClass) -> set[int]:
        return {code for code, entry in errorcodes.CODES.items() if entry.kind is kind}

    assert of(ErrorClass.RATE_LIMITED) == OLD_RATE_LIMITED
    assert of(ErrorClass.TEMPORARY) == OLD_TEMPORARY
    assert of(ErrorClass.ACCOUNT) - set(OLD_ACCOUNT_RANGE) == OLD_ACCOUNT
    assert [(codes, entry.kind) for codes, entry in errorcodes.RANGES] == [
        (OLD_ACCOUNT_RANGE, ErrorClass.ACCOUNT)
    ]


@pytest.mark.parametrize("code", sorted(OLD_CLASSIFIED | set(errorcodes.CODES)))
def test_every_classified_code_has_a_title_and_both_texts(code: int) -> None:
    entry = errorcodes.lookup(code)
    assert entry is not None
    for text in (entry.title, entry.english, entry.turkish):
        assert text
        assert text == text.strip()
    assert entry.english != entry.turkish
    assert errorcodes.explain(code) == entry.english
    assert errorcodes.explain(code, "tr") == entry.turkish


def test_own_retry_rules() -> None:
    assert errorcodes.PAIR_RATE_CODE == 131056
    assert errorcodes.THROUGHPUT_CODE == 130429
    rules = {code: entry.retry for code, entry in errorcodes.CODES.items() if entry.retry}
    assert rules == {
        131056: RetryRule.PAIR_RATE,
        130429: RetryRule.THROUGHPUT,
        2: RetryRule.OUTAGE,  # API Service: Meta down or overloaded
        131016: RetryRule.OUTAGE,  # Service unavailable
        133004: RetryRule.OUTAGE,  # Server Temporarily Unavailable
    }
    assert errorcodes.error_class(errorcodes.PAIR_RATE_CODE) is ErrorClass.RATE_LIMITED
    assert errorcodes.error_class(errorcodes.THROUGHPUT_CODE) is ErrorClass.RATE_LIMITED


def test_explain() -> None:
    assert errorcodes.explain(131047) == (
        "The 24-hour window is closed: the person has not written to you in the last 24 hours, "
        "so only a template message can reach them."
    )
    assert errorcodes.explain(131047, "tr") == (
        "24 saatlik pencere kapandı: kişi son 24 saatte size yazmadı; ona yalnızca şablon "
        "(template) mesajı ulaşabilir."
    )
    assert errorcodes.explain(131047, "de") == errorcodes.explain(131047)  # English otherwise
    assert errorcodes.explain(200) == "No valid access token was provided."  # its own row
    assert errorcodes.explain(250) == errorcodes.explain(10)  # the 200-299 block
    assert errorcodes.explain(250, "tr") == errorcodes.explain(10, "tr")
    assert errorcodes.explain(None) is None
    assert errorcodes.explain(999) is None


def test_the_stand_in_can_answer_every_code_of_the_table() -> None:
    # The stand-in keeps its own catalogue on purpose; it must still know each code we explain.
    assert set(errorcodes.CODES) <= set(graph_errors.CATALOGUE)


def test_the_docs_table_agrees_with_the_code() -> None:
    # docs/meta-cloud-api.md, "The codes": one row per code, its class in the last column.
    doc = Path(__file__).parents[2] / "docs" / "meta-cloud-api.md"
    rows = re.findall(r"^\| (\d+(?:-\d+)?) \|.*\| (\w+) \|$", doc.read_text(), re.MULTILINE)
    documented = dict(rows)
    assert len(documented) == len(rows)  # no code twice
    expected = {str(code): entry.kind.value for code, entry in errorcodes.CODES.items()}
    expected |= {f"{r.start}-{r.stop - 1}": entry.kind.value for r, entry in errorcodes.RANGES}
    assert documented == expected


def test_outage_codes_are_temporary_and_only_theirs() -> None:
    """The codes that feed the sender's circuit breaker are Meta's "unavailable" ones; the
    generic 1 and 131000 ("something went wrong") may be about the message and are not."""
    assert [c for c in errorcodes.CODES if errorcodes.is_outage_code(c)] == [2, 131016, 133004]
    for code in (2, 131016, 133004):
        assert errorcodes.error_class(code) is errorcodes.ErrorClass.TEMPORARY
    assert not errorcodes.is_outage_code(None)
    assert not errorcodes.is_outage_code(1)
    assert not errorcodes.is_outage_code(131000)
    assert not errorcodes.is_outage_code(999999)  # unknown
