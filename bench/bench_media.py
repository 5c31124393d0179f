"""Uploaded files (issue 18): the memory a 100 MB upload costs the service, and its speed.

Starts `whatsapp-scheduler serve --sandbox --no-dispatcher` on a fresh SQLite file (or on
`--database-url`), uploads a 100 MB document (a PDF header and random bytes) with `POST
/media` streamed from a file, reads it back from `/media/{id}/content`, and samples the
service's resident memory (VmRSS, every 10 ms) throughout. Reported per round: the peak RSS
above the service's RSS just before the upload, the upload's and the download's MB/s, the
service's CPU seconds during the upload, and that the bytes came back unchanged. The target: a 100 MB upload adds at most 20 MB of
RSS.

With `--s3`, a second service stores its files in an S3-compatible bucket (`MEDIA_URL=s3://`)
served by moto's S3 server (`moto_server`) in a process of its own on loopback: moto stands in
for a real S3 server, which cannot be installed on the project's machines. Both services run
throughout, the database one and the S3 one, and their rounds alternate (the order reversed
every other round), so the ratio S3 / database is taken in one run on the same machine. The
RSS measured is the service's only (moto holds the objects in its own process).

    .venv/bin/python bench/bench_media.py [--rounds 3] [--size-mb 100] [--database-url URL] [--s3]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchservice

API_KEY = "bench-media-key-0123456789abcdef"
BUCKET = "bench-media"
#: moto accepts any credentials; boto3 needs some (in the service's environment and here).
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bench-key-id",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Sampler:
    """The peak RSS of a process while it runs, sampled on a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kb(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def one_round(url: str, pid: int, path: Path, digest: str) -> dict[str, float]:
    headers = {"X-API-Key": API_KEY}
    with httpx.Client(base_url=url, headers=headers, timeout=600) as client:
        small = client.post("/media", files={"file": ("w.pdf", b"%PDF-1.4\n" + b"0" * 1000)})
        small.raise_for_status()  # warm: the route, the multipart parser, the store
        before = rss_kb(pid)
        size = path.stat().st_size
        with Sampler(pid) as up, path.open("rb") as file:
            began, cpu = time.perf_counter(), cpu_seconds(pid)
            answer = client.post("/media", files={"file": ("big.pdf", file, "application/pdf")})
            up_seconds = time.perf_counter() - began
            up_cpu = cpu_seconds(pid) - cpu
        answer.raise_for_status()
        media_id = answer.json()["id"]
        check = hashlib.sha256()
        with Sampler(pid) as down:
            began = time.perf_counter()
            with client.stream("GET", f"/media/{media_id}/content") as response:
                for chunk in response.iter_bytes():
                    check.update(chunk)
            down_seconds = time.perf_counter() - began
        if check.hexdigest() != digest or answer.json()["sha256"] != digest:
            raise SystemExit("the file came back changed")
        client.delete(f"/media/{media_id}").raise_for_status()
    mb = size / 1024 / 1024
    return {
        "upload_rss_mb": (up.peak - before) / 1024,
        "download_rss_mb": (down.peak - before) / 1024,
        "upload_mb_s": mb / up_seconds,
        "upload_cpu_s": up_cpu,  # the service's CPU seconds during the upload
        "download_mb_s": mb / down_seconds,
    }


@contextlib.contextmanager
def moto_s3() -> Iterator[str]:
    """moto's S3 server (`moto_server`) in its own process on loopback, with an empty bucket
    `BUCKET`; yields its endpoint URL."""
    import boto3  # type: ignore[import-untyped]

    port = benchservice.free_port()
    command = [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with benchservice.serving(command, port, "moto_server") as url:
        client = boto3.client(
            "s3",
            endpoint_url=url,
            region_name=AWS_ENV["AWS_DEFAULT_REGION"],
            aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        )
        client.create_bucket(Bucket=BUCKET)
        yield url


def show(title: str, rounds: list[dict[str, float]]) -> None:
    print(title)
    for key in rounds[0]:
        values = [r[key] for r in rounds]
        shown = " / ".join(f"{v:.2f}" for v in values)
        print(f"  {key:16} median {statistics.median(values):7.2f}   ({shown})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--s3", action="store_true", help="also a service storing in moto's S3")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        path = Path(tmp) / "big.pdf"
        with path.open("wb") as out:
            out.write(b"%PDF-1.7\n")
            for _ in range(args.size_mb):
                out.write(os.urandom(1024 * 1024))
            out.truncate(args.size_mb * 1024 * 1024)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        extra = {"DATABASE_URL": args.database_url} if args.database_url else {}
        services = {"database": benchservice.start(Path(tmp) / "media.db", API_KEY, extra)}
        stack.callback(benchservice.stop, services["database"][0])
        if args.s3:
            endpoint = stack.enter_context(moto_s3())
            s3_env = AWS_ENV | {
                "MEDIA_URL": f"s3://{BUCKET}/files",
                "MEDIA_S3_ENDPOINT_URL": endpoint,
                "MEDIA_S3_REGION": AWS_ENV["AWS_DEFAULT_REGION"],
            }  # its own SQLite file: the rows only (a shared --database-url would do as well)
            services["s3"] = benchservice.start(Path(tmp) / "media-s3.db", API_KEY, s3_env)
            stack.callback(benchservice.stop, services["s3"][0])
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in services}
        for round_ in range(args.rounds):
            order = list(services) if round_ % 2 == 0 else list(reversed(services))
            for name in order:
                proc, url, _ = services[name]
                rounds[name].append(one_round(url, proc.pid, path, digest))
    where = args.database_url or "SQLite file"
    for name, results in rounds.items():
        store = "in the database" if name == "database" else "in moto's S3 (own process)"
        show(f"{args.size_mb} MB upload, {args.rounds} rounds, {where}, files {store}", results)
    if args.s3:
        print("S3 / database (medians)")
        for key in ("upload_mb_s", "download_mb_s"):
            s3, db = (statistics.median(r[key] for r in rounds[n]) for n in ("s3", "database"))
            print(f"  {key:16} {s3 / db:.2f}x")


if __name__ == "__main__":
    main()
