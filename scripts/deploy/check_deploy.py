#!/usr/bin/env python3
# ruff: noqa: T201
"""The deploy check: build the project's image and use it as a user would (scripts/test-deploy).

Standard library only (run by the machine's python3 >= 3.11, before or without .venv). Every
container runs with `--network host` and listens on 127.0.0.1 only: test traffic stays on this
machine. Everything made here (containers, volumes, a PostgreSQL database) carries the run's id
and is removed at the end, also when a check fails or the run is interrupted.

Checks (each prints `ok` or `FAIL <what went wrong>`; the last line counts them):
  build     the image builds from a context that also holds a .env, .git, .venv, databases
  image     non-root user; no dev dependencies; none of those files (nor a secret from .env)
  sandbox   `serve --sandbox`: /health 200, HEALTHCHECK healthy, a message reaches the inbox
  volume    SQLite on /data: messages survive removing and recreating the container
  drain     `docker stop` with sends on the wire: they finish and are recorded, exit 0
  cutoff    a send that outlasts the grace: recorded ambiguous, re-sent by the next container after the webhook grace
  postgres  migrate once, then two containers share the work: each message sent exactly once
  compose   docker-compose.yml is valid; its services, variables and volumes match the docs
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DOCKER = os.environ.get("DOCKER", "docker")
LABEL = "org.whatsapp-scheduler.deploy-test"
RECIPIENT = "+905551234567"
RUN_ID = os.environ.get("DEPLOY_RUN_ID") or secrets.token_hex(4)
PREFIX = f"wsdeploy-{RUN_ID}"


class CheckFailed(Exception):
    """A check's failure; the message says what went wrong."""


