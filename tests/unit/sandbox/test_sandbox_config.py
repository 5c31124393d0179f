"""Settings updates (what the control API and StandIn.set_* do) and config presets."""

from __future__ import annotations

from typing import Any

import pytest

from whatsapp_scheduler.sandbox import config
from whatsapp_scheduler.sandbox.config import (
    Faults,
    ForcedError,
    Limits,
    StandInConfig,
    WebhookSettings,
)
from whatsapp_scheduler.sandbox.limits import PairRate


def test_update_coerces_json_values() -> None:
    limits = Limits()
    config.update(
        limits,
        {
            "throughput_per_second": 10,
            "pair_rate": {"per_second": 1, "capacity": 3},
            "window_check": "sync",
        },
    )
    assert limits.throughput_per_second == 10.0
    assert isinstance(limits.throughput_per_second, float)
    assert limits.pair_rate == PairRate(per_second=1, capacity=3)
    assert limits.window_check == "sync"
    config.update(limits, {"throughput_per_second": None, "pair_rate": None})
    # mypy keeps its narrowing from the asserts above across update(), which changed both.
    assert (limits.throughput_per_second, limits.pair_rate) == (None, None)  # type: ignore[comparison-overlap]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"nope": 1}, "unknown setting"),
        ({"error_rate": "high"}, "must be a number"),
        ({"error_rate": 1.5}, "rates"),
        ({"error_body": 1}, "true or false"),
        ({"error_status": 404}, "5xx"),
        ({"error_status": 500.5}, "integer"),
        ({"rules": [{"code": 1, "probability": 2}]}, "probability"),
        ({"rules": [{"kode": 1}]}, "rules"),
    ],
)
def test_update_refuses_bad_values_and_changes_nothing(
    changes: dict[str, Any], message: str
) -> None:
    faults = Faults(error_rate=0.1)
    with pytest.raises(ValueError, match=message):
        config.update(faults, {"hang_rate": 0.5, **changes})
    assert faults == Faults(error_rate=0.1)


def test_update_nested_and_literal() -> None:
    hooks = WebhookSettings()
    config.update(hooks, {"status_delays": {"sent": 1, "delivered": 2}, "url": "http://x/webhook"})
    assert (hooks.status_delays.sent, hooks.status_delays.read) == (1, 0)
    with pytest.raises(ValueError, match="status delays"):
        config.update(hooks, {"status_delays": {"sent": -1}})
    with pytest.raises(ValueError, match="window_check"):
        config.update(Limits(), {"window_check": "maybe"})


def test_build_forced_error() -> None:
    rule = config.build(ForcedError, {"code": 131026, "asynchronous": True, "remaining": 2})
    assert rule == ForcedError(131026, asynchronous=True, remaining=2)
    with pytest.raises(ValueError, match="unknown"):
        config.build(ForcedError, {"code": 1, "when": "now"})


def test_to_json_round_trips() -> None:
    faults = Faults(rules=[ForcedError(100, remaining=1)])
    data = config.to_json(faults)
    assert data["rules"] == [
        {"code": 100, "asynchronous": False, "remaining": 1, "recipient": None,
         "probability": 1.0, "details": None, "phone_number_id": None}
    ]  # fmt: skip
    copy = Faults()
    config.update(copy, data)
    assert copy == faults


def test_retry_delay_doubles_up_to_the_cap() -> None:
    hooks = WebhookSettings(retry_base=0.1, retry_cap=0.5)
    assert [hooks.retry_delay(n) for n in range(1, 6)] == [0.1, 0.2, 0.4, 0.5, 0.5]


def test_presets() -> None:
    default = StandInConfig()
    assert default.throughput_per_second == 80
    assert default.pair_rate == PairRate(per_second=1 / 6, capacity=45)
    assert default.window_check == "off"
    unlimited = StandInConfig.unlimited(seed=1)
    assert (unlimited.throughput_per_second, unlimited.pair_rate, unlimited.seed) == (None, None, 1)
    assert StandInConfig.meta_like().window_check == "async"
    assert StandInConfig.meta_like().throughput_per_second == 80


def test_extra_numbers_from_the_command_line() -> None:
    from whatsapp_scheduler.sandbox import __main__ as cli

    args = cli.build_parser().parse_args(
        ["--extra-number", "100000000000002:tok:branch", "--extra-number", "7:t2"]
    )
    numbers = cli.config_from_args(args).extra_numbers
    assert [(n.phone_number_id, n.access_token, n.label) for n in numbers] == [
        ("100000000000002", "tok", "branch"),
        ("7", "t2", "7"),
    ]
    with pytest.raises(SystemExit):  # argparse: "expected ID:TOKEN[:LABEL]"
        cli.build_parser().parse_args(["--extra-number", "not-digits:tok"])
