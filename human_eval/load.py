"""Load generation against a running server (loopback only), and starting a server subprocess.

Used by ``python -m human_eval bench`` and by the load and crash tests. Every run is bounded by a
vote count and a duration and stops by itself.
"""
from __future__ import annotations

import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import numpy as np


@dataclass
class LoadResult:
    acked: list[dict] = field(default_factory=list)         # vote bodies the server answered ok
    latencies_ms: list[float] = field(default_factory=list)  # POST /api/vote round trips of acked votes
    failed: int = 0                                           # refused votes and broken connections
    unanswered: list[dict] = field(default_factory=list)     # votes sent when the connection broke
    seconds: float = 0.0

    def summary(self) -> dict[str, float]:
        lat = np.array(self.latencies_ms) if self.latencies_ms else np.array([np.nan])
        return {"votes": len(self.acked), "seconds": self.seconds, "votes_per_s": len(self.acked) / max(self.seconds, 1e-9),
                "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
                "max_ms": float(lat.max()), "failed": self.failed}


def _check_loopback(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"load runs against loopback only, not {parts.hostname!r}")
    return parts.hostname, parts.port or 80


def _call(conn: http.client.HTTPConnection, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def _annotator(host: str, port: int, token: str, result: LoadResult, deadline: float, max_votes: int,
               watched_s: float, stop: threading.Event, lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=60)  # a loaded machine is slow, not broken
    try:
        while not stop.is_set() and time.perf_counter() < deadline:
            try:
                _, item = _call(conn, "GET", f"/api/next?token={quote(token)}")
                if item.get("done") or "item_id" not in item:
                    return
                body = {"token": token, "item_id": item["item_id"], "client_vote_id": uuid.uuid4().hex,
                        "answers": {q["id"]: random.choice(q["answers"])["id"] for q in item["questions"]},
                        "watched": {"left": watched_s, "right": watched_s}}
            except (OSError, http.client.HTTPException, ValueError):
                with lock:
                    result.failed += 1
                return
            start = time.perf_counter()
            try:
                status, answer = _call(conn, "POST", "/api/vote", body)
            except (OSError, http.client.HTTPException, ValueError):
                with lock:
                    result.failed += 1
                    result.unanswered.append(body)
                return
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                if status == 200 and answer.get("ok"):
                    result.acked.append(body)
                    result.latencies_ms.append(elapsed)
                    if len(result.acked) >= max_votes:
                        stop.set()
                else:
                    result.failed += 1
    finally:
        conn.close()


def run_load(base_url: str, tokens: list[str], seconds: float = 10.0, max_votes: int = 10_000, *,
             watched_s: float) -> LoadResult:
    """One thread per token, each an annotator looping next -> vote on a kept-alive connection, until
    ``seconds`` pass, ``max_votes`` are acknowledged, the annotator is done or its connection breaks. Each
    vote says both videos played ``watched_s`` seconds, as the page does once they played through (the
    server refuses less than 90% of a video's length: give the study's longest video).

    Plain ``http.client`` threads: measured here at ~0.2 ms of client CPU per request, against ~2.5 ms
    for httpx's async client, which would make the client, not the server, the bottleneck.
    """
    host, port = _check_loopback(base_url)
    result, stop, lock = LoadResult(), threading.Event(), threading.Lock()
    start = time.perf_counter()
    threads = [threading.Thread(target=_annotator, args=(host, port, t, result, start + seconds, max_votes, watched_s,
                                                         stop, lock), daemon=True) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 30)
    result.seconds = time.perf_counter() - start
    return result


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds used so far by a process (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(study: str | Path, db: str | Path, port: int, log: str | Path | None = None,
                 timeout: float = 120.0, vote_sync: str = "full") -> subprocess.Popen:
    """Start ``python -m human_eval serve`` on 127.0.0.1:port and wait until it answers."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        proc = subprocess.Popen([sys.executable, "-m", "human_eval", "serve", "--study", str(study), "--db", str(db),
                                 "--host", "127.0.0.1", "--port", str(port), "--vote-sync", vote_sync],
                                stdout=out, stderr=subprocess.STDOUT,
                                env=env, cwd=Path(__file__).resolve().parent.parent)
    finally:
        if log:
            out.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}" + (f"; see {log}" if log else ""))
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
            if _call(conn, "GET", "/healthz")[0] == 200:
                conn.close()
                return proc
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not answer within {timeout} s")