def fail_unless(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


# ---- docker and HTTP helpers ----------------------------------------------------------------


def docker(
    *args: str, check: bool = True, timeout: float = 120, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            [DOCKER, *args],
            input=stdin.decode() if stdin is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed(
            f"`docker {' '.join(args[:3])} ...` did not finish in {timeout:.0f} s"
        ) from exc
    if check and done.returncode != 0:
        raise CheckFailed(
            f"`docker {' '.join(args)}` exited {done.returncode}: {done.stderr.strip()[-800:]}"
        )
    return done


def logs(name: str, lines: int = 25) -> str:
    done = docker("logs", "--tail", str(lines), name, check=False)
    return (done.stdout + done.stderr).strip()


def free_port(pair: bool = False) -> int:
    """A free loopback port (and the next one, for `serve --sandbox`'s stand-in at PORT + 1)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 65000:
            continue
        if not pair:
            return port
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise CheckFailed("no free loopback port")


def http(
    method: str,
    url: str,
    body: object = None,
    key: str | None = None,
    timeout: float = 10,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """(status, decoded JSON or text); (0, reason) when nothing answered."""
    status, _, payload = http_full(method, url, body, key, timeout, headers)
    return status, payload


def http_full(
    method: str,
    url: str,
    body: object = None,
    key: str | None = None,
    timeout: float = 10,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, Any]:
    """(status, response headers, decoded JSON or text)."""
    assert url.startswith("http://127.0.0.1:"), url  # loopback only
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("X-API-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, got, raw = answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as exc:
        status, got, raw = exc.code, exc.headers, exc.read()
    except (OSError, urllib.error.URLError) as exc:
        return 0, None, str(exc)
    try:
        return status, got, json.loads(raw)
    except ValueError:
        return status, got, raw.decode(errors="replace")


def wait_for(
    what: str, probe: Callable[[], tuple[bool, object]], timeout: float, every: float = 0.2
) -> object:
    """Call probe() until it says done; fail naming `what` and the last thing seen."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        done, last = probe()
        if done:
            return last
        time.sleep(every)
    raise CheckFailed(f"{what}: not within {timeout:.0f} s (last seen: {str(last)[:600]})")


def message(
    id_: str, when: dt.datetime, text: str = "deploy check", to: str = RECIPIENT
) -> dict[str, Any]:
    when = when.astimezone(dt.UTC)
    return {
        "id": id_,
        "alici": to,
        "tarih": when.strftime("%Y-%m-%d"),
        "saat": when.strftime("%H:%M:%S"),
        "mesaj": text,
        "timezone": "UTC",
    }


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def recipient(i: int) -> str:
    return f"+9055512{i:05d}"


# ---- the run's resources ----------------------------------------------------------------------


class Run:
    def __init__(self, image: str) -> None:
        self.image = image
        self.api_key = "deploy-" + secrets.token_urlsafe(18)  # made per run, never stored
        # The sandbox control API's token (SANDBOX_TOKEN; X-Sandbox-Token on its writes).
        self.sandbox_token = "deploy-sandbox-" + secrets.token_urlsafe(18)
        self.databases: list[tuple[str, str]] = []  # (admin url, name) to drop at the end

    def container(
        self,
        role: str,
        *args: str,
        env: dict[str, str] | None = None,
        volume: str | None = None,
        detach: bool = True,
        command: list[str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        name = f"{PREFIX}-{role}"
        cmd = ["run", "--network", "host", "--label", f"{LABEL}={RUN_ID}", "--name", name]
        cmd += ["-d"] if detach else []
        for k, v in (env or {}).items():
            cmd += ["-e", f"{k}={v}"]
        if volume:
            cmd += ["-v", f"{volume}:/data"]
        cmd += list(args) + [self.image] + (command or [])
        return docker(*cmd, check=detach, timeout=timeout)

    def volume(self, role: str) -> str:
        name = f"{PREFIX}-{role}"
        docker("volume", "create", "--label", f"{LABEL}={RUN_ID}", name)
        return name

    def python(self, code: str, *args: str, env: dict[str, str] | None = None) -> str:
        """Run Python in a throw-away container of the image; its stdout."""
        cmd = ["run", "--rm", "--network", "host", "--label", f"{LABEL}={RUN_ID}"]
        for k, v in (env or {}).items():
            cmd += ["-e", f"{k}={v}"]
        return docker(*cmd, self.image, "python", "-c", code, *args, timeout=60).stdout

    def cleanup(self) -> None:
        ids = docker("ps", "-aq", "--filter", f"label={LABEL}={RUN_ID}", check=False).stdout.split()
        if ids:
            docker("rm", "-f", "-v", *ids, check=False, timeout=60)
        vols = docker(
            "volume", "ls", "-q", "--filter", f"label={LABEL}={RUN_ID}", check=False
        ).stdout.split()
        if vols:
            docker("volume", "rm", "-f", *vols, check=False)
        for admin, name in self.databases:
            with contextlib.suppress(CheckFailed):
                self.python(DROP_DB, admin, name)


CREATE_DB = """import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as c:
    c.execute('CREATE DATABASE "%s"' % sys.argv[2])
"""
DROP_DB = """import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as c:
    c.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % sys.argv[2])
"""


class Service:
    """One `serve` container on loopback: its URL, its stand-in's URL (sandbox) and its key."""

    def __init__(self, run: Run, role: str, port: int, sandbox: bool) -> None:
        self.run, self.name, self.port = run, f"{PREFIX}-{role}", port
        self.url = f"http://127.0.0.1:{port}"
        self.standin = f"http://127.0.0.1:{port + 1}" if sandbox else None

    @classmethod
    def start(
        cls,
        run: Run,
        role: str,
        *,
        sandbox: bool,
        volume: str | None = None,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
    ) -> Service:
        port = free_port(pair=sandbox)
        full_env = {
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "API_KEY": run.api_key,
            "SANDBOX_TOKEN": run.sandbox_token,
            **(env or {}),
        }
        run.container(role, env=full_env, volume=volume, command=command)
        service = cls(run, role, port, sandbox)
        service.wait_healthy_http()
        return service

    def get(self, path: str) -> tuple[int, Any]:
        return http("GET", self.url + path, key=self.run.api_key)

    def post(self, path: str, body: object) -> tuple[int, Any]:
        return http("POST", self.url + path, body, key=self.run.api_key)

    def wait_healthy_http(self, timeout: float = 60) -> dict[str, Any]:
        def probe() -> tuple[bool, object]:
            state = docker(
                "inspect", "-f", "{{.State.Status}}", self.name, check=False
            ).stdout.strip()
            if state not in ("created", "running"):
                raise CheckFailed(
                    f"{self.name} is {state or 'gone'} before /health answered:\n{logs(self.name)}"
                )
            status, body = http("GET", self.url + "/health")
            return status == 200, (status, body)

        try:
            _, body = wait_for(f"{self.name} GET /health 200", probe, timeout)  # type: ignore[misc]
        except CheckFailed as exc:
            raise CheckFailed(f"{exc}\n{logs(self.name)}") from None
        return body

    def health(self) -> dict[str, Any]:
        """/health with the key (without it, the status only)."""
        status, body = http("GET", self.url + "/health", key=self.run.api_key)
        fail_unless(status == 200, f"{self.name} GET /health answered {status}: {body}")
        return body

    def schedule(self, msg: dict[str, Any]) -> dict[str, Any]:
        status, body = self.post("/schedule", msg)
        fail_unless(status == 200, f"POST /schedule {msg['id']} answered {status}: {body}")
        fail_unless(
            body.get("status") == "queued", f"POST /schedule {msg['id']}: not queued: {body}"
        )
        return body

    def status(self, id_: str) -> dict[str, Any]:
        code, body = self.get(f"/status/{id_}")
        fail_unless(code == 200, f"GET /status/{id_} on {self.name} answered {code}: {body}")
        return body

    def wait_status(self, id_: str, wanted: set[str], timeout: float = 30) -> dict[str, Any]:
        def probe() -> tuple[bool, object]:
            body = self.status(id_)
            return body.get("status") in wanted, body

        return wait_for(f"message {id_} on {self.name} reaching {sorted(wanted)}", probe, timeout)  # type: ignore[return-value]

    def standin_requests(
        self, callback: str | None = None, base: str | None = None
    ) -> list[dict[str, Any]]:
        url = (base or self.standin or "") + "/_sandbox/requests?limit=10000"
        if callback:
            url += f"&callback_data={callback}"
        code, body = http("GET", url)
        fail_unless(
            code == 200 and isinstance(body, list),
            f"stand-in GET /_sandbox/requests answered {code}: {str(body)[:300]}",
        )
        return body

    def set_faults(self, **faults: object) -> None:
        code, body = http(
            "PUT",
            f"{self.standin}/_sandbox/faults",
            faults,
            headers={"X-Sandbox-Token": self.run.sandbox_token},
        )
        fail_unless(code == 200, f"stand-in PUT /_sandbox/faults {faults} answered {code}: {body}")

    def wait_in_flight(self, count: int, timeout: float = 15) -> None:
        def probe() -> tuple[bool, object]:
            d = self.health()["dispatcher"]
            return d.get("in_flight", 0) >= count, d

        wait_for(f"{self.name}: {count} send(s) in flight", probe, timeout, every=0.05)

    def stop(self, timeout: int | None = None) -> tuple[float, int]:
        """`docker stop` as a user types it (default timeout unless given): (seconds, exit code)."""
        started = time.monotonic()
        docker(
            "stop", *(["-t", str(timeout)] if timeout is not None else []), self.name, timeout=90
        )
        elapsed = time.monotonic() - started
        code = int(docker("inspect", "-f", "{{.State.ExitCode}}", self.name).stdout.strip())
        return elapsed, code

    def remove(self) -> None:
        docker("rm", "-f", "-v", self.name)


# ---- checks ---------------------------------------------------------------------------------

DOCKER_STOP_DEFAULT = 10  # seconds `docker stop` waits before SIGKILL


def tracked_files() -> list[str]:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True
        ).stdout
        return [p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", ".tools", "__pycache__", ".pytest_cache", ".ruff_cache"}
        return [
            str(p.relative_to(REPO))
            for p in REPO.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(REPO).parts)
        ]


def make_context(root: Path, canary: str) -> None:
    """The project's files plus what a user's checkout also holds and the image must not."""
    for rel in tracked_files():
        src = REPO / rel
        if src.is_file():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / rel)
    (root / ".env").write_text(f"API_KEY={canary}\nACCESS_TOKEN={canary}\n")
    (root / ".env.production").write_text(f"API_KEY={canary}\n")
    (root / ".git").mkdir(exist_ok=True)
    (root / ".git" / "config").write_text(f"[user]\n\tname = {canary}\n")
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "pytest").write_text(f"# {canary}\n")
    (root / "whatsapp_schedules.db").write_text(canary)
    (root / "whatsapp_scheduler" / "__pycache__").mkdir(exist_ok=True)
    (root / "whatsapp_scheduler" / "__pycache__" / "stale.cpython-311.pyc").write_text(canary)
    (root / "whatsapp_scheduler" / ".env").write_text(f"API_KEY={canary}\n")


def check_build(run: Run, state: dict[str, Any]) -> str:
    canary = "wsdeploy-canary-" + secrets.token_hex(8)
    state["canary"] = canary
    before = docker("image", "inspect", "-f", "{{.Id}}", run.image, check=False).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="wsdeploy-context-") as tmp:
        make_context(Path(tmp), canary)
        started = time.monotonic()
        done = docker("build", "--network", "host", "-t", run.image, tmp, check=False, timeout=900)
        elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise CheckFailed(
            f"docker build exited {done.returncode}:\n{(done.stdout + done.stderr)[-3000:]}"
        )
    after = docker("image", "inspect", "-f", "{{.Id}}", run.image).stdout.strip()
    if before and before != after:  # the previous build of this tag, now untagged (not its cache)
        docker("rmi", before, check=False)
    size = int(docker("image", "inspect", "-f", "{{.Size}}", run.image).stdout.strip())
    state["build_seconds"], state["size"] = elapsed, size
    builder = "legacy builder" if "Step 1/" in done.stdout else "BuildKit"
    return f"{elapsed:.1f} s ({builder}), {size / 1e6:.0f} MB"


