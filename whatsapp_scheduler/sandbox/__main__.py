"""``python -m whatsapp_scheduler.sandbox``: run the Cloud API stand-in alone (manual testing).

Example::

    python -m whatsapp_scheduler.sandbox --port 9000 --webhook-url http://127.0.0.1:8000/webhook
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Sequence

from whatsapp_scheduler.sandbox.config import Number, StandInConfig, StatusDelays
from whatsapp_scheduler.sandbox.limits import PairRate
from whatsapp_scheduler.sandbox.standin import run_standalone

logger = logging.getLogger(__name__)


def _rate(text: str) -> float | None:
    return None if text.lower() in ("0", "none", "off", "unlimited") else float(text)


def build_parser(prog: str = "python -m whatsapp_scheduler.sandbox") -> argparse.ArgumentParser:
    """The command-line parser (every option also reads an environment variable)."""
    env = os.environ.get
    p = argparse.ArgumentParser(
        prog=prog,
        description="Stand-in for Meta's WhatsApp Cloud API with a web inbox at /. "
        "Sandbox: nothing sent here reaches WhatsApp.",
    )
    p.add_argument("--host", default=env("SANDBOX_HOST", "127.0.0.1"), help="bind address")
    p.add_argument(
        "--port", type=int, default=int(env("SANDBOX_PORT", "9000")), help="port (0 = any)"
    )
    p.add_argument(
        "--access-token",
        default=env("ACCESS_TOKEN", StandInConfig.access_token),
        help="bearer token to accept (env ACCESS_TOKEN)",
    )
    p.add_argument(
        "--phone-number-id",
        default=env("PHONE_NUMBER_ID", StandInConfig.phone_number_id),
        help="phone number id to accept (env PHONE_NUMBER_ID)",
    )
    p.add_argument(
        "--extra-number",
        action="append",
        type=_number,
        default=[],
        metavar="ID:TOKEN[:LABEL]",
        help="one more business number with its own access token (repeatable)",
    )
    p.add_argument(
        "--control-token",
        default=env("SANDBOX_TOKEN", None),
        help="X-Sandbox-Token the control API's writes must carry (env SANDBOX_TOKEN; "
        "default: a random one, printed at start-up)",
    )
    p.add_argument(
        "--app-secret",
        default=env("APP_SECRET", StandInConfig.app_secret),
        help="key of the X-Hub-Signature-256 HMAC (env APP_SECRET)",
    )
    p.add_argument(
        "--webhook-url",
        default=env("WEBHOOK_URL"),
        help="where to POST status/inbound webhooks (default: none)",
    )
    p.add_argument(
        "--verify-token",
        default=env("WEBHOOK_VERIFY_TOKEN"),
        help="hub.verify_token for the GET handshake",
    )
    p.add_argument(
        "--throughput",
        type=_rate,
        default=80.0,
        help="msg/s per phone number id before 130429 (0 = unlimited; default 80)",
    )
    p.add_argument(
        "--no-pair-rate",
        action="store_true",
        help="disable the pair-rate limit (default: 1 per 6 s, burst 45 -> 131056)",
    )
    p.add_argument(
        "--window",
        choices=("off", "async", "sync"),
        default="off",
        help="24 h window check: off (default), async (Meta: 200 then failed 131047), sync",
    )
    p.add_argument(
        "--template-check",
        choices=("off", "known", "strict"),
        default="known",
        help="template sends against the catalogue: known (default: names it has), strict "
        "(every other name is 132001, as at Meta), off",
    )
    p.add_argument(
        "--template-review-seconds",
        type=float,
        default=2.0,
        help="a template created with POST /{WABA-ID}/message_templates is PENDING this long, "
        "then APPROVED with Meta's status webhook (default 2; negative: stays PENDING)",
    )
    p.add_argument(
        "--waba-id",
        default="102290129340398",
        help="the WhatsApp Business Account id whose templates GET message_templates lists",
    )
    p.add_argument("--meta-like", action="store_true", help="all of Meta's limits (window=async)")
    p.add_argument(
        "--delays",
        default="0,0,0",
        metavar="SENT,DELIVERED,READ",
        help="seconds before each status, each after the previous (default 0,0,0)",
    )
    p.add_argument("--seed", type=int, default=None, help="seed of the fault RNG")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def _number(value: str) -> Number:
    """`ID:TOKEN[:LABEL]` of `--extra-number`."""
    parts = value.split(":")
    if len(parts) not in (2, 3) or not parts[0].isdigit() or not parts[1]:
        raise argparse.ArgumentTypeError("expected ID:TOKEN[:LABEL], ID in digits")
    label = parts[2] if len(parts) == 3 else parts[0]
    return Number(parts[0], parts[1], label=label)


def config_from_args(args: argparse.Namespace) -> StandInConfig:
    """A :class:`StandInConfig` from parsed arguments."""
    sent, delivered, read = (float(x) for x in args.delays.split(","))
    return StandInConfig(
        access_token=args.access_token,
        control_token=args.control_token or secrets.token_urlsafe(24),
        phone_number_id=args.phone_number_id,
        extra_numbers=tuple(args.extra_number),
        app_secret=args.app_secret,
        webhook_url=args.webhook_url,
        webhook_verify_token=args.verify_token,
        throughput_per_second=args.throughput,
        pair_rate=None if args.no_pair_rate else PairRate(),
        window_check="async" if args.meta_like else args.window,
        template_check=args.template_check,
        template_review_seconds=(
            args.template_review_seconds if args.template_review_seconds >= 0 else None
        ),
        waba_id=args.waba_id,
        status_delays=StatusDelays(sent, delivered, read),
        seed=args.seed,
    )


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> None:
    """Parse ``argv`` and serve until Ctrl-C."""
    args = (build_parser(prog) if prog else build_parser()).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = config_from_args(args)
    logger.info(  # never the access token: ACCESS_TOKEN may be a real one
        "accepting phone number id %s; inbox at / ; webhooks to %s; control API token "
        "(X-Sandbox-Token, a sandbox-only secret): %s",
        config.phone_number_id,
        config.webhook_url or "nowhere",
        config.control_token,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_standalone(args.host, args.port, config))


if __name__ == "__main__":
    main()
