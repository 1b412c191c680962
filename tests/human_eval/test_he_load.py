"""Load and crash tests against a real server subprocess on 127.0.0.1.

Runs are bounded by a number of votes; the durations are only generous limits for a stuck run, never
an assertion (a loaded machine is slow, not wrong). Speeds are measured by ``python -m human_eval bench``.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time

import pytest

from human_eval.load import LoadResult, free_port, run_load, start_server
from human_eval.store import Store
from human_eval.study import load_study
from human_eval.toy import make_toy_study

pytestmark = pytest.mark.slow
PATIENCE_S = 300  # upper limit for a run that should end by its vote count long before


@pytest.fixture(scope="module")
def big_study(tmp_path_factory):
    """4 systems x 10 prompts: 60 regular pairs, enough for every annotator to keep voting."""
    return make_toy_study(tmp_path_factory.mktemp("load") / "study", systems=4, prompts=10, gold=1, frames=2, size=16)


@pytest.fixture(scope="module")
def watched_s(big_study):
    """What the page reports for videos played through: the study's longest video."""
    return max(info.seconds for info in load_study(big_study).videos.values())


def _tokens(db, n):
    store = Store(db)
    tokens = [t for _, t in store.create_tokens(n)]
    store.close()
    return tokens


def _stored(db):
    store = Store(db)
    rows = store.vote_rows()
    store.close()
    return rows


def _resubmit(port, bodies):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    answers = []
    for body in bodies:
        conn.request("POST", "/api/vote", body=json.dumps(body), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        answers.append((response.status, json.loads(response.read())))
    conn.close()
    return answers


def test_concurrent_annotators_every_acked_vote_is_stored_once(big_study, watched_s, tmp_path):
    db = tmp_path / "votes.sqlite"
    tokens = _tokens(db, 16)
    port = free_port()
    server = start_server(big_study, db, port, log=tmp_path / "server.log")
    try:
        result = run_load(f"http://127.0.0.1:{port}", tokens, seconds=PATIENCE_S, max_votes=200, watched_s=watched_s)
        assert result.failed == 0 and len(result.acked) >= 200
        resent = _resubmit(port, result.acked[:100])
        assert all(status == 200 and answer == {"ok": True, "duplicate": True} for status, answer in resent)
    finally:
        server.terminate()
        server.wait(60)
    rows = _stored(db)
    ids = [r["client_vote_id"] for r in rows]
    assert len(ids) == len(set(ids)) == len(result.acked)
    assert set(ids) == {b["client_vote_id"] for b in result.acked}
    stored = {r["client_vote_id"]: json.loads(r["answers"]) for r in rows}
    assert all(stored[b["client_vote_id"]] == b["answers"] for b in result.acked)


def test_loopback_only():
    with pytest.raises(ValueError, match="loopback only"):
        run_load("http://192.0.2.1:8000", ["t"], seconds=1, max_votes=1, watched_s=1.0)


@pytest.mark.parametrize("vote_sync", ["full", "normal"])
def test_kill_9_mid_load_loses_no_acked_vote(big_study, watched_s, tmp_path, vote_sync):
    db = tmp_path / "votes.sqlite"
    tokens = _tokens(db, 16)
    port = free_port()
    server = start_server(big_study, db, port, log=tmp_path / "server.log", vote_sync=vote_sync)
    result = LoadResult()

    def load():
        result.__dict__.update(run_load(f"http://127.0.0.1:{port}", tokens, seconds=PATIENCE_S,
                                        max_votes=100_000, watched_s=watched_s).__dict__)

    worker = threading.Thread(target=load)
    try:
        worker.start()
        deadline = time.monotonic() + PATIENCE_S
        while _count(db) < 150 and time.monotonic() < deadline and worker.is_alive():
            time.sleep(0.05)
        stored_before_kill = _count(db)
        os.kill(server.pid, signal.SIGKILL)  # in the middle of the load
        server.wait(60)
        worker.join(PATIENCE_S)
        assert not worker.is_alive()
    finally:
        if server.poll() is None:
            server.kill()
    assert stored_before_kill >= 150, "the load did not get going before the kill"
    assert result.failed > 0  # connections broke: the kill really hit a running load

    rows = _stored(db)
    stored_ids = {r["client_vote_id"] for r in rows}
    print(f"kill -9 ({vote_sync}): {len(result.acked)} votes acked, {len(result.unanswered)} sent unanswered, "
          f"{len(rows)} stored after the kill, {len({b['client_vote_id'] for b in result.acked} - stored_ids)} acked lost")
    assert {b["client_vote_id"] for b in result.acked} <= stored_ids  # every acked vote survived
    assert stored_ids <= {b["client_vote_id"] for b in result.acked + result.unanswered}

    port = free_port()
    server = start_server(big_study, db, port, log=tmp_path / "server2.log")
    try:
        resent = _resubmit(port, result.acked + result.unanswered)
        assert all(status == 200 and answer["ok"] for status, answer in resent)
        assert all(answer["duplicate"] for _, answer in resent[:len(result.acked)])
        again = run_load(f"http://127.0.0.1:{port}", tokens[:2], seconds=PATIENCE_S, max_votes=10, watched_s=watched_s)
        assert again.failed == 0 and len(again.acked) >= 10  # serves on
    finally:
        server.terminate()
        server.wait(60)
    ids = [r["client_vote_id"] for r in _stored(db)]
    assert len(ids) == len(set(ids))  # resubmitted votes counted once
    assert {b["client_vote_id"] for b in result.acked + result.unanswered} <= set(ids)


def _count(db) -> int:
    store = Store(db)
    n = store.count_votes()
    store.close()
    return n