def dev_only_distributions() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())

    def name(req: str) -> str:
        return re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0].lower().replace("_", "-")

    runtime = {name(r) for r in project["project"]["dependencies"]}
    dev = {
        name(r)
        for group in project.get("dependency-groups", {}).values()
        for r in group
        if isinstance(r, str)
    }
    return sorted(dev - runtime)


IMAGE_PROBE = """import importlib.metadata as md, json, sys, whatsapp_scheduler
def present(name):
    try:
        md.distribution(name)
        return True
    except md.PackageNotFoundError:
        return False
try:
    import pytest
    pytest_import = "imported"
except ModuleNotFoundError:
    pytest_import = "ModuleNotFoundError"
import os
code = os.path.dirname(whatsapp_scheduler.__file__)
print(json.dumps({"dev": [n for n in sys.argv[1:] if present(n)], "fastapi": present("fastapi"),
                  "code_writable": os.access(code, os.W_OK) or os.access(code + "/cli.py", os.W_OK),
                  "data_writable": os.access("/data", os.W_OK),
                  "pytest": pytest_import, "package": whatsapp_scheduler.__file__}))
"""


def check_image(run: Run, state: dict[str, Any]) -> str:
    config = json.loads(docker("image", "inspect", "-f", "{{json .Config}}", run.image).stdout)
    user = config.get("User") or "root"
    fail_unless(
        user not in ("", "root", "0") and not user.startswith("0:"),
        f"the image's USER is {user!r}: it runs as root",
    )
    uid = run.python("import os; print(os.getuid())").strip()
    fail_unless(uid not in ("", "0"), f"a container of the image runs as uid {uid!r} (root)")
    health = (config.get("Healthcheck") or {}).get("Test") or []
    fail_unless(any("/health" in part for part in health), f"no HEALTHCHECK on /health: {health}")

    dev = dev_only_distributions()
    fail_unless("pytest" in dev, f"pyproject's dev group lost pytest? dev-only: {dev}")
    probe = json.loads(run.python(IMAGE_PROBE, *dev))
    fail_unless(probe["fastapi"], f"the probe cannot see the image's own packages: {probe}")
    fail_unless(not probe["dev"], f"dev dependencies installed in the image: {probe['dev']}")
    fail_unless(probe["pytest"] == "ModuleNotFoundError", f"`import pytest` in the image: {probe}")
    fail_unless(
        not probe["code_writable"], "the service's user can change its own code in the venv"
    )
    fail_unless(probe["data_writable"], "the service's user cannot write /data (the SQLite volume)")
    fail_unless(
        "/site-packages/" in probe["package"],
        f"whatsapp_scheduler is not installed in the venv (editable?): {probe['package']}",
    )

    # Every file of the image, from an exported container: names and contents.
    name = f"{PREFIX}-export"
    docker("create", "--label", f"{LABEL}={RUN_ID}", "--name", name, run.image)
    try:
        export = subprocess.run([DOCKER, "export", name], capture_output=True, timeout=120)
    finally:
        docker("rm", "-f", "-v", name, check=False)
    fail_unless(export.returncode == 0, f"docker export failed: {export.stderr.decode()[-300:]}")
    listing = subprocess.run(
        ["tar", "-t"], input=export.stdout, capture_output=True
    ).stdout.decode()
    paths = [p.rstrip("/") for p in listing.splitlines()]
    fail_unless(
        "app/.venv/bin/whatsapp-scheduler" in paths,
        f"the export holds no app/.venv/bin/whatsapp-scheduler ({len(paths)} paths)",
    )

    def bad(path: str) -> str | None:
        parts = path.split("/")
        base = parts[-1]
        if base == ".env" or base.startswith(".env.") or ".git" in parts:
            return "a .env or .git"
        if path.startswith("app/") and (base.endswith(".db") or parts[:2] in (["app", "tests"],)):
            return "a database or the tests"
        if path.startswith(("src/", "app/whatsapp_scheduler", "app/pyproject.toml")):
            return "the build's sources"
        if base == "uv" and "/bin/" in f"/{path}":
            return "uv (a build tool)"
        if (
            "site-packages/" in path
            and parts[-2] == "site-packages"
            and base.split("-")[0].lower() in {d.replace("-", "_") for d in dev}
        ):
            return "a dev dependency"
        return None

    found = [(p, why) for p in paths if (why := bad(p))]
    fail_unless(not found, f"the image holds files it must not: {found[:10]}")
    fail_unless(
        state["canary"].encode() not in export.stdout,
        "the secret written into the build context's .env files is inside the image",
    )
    return (
        f"user {user} (uid {uid}), {len(dev)} dev-only packages absent, {len(paths)} files scanned"
    )


