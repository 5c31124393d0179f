"""Uploaded files (issue 18): the memory a 100 MB upload costs the service, and its speed.

Starts `whatsapp-scheduler serve --sandbox --no-dispatcher` on a fresh SQLite file (or on
`--database-url`), uploads a 100 MB document (a PDF header and random bytes) with `POST
/media` streamed from a file, reads it back from `/media/{id}/content`, and samples the
service's resident memory (VmRSS, every 10 ms) throughout. Reported per round: the peak RSS
above the service's RSS just before the upload, the upload's and the download's MB/s, and that
the bytes came back unchanged. The target: a 100 MB upload adds at most 20 MB of RSS.

    .venv/bin/python bench/bench_media.py [--rounds 3] [--size-mb 100] [--database-url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchservice

API_KEY = "bench-media-key-0123456789abcdef"


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
            began = time.perf_counter()
            answer = client.post("/media", files={"file": ("big.pdf", file, "application/pdf")})
            up_seconds = time.perf_counter() - began
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
        "download_mb_s": mb / down_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.pdf"
        with path.open("wb") as out:
            out.write(b"%PDF-1.7\n")
            for _ in range(args.size_mb):
                out.write(os.urandom(1024 * 1024))
            out.truncate(args.size_mb * 1024 * 1024)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        extra = {"DATABASE_URL": args.database_url} if args.database_url else None
        proc, url, _ = benchservice.start(Path(tmp) / "media.db", API_KEY, extra)
        try:
            rounds = [one_round(url, proc.pid, path, digest) for _ in range(args.rounds)]
        finally:
            benchservice.stop(proc)
    print(
        f"{args.size_mb} MB upload, {args.rounds} rounds, database: {args.database_url or 'SQLite file'}"
    )
    for key in rounds[0]:
        values = [r[key] for r in rounds]
        shown = " / ".join(f"{v:.1f}" for v in values)
        print(f"  {key:16} median {statistics.median(values):7.1f}   ({shown})")


if __name__ == "__main__":
    main()