def check_sandbox(run: Run, state: dict[str, Any]) -> str:
    volume = run.volume("data")
    state["volume"] = volume
    svc = Service.start(
        run,
        "sandbox-1",
        sandbox=True,
        volume=volume,
        command=["whatsapp-scheduler", "serve", "--sandbox"],
        env={"TRUSTED_PROXIES": "127.0.0.1"},  # the TLS proxy of check_forwarded_https
    )
    state["first"] = svc
    body = svc.health()
    fail_unless(
        body.get("sandbox") is True and body.get("database") == "ok",
        f"/health is not a healthy sandbox: {body}",
    )
    fail_unless(body["dispatcher"].get("state") == "running", f"dispatcher not running: {body}")
    pid1 = docker("exec", svc.name, "sh", "-c", "grep '^Uid:' /proc/1/status").stdout.split()
    fail_unless(len(pid1) > 1 and pid1[1] != "0", f"the service process runs as root: {pid1}")
    key = svc.get("/schedule")
    fail_unless(key[0] == 200, f"GET /schedule with the API key answered {key[0]}: {key[1]}")
    anon = http("GET", svc.url + "/schedule")
    fail_unless(anon[0] == 401, f"GET /schedule without a key answered {anon[0]}, not 401")

    hello = f"hello-{RUN_ID}"
    svc.schedule(message(hello, now(), text=f"Merhaba {RUN_ID}"))

    def arrived() -> tuple[bool, object]:
        code, convo = http("GET", f"{svc.standin}/_sandbox/conversations/{RECIPIENT}")
        texts = [
            m.get("text") for m in (convo.get("messages", []) if isinstance(convo, dict) else [])
        ]
        return code == 200 and f"Merhaba {RUN_ID}" in texts, (code, convo)

    wait_for(f"message {hello} in the sandbox inbox", arrived, 20)
    sent = svc.wait_status(hello, {"sent", "delivered", "read"})
    sends = svc.standin_requests(hello)
    fail_unless(
        len(sends) == 1
        and sends[0]["status"] == 200
        and sends[0]["wamid"] == sent["whatsapp_message_id"],
        f"the stand-in's record of {hello} does not match /status: {sends} vs {sent}",
    )
    later = f"later-{RUN_ID}"
    state["later"] = svc.schedule(message(later, now() + dt.timedelta(days=1)))
    metrics = check_metrics_documented(svc)
    check_forwarded_https(svc)

    def healthy() -> tuple[bool, object]:
        h = json.loads(docker("inspect", "-f", "{{json .State.Health}}", svc.name).stdout)
        if h and h.get("Status") == "unhealthy":
            raise CheckFailed(f"HEALTHCHECK turned unhealthy: {h.get('Log', [])[-1:]}")
        return bool(h) and h.get("Status") == "healthy", h

    started = time.monotonic()
    wait_for(f"{svc.name}'s HEALTHCHECK turning healthy", healthy, 60, every=0.5)
    return (
        f"inbox got {hello}; {metrics} documented metrics exported; HEALTHCHECK healthy "
        f"after {time.monotonic() - started:.0f} s more"
    )


def section(doc: str, heading: str) -> str:
    text = (REPO / "docs" / doc).read_text()
    match = re.search(rf"^{re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if match is None:
        raise CheckFailed(f"docs/{doc} has no '{heading}' section")
    return match.group(1)


def check_metrics_documented(svc: Service) -> int:
    """Every metric docs/operations.md's Monitoring names (alert rules included) is exported."""
    code, _ = http("GET", svc.url + "/metrics")
    fail_unless(code == 401, f"GET /metrics without the API key answered {code}, not 401")
    code, text = http(
        "GET", svc.url + "/metrics", headers={"Authorization": f"Bearer {svc.run.api_key}"}
    )
    fail_unless(
        code == 200 and isinstance(text, str),
        f"GET /metrics with Authorization: Bearer answered {code}: {str(text)[:200]}",
    )
    exported = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()[:4]
            exported.add(name)
            if kind == "histogram":
                exported |= {name + "_bucket", name + "_sum", name + "_count"}
        elif line and not line.startswith("#"):
            exported.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    fail_unless(
        "whatsapp_scheduler_messages_sent_total" in exported,
        f"/metrics holds no whatsapp_scheduler_messages_sent_total: {sorted(exported)[:20]}",
    )
    monitoring = section("operations.md", "## Monitoring")
    named = set(re.findall(r"\bwhatsapp_scheduler_[a-z_]+[a-z]", monitoring))
    bullet = next(
        (line for line in monitoring.split("\n- ") if line.startswith("`GET /metrics`")), ""
    )
    # ... and the bullet's short names (`messages_sent_total`, `queue_depth{status}`, ...).
    named |= {
        "whatsapp_scheduler_" + n
        for n in re.findall(r"`([a-z]+_[a-z_]*[a-z])(?:\{[a-z_]+\})?`", bullet)
    }
    fail_unless(len(named) >= 10, f"docs/operations.md's Monitoring names only {sorted(named)}")
    unknown = sorted(named - exported)
    fail_unless(
        not unknown,
        f"docs/operations.md's Monitoring names metrics /metrics does not "
        f"export: {unknown} (exported: {sorted(n for n in exported if 'scheduler' in n)})",
    )
    return len(named)


def check_forwarded_https(svc: Service) -> None:
    """What the TLS checklist says: X-Forwarded-Proto from a trusted proxy makes cookies Secure."""
    _, plain, _ = http_full("GET", svc.url + "/signin")
    _, proxied, _ = http_full("GET", svc.url + "/signin", headers={"X-Forwarded-Proto": "https"})
    plain_cookie = plain.get("Set-Cookie", "") if plain is not None else ""
    proxied_cookie = proxied.get("Set-Cookie", "") if proxied is not None else ""
    fail_unless(
        plain_cookie and "secure" not in plain_cookie.lower(),
        f"GET /signin over plain HTTP: cookie {plain_cookie!r} (wanted one, not Secure)",
    )
    fail_unless(
        "secure" in proxied_cookie.lower(),
        f"GET /signin with X-Forwarded-Proto: https from 127.0.0.1 (TRUSTED_PROXIES): cookie "
        f"{proxied_cookie!r} is not Secure (docs/operations.md, TLS in front)",
    )


def check_backup_documented(svc: Service, wanted: list[str]) -> int:
    """Run docs/operations.md's two SQLite backup lines against the running container."""
    backups = section("operations.md", "## Backups")
    lines = [
        line
        for line in backups.splitlines()
        if line.startswith(("docker exec scheduler python", "docker cp scheduler:"))
    ]
    fail_unless(
        len(lines) == 2 and "VACUUM INTO" in lines[0],
        f"docs/operations.md's Backups has no 'docker exec scheduler ... VACUUM INTO' and "
        f"'docker cp scheduler:' lines: {lines}",
    )
    with tempfile.TemporaryDirectory(prefix="wsdeploy-backup-") as tmp:
        for line in lines:
            command = re.sub(r"(?<=\s)scheduler(?=[\s:])", svc.name, line)
            done = subprocess.run(
                ["bash", "-c", command.replace("docker ", f"{DOCKER} ", 1)],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=60,
            )
            fail_unless(
                done.returncode == 0,
                f"the documented backup line failed "
                f"({done.returncode}): {line}\n{done.stderr.strip()[-600:]}",
            )
        copies = list(Path(tmp).glob("backup-*.db"))
        fail_unless(len(copies) == 1, f"the backup lines left {copies} in the working directory")
        with contextlib.closing(sqlite3.connect(copies[0])) as db:
            ids = {row[0] for row in db.execute("SELECT id FROM messages")}
    missing = [i for i in wanted if i not in ids]
    fail_unless(not missing, f"the backup lacks messages {missing} (it holds {len(ids)})")
    left = docker("exec", svc.name, "ls", "/data").stdout.split()
    fail_unless("backup.db" not in left, f"/data/backup.db is still in the volume: {left}")
    return len(ids)


def check_drain(run: Run, state: dict[str, Any]) -> str:
    svc: Service = state["first"]
    svc.set_faults(latency_seconds=3)  # every send stays on the wire for 3 s
    ids = [f"drain-{RUN_ID}-{i}" for i in range(3)]
    for i, id_ in enumerate(ids):
        svc.schedule(message(id_, now(), to=recipient(100 + i)))
    svc.wait_in_flight(len(ids))
    elapsed, code = svc.stop()
    fail_unless(
        code == 0, f"after docker stop the service exited {code} (137 = killed):\n{logs(svc.name)}"
    )
    fail_unless(
        elapsed < DOCKER_STOP_DEFAULT - 1,
        f"docker stop took {elapsed:.1f} s: the service was (nearly) killed, not drained",
    )
    stopped = logs(svc.name, 60)
    fail_unless("dispatcher stopped" in stopped, f"no 'dispatcher stopped' line:\n{stopped}")
    state["drained"] = ids
    return f"3 sends in flight; docker stop returned after {elapsed:.1f} s, exit 0"


def check_volume(run: Run, state: dict[str, Any]) -> str:
    state["first"].remove()
    svc = Service.start(
        run,
        "sandbox-2",
        sandbox=True,
        volume=state["volume"],
        # RESEND_GRACE_SECONDS: see check_cutoff (this container records the cut-off send).
        env={"SHUTDOWN_GRACE_SECONDS": "2", "RESEND_GRACE_SECONDS": str(CUTOFF_RESEND_GRACE)},
        command=["whatsapp-scheduler", "serve", "--sandbox"],
    )
    state["second"] = svc
    hello = svc.status(f"hello-{RUN_ID}")
    fail_unless(
        hello["status"] in {"sent", "delivered", "read"},
        f"hello-{RUN_ID} after recreating the container: {hello}",
    )
    later = svc.status(f"later-{RUN_ID}")
    fail_unless(
        later["status"] == "queued" and later["scheduled_at"] == state["later"]["scheduled_at"],
        f"later-{RUN_ID} after recreating the container: {later}",
    )
    for id_ in state["drained"]:
        body = svc.status(id_)
        outcomes = [a["outcome"] for a in body.get("attempt_history", [])]
        fail_unless(
            body["status"] in {"sent", "delivered", "read"} and outcomes == ["sent"],
            f"{id_}, in flight at docker stop, is {body['status']} with attempts {outcomes}"
            " (wanted: sent once, recorded before the container stopped)",
        )
    fail_unless(
        not svc.standin_requests(),
        "the new container's stand-in already got sends (something was re-sent after the drain)",
    )
    rows = check_backup_documented(svc, [f"hello-{RUN_ID}", f"later-{RUN_ID}", *state["drained"]])
    return (
        "queued and sent messages found again; the 3 drained sends recorded sent, none "
        f"resent; the documented online backup holds all {rows}"
    )


#: The webhook grace of the container whose shutdown cuts a send off (check_cutoff).
CUTOFF_RESEND_GRACE = 5


def check_cutoff(run: Run, state: dict[str, Any]) -> str:
    svc: Service = state["second"]
    svc.set_faults(hang_rate=1.0, hang_seconds=120)  # the stand-in holds every send
    cut = f"cut-{RUN_ID}"
    svc.schedule(message(cut, now(), to=recipient(200)))
    svc.wait_in_flight(1)
    elapsed, code = svc.stop()
    fail_unless(code == 0, f"docker stop during a hung send: exit {code}:\n{logs(svc.name)}")
    fail_unless(elapsed < DOCKER_STOP_DEFAULT - 1, f"docker stop took {elapsed:.1f} s (grace 2 s)")
    svc.remove()
    # The cut-off send is ambiguous: with the sandbox's webhooks on, the container that cut it
    # queues it again RESEND_GRACE_SECONDS later (60 s by default, shortened for sandbox-2) to
    # wait for a status webhook proving it went out; the new stand-in never saw it, so none
    # comes and the next container resends it after the grace.
    grace = CUTOFF_RESEND_GRACE
    third = Service.start(
        run,
        "sandbox-3",
        sandbox=True,
        volume=state["volume"],
        command=["whatsapp-scheduler", "serve", "--sandbox"],
    )
    body = third.wait_status(cut, {"sent", "delivered", "read"})
    history = body.get("attempt_history", [])
    outcomes = [a["outcome"] for a in history]
    fail_unless(
        outcomes[:1] == ["ambiguous"] and outcomes[-1:] == ["sent"],
        f"{cut}: attempts {outcomes}, wanted the cut-off one recorded ambiguous, then sent",
    )
    waited = (
        dt.datetime.fromisoformat(history[-1]["started_at"])
        - dt.datetime.fromisoformat(history[0]["finished_at"])
    ).total_seconds()
    fail_unless(waited >= grace, f"{cut}: resent {waited:.1f} s after the cut, before the grace")
    fail_unless(len(third.standin_requests(cut)) == 1, f"{cut} did not reach the new stand-in once")
    later = third.status(f"later-{RUN_ID}")
    fail_unless(later["status"] == "queued", f"later-{RUN_ID} after three containers: {later}")
    third.stop()
    return f"stopped in {elapsed:.1f} s; attempts {outcomes}"


def check_postgres(run: Run, state: dict[str, Any], admin_url: str) -> str:
    db = f"wsdeploy_{RUN_ID}"
    run.python(CREATE_DB, admin_url, db)
    run.databases.append((admin_url, db))
    base = admin_url.rsplit("/", 1)[0]
    url = f"{base}/{db}".replace("postgresql://", "postgresql+psycopg://", 1)
    token, phone_id = "deploy-token-" + secrets.token_hex(6), "100000000000077"
    standin_port = free_port()
    standin = f"http://127.0.0.1:{standin_port}"
    run.container(
        "standin",
        env={
            "ACCESS_TOKEN": token,
            "PHONE_NUMBER_ID": phone_id,
            "SANDBOX_TOKEN": run.sandbox_token,
        },
        command=[
            "whatsapp-scheduler",
            "sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(standin_port),
            "--throughput",
            "0",
            "--no-pair-rate",
        ],
    )
    wait_for(
        "the stand-in container answering",
        lambda: (http("GET", standin + "/_sandbox/state")[0] == 200, None),
        30,
    )
    code, _ = http(
        "PUT",
        standin + "/_sandbox/faults",
        {"latency_seconds": 0.02},
        headers={"X-Sandbox-Token": run.sandbox_token},
    )
    fail_unless(code == 200, "stand-in PUT /_sandbox/faults failed")

    env = {
        "DATABASE_URL": url,
        "ACCESS_TOKEN": token,
        "PHONE_NUMBER_ID": phone_id,
        "GRAPH_API_URL": standin,
        "MESSAGES_PER_SECOND": "40",
        "SEND_CONCURRENCY": "8",
    }
    migrate = run.container(
        "migrate", env=env, detach=False, command=["whatsapp-scheduler", "db", "upgrade"]
    )
    migrate_log = migrate.stdout + migrate.stderr
    fail_unless(
        migrate.returncode == 0, f"db upgrade exited {migrate.returncode}:\n{migrate_log[-1500:]}"
    )
    applied = migrate_log.count("Running upgrade")
    fail_unless(
        applied >= 1 and "database is up to date" in migrate_log,
        f"db upgrade applied no revision on a new database:\n{migrate_log[-1500:]}",
    )
    apps = [Service.start(run, f"app-{i}", sandbox=False, env=env) for i in (1, 2)]
    for app in apps:
        again = logs(app.name, 400).count("Running upgrade")
        fail_unless(
            again == 0, f"{app.name} migrated again ({again} revisions) after the migrate step"
        )
    version = run.python(
        "import sys, psycopg; print(psycopg.connect(sys.argv[1]).execute("
        "'SELECT version_num FROM alembic_version').fetchone()[0])",
        url.replace("+psycopg", ""),
    )
    head = max(
        p.name[:4]
        for p in (REPO / "whatsapp_scheduler" / "migrations" / "versions").glob("[0-9]*.py")
    )
    fail_unless(version.strip() == head, f"alembic_version is {version.strip()!r}, head is {head}")

    count = 120
    ids = [f"pg-{RUN_ID}-{i:03d}" for i in range(count)]
    due = now()
    for n, app in enumerate(apps):  # half through each container's API
        batch = [message(i, due, to=recipient(1000 + k)) for k, i in enumerate(ids) if k % 2 == n]
        code, body = app.post("/schedule/batch", {"messages": batch})
        fail_unless(
            code == 200 and body.get("stored") == len(batch),
            f"POST /schedule/batch to {app.name} answered {code}: {str(body)[:400]}",
        )

    def drained() -> tuple[bool, object]:
        queue = apps[0].health()["queue"]
        return queue["queued"] == 0 and queue["sending"] == 0, queue

    wait_for(f"{count} messages sent by the two containers", drained, 60, every=0.5)
    sends = [
        r
        for r in Service.standin_requests(apps[0], base=standin)
        if str(r.get("biz_opaque_callback_data", "")).startswith(f"pg-{RUN_ID}-")
    ]
    per_id = Counter(r["biz_opaque_callback_data"] for r in sends)
    missing = [i for i in ids if per_id[i] == 0]
    twice = {i: n for i, n in per_id.items() if n > 1}
    fail_unless(
        not missing and not twice and all(r["status"] == 200 for r in sends),
        f"stand-in got {len(sends)} sends: missing {missing[:5]}, more than once {twice}",
    )
    for id_ in ids[:: count // 12]:
        body = apps[1].status(id_)
        fail_unless(
            body["status"] == "sent" and body["attempts"] == 1,
            f"{id_} in PostgreSQL: {body['status']} after {body['attempts']} attempts",
        )
    per_app = [app.health()["dispatcher"]["sent"] for app in apps]
    fail_unless(sum(per_app) == count, f"the containers report {per_app} sends, not {count} in all")
    fail_unless(min(per_app) > 0, f"one container did all the work: sends per container {per_app}")
    for app in apps:
        app.stop(timeout=30)
    return f"migrated once ({applied} revisions); {count} sent exactly once, split {per_app}"


def compose_command() -> list[str]:
    if docker("compose", "version", check=False).returncode == 0:
        return [DOCKER, "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise CheckFailed(
        "neither `docker compose` nor `docker-compose` is installed "
        "(apt-get install docker-compose)"
    )


def yaml_to_data(text: str, run: Run) -> Any:
    """Parse YAML with whichever Python has PyYAML: this one, Debian's, or the image's."""
    code = "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"
    for python in (sys.executable, "/usr/bin/python3"):
        done = subprocess.run([python, "-c", code], input=text, capture_output=True, text=True)
        if done.returncode == 0:
            return json.loads(done.stdout)
    out = docker(
        "run",
        "--rm",
        "-i",
        "--network",
        "none",
        "--label",
        f"{LABEL}={RUN_ID}",
        run.image,
        "python",
        "-c",
        code,
        stdin=text.encode(),
    ).stdout
    return json.loads(out)


def documented_compose() -> dict[str, dict[str, set[str]]]:
    """The compose table of docs/operations.md: service -> {env, volumes, env_file}."""
    text = (REPO / "docs" / "operations.md").read_text()
    match = re.search(r"^### docker-compose\.yml\n(.*?)(?=^#)", text, re.M | re.S)
    if match is None:
        raise CheckFailed("docs/operations.md has no '### docker-compose.yml' section")
    rows = [line for line in match.group(1).splitlines() if line.startswith("| `")]
    fail_unless(rows, "docs/operations.md's '### docker-compose.yml' section has no service table")
    services: dict[str, dict[str, set[str]]] = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        fail_unless(len(cells) >= 4, f"compose table row has fewer than 4 columns: {row}")
        service = cells[0].strip("`")
        services[service] = {
            "env": set(re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[2])),
            "env_file": {".env"} if "`.env`" in cells[2] else set(),
            "volumes": set(re.findall(r"`([a-z][a-z0-9_-]*)`\s*(?:→|->)", cells[3])),
        }
    return services


def check_compose(run: Run, state: dict[str, Any]) -> str:
    compose = compose_command()
    source = (REPO / "docker-compose.yml").read_text()
    with tempfile.TemporaryDirectory(prefix="wsdeploy-compose-") as tmp:
        Path(tmp, ".env").write_text("")  # what compose fills in from the file itself, nothing more
        done = subprocess.run(
            [
                *compose,
                "-f",
                str(REPO / "docker-compose.yml"),
                "--project-directory",
                tmp,
                "config",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    fail_unless(
        done.returncode == 0,
        f"`{' '.join(compose)} config` rejects docker-compose.yml:\n{done.stderr.strip()}",
    )
    config = yaml_to_data(done.stdout, run)
    raw = yaml_to_data(source, run)
    docs = documented_compose()
    services = config.get("services", {})
    fail_unless(
        set(services) == set(docs),
        f"compose services {sorted(services)} but docs/operations.md lists {sorted(docs)}",
    )
    settings = set(
        json.loads(
            run.python(
                "import json; from whatsapp_scheduler.settings import Settings; "
                "print(json.dumps([n.upper() for n in Settings.model_fields]))"
            )
        )
    )
    problems = []
    for name, svc in services.items():
        env = svc.get("environment") or {}
        env_names = set(env) if isinstance(env, dict) else {e.split("=", 1)[0] for e in env}
        if env_names != docs[name]["env"]:
            problems.append(
                f"{name}: environment {sorted(env_names)} vs docs {sorted(docs[name]['env'])}"
            )
        has_file = {".env"} if raw["services"][name].get("env_file") else set()
        if has_file != docs[name]["env_file"]:
            problems.append(
                f"{name}: env_file {sorted(has_file)} vs docs {sorted(docs[name]['env_file'])}"
            )
        if svc.get("image", "").startswith("whatsapp-scheduler") or "build" in svc:
            unknown = env_names - settings
            if unknown:
                problems.append(f"{name}: {sorted(unknown)} are not settings of the service")
        vols = {
            str(v.get("source") if isinstance(v, dict) else v.split(":", 1)[0])
            for v in svc.get("volumes") or []
        }
        if vols != docs[name]["volumes"]:
            problems.append(
                f"{name}: volumes {sorted(vols)} vs docs {sorted(docs[name]['volumes'])}"
            )
    top = set(config.get("volumes") or {})
    documented = set().union(*(d["volumes"] for d in docs.values()))
    if top != documented:
        problems.append(f"top-level volumes {sorted(top)} vs docs {sorted(documented)}")
    example = re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (REPO / ".env.example").read_text(), re.M)
    if set(example) - settings:
        problems.append(f".env.example names {sorted(set(example) - settings)}, not settings")
    fail_unless(
        not problems, "docker-compose.yml and docs/operations.md disagree: " + "; ".join(problems)
    )
    tool = " ".join([Path(compose[0]).name, *compose[1:]])
    return f"`{tool} config` accepts it; services {sorted(services)}, their variables and volumes match the docs"


# ---- main ------------------------------------------------------------------------------------


@contextlib.contextmanager
def interrupts_as_exceptions() -> Iterator[None]:
    def raise_exit(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="whatsapp-scheduler:test-deploy")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--only", help="comma-separated checks to run (default: all)")
    args = parser.parse_args()
    run = Run(args.image)
    state: dict[str, Any] = {}
    checks: list[tuple[str, Callable[[], str], set[str]]] = [
        ("build", lambda: check_build(run, state), set()),
        ("image", lambda: check_image(run, state), {"build"}),
        ("sandbox", lambda: check_sandbox(run, state), {"build"}),
        ("drain", lambda: check_drain(run, state), {"sandbox"}),
        ("volume", lambda: check_volume(run, state), {"drain"}),
        ("cutoff", lambda: check_cutoff(run, state), {"volume"}),
        ("postgres", lambda: check_postgres(run, state, args.postgres_url), {"build"}),
        ("compose", lambda: check_compose(run, state), {"build"}),
    ]
    only = set(args.only.split(",")) if args.only else None
    passed: list[str] = []
    failed: list[str] = []
    started = time.monotonic()
    print(f"deploy check {RUN_ID}: image {args.image}, docker {DOCKER}", flush=True)
    try:
        with interrupts_as_exceptions():
            for name, fn, needs in checks:
                if only is not None and name not in only and name != "build":
                    continue
                missing = needs - set(passed)
                if missing:
                    failed.append(name)
                    print(
                        f"FAIL {name}: not run, it needs {sorted(missing)} which failed", flush=True
                    )
                    continue
                t0 = time.monotonic()
                try:
                    detail = fn()
                except CheckFailed as exc:
                    failed.append(name)
                    print(f"FAIL {name} ({time.monotonic() - t0:.1f} s): {exc}", flush=True)
                else:
                    passed.append(name)
                    print(f"ok   {name} ({time.monotonic() - t0:.1f} s): {detail}", flush=True)
    except KeyboardInterrupt as exc:
        failed.append(f"interrupted ({exc})")
        print(f"FAIL interrupted: {exc}", flush=True)
    finally:
        run.cleanup()
    print(f"deploy check took {time.monotonic() - started:.0f} s", flush=True)
    print(f"deploy: {len(passed)} passed, {len(failed)} failed", flush=True)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
