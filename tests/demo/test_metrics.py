"""What an operator sees of a running app (demo/metrics.py) and the limits it sets, against a real server and
real streams: ``/healthz``, the ``/metrics`` gauges and counters, one stream per visitor, the waiting-line cap."""

from __future__ import annotations

import random
import time

import httpx
import pytest

from demo.soak import Tally, Visitor, scrape

SECONDS = 20


def wait_until(condition, limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {limit_s} s"
        time.sleep(0.1)


def playing(url: str) -> tuple[float, float]:
    figures = scrape(url)
    return figures["streamdit_streams_playing"], figures["streamdit_visitors_waiting"]


@pytest.fixture()
def visitors(limited_server: str):
    """Visitors (Gradio session + canvas player) made by the test, all gone after it, and the server idle again."""
    made: list[Visitor] = []

    def make() -> Visitor:
        made.append(Visitor(limited_server, random.Random(len(made)), Tally(), SECONDS, start_limit_s=60))
        return made[-1]

    yield make
    for visitor in made:
        visitor.leave()
    wait_until(lambda: playing(limited_server) == (0, 0))


def test_healthz_answers_with_the_model_it_serves(limited_server: str, model_dir) -> None:
    response = httpx.get(limited_server + "healthz", timeout=10)
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok" and health["model"].startswith(model_dir.name) and health["device"] == "cpu"


def test_the_streams_playing_gauge_follows_a_real_stream(limited_server: str, visitors) -> None:
    before = scrape(limited_server)
    assert before["streamdit_stream_slots"] == 1 and before["process_resident_memory_bytes"] > 50e6
    assert (before["streamdit_streams_playing"], before["streamdit_visitors_waiting"]) == (0, 0)
    visitor = visitors()
    assert visitor.start()
    visitor.watch(1.0, deadline=time.monotonic() + 60)
    assert playing(limited_server) == (1, 0)
    during = scrape(limited_server)
    assert during["streamdit_frames_sent_total"] >= before["streamdit_frames_sent_total"] + visitor.player.drawn
    assert during["streamdit_streams_started_total"] == before["streamdit_streams_started_total"] + 1
    assert during["streamdit_start_to_first_frame_seconds_count"] == \
        before["streamdit_start_to_first_frame_seconds_count"] + 1
    visitor.stop()
    wait_until(lambda: playing(limited_server) == (0, 0), limit_s=10)


def test_a_second_start_replaces_the_visitors_first_stream(limited_server: str, visitors) -> None:
    visitor = visitors()
    assert visitor.start()
    visitor.watch(0.5, deadline=time.monotonic() + 60)
    first = visitor.job
    assert visitor.start()  # with one slot, a second stream that waited for the first would never start
    visitor.watch(0.5, deadline=time.monotonic() + 60)
    assert first.done() and playing(limited_server) == (1, 0)
    visitor.stop()


def test_a_full_line_turns_the_next_visitor_away_with_when_to_come_back(limited_server: str, visitors) -> None:
    from gradio_client.exceptions import AppError

    first, second, third = visitors(), visitors(), visitors()
    assert first.start()
    first.watch(0.5, deadline=time.monotonic() + 60)
    assert second.start()
    wait_until(lambda: playing(limited_server) == (1, 1), limit_s=10)
    assert second.start()  # pressing Start again while waiting keeps one place, not two
    assert playing(limited_server) == (1, 1)
    refused = scrape(limited_server).get("streamdit_starts_refused_total", 0)
    with pytest.raises(AppError, match=r"busy: 1 visitors are waiting for a stream\. Try again in \d+ s"):
        third.client.predict(SECONDS, "ab" * 16, api_name="/join_line")
    assert scrape(limited_server)["streamdit_starts_refused_total"] == refused + 1
    first.stop()  # the slot frees: the waiting visitor plays, and the line has room again
    second.watch(0.5, deadline=time.monotonic() + 60)
    assert third.start()
    wait_until(lambda: playing(limited_server) == (1, 1), limit_s=10)


def test_two_starts_while_waiting_play_one_stream_to_the_second_player(student_server: str) -> None:
    # While a visitor waits, both generates of two Starts run later with the session's state then: the second
    # Start's ticket and player. The soak met the second of them stopping the first's stream, which played to
    # the same player, before its first frame.
    made = [Visitor(student_server, random.Random(i), Tally(), SECONDS, start_limit_s=60) for i in range(4)]
    others, visitor = made[:3], made[3]
    try:
        for other in others:  # every slot taken: the visitor's two Starts wait
            assert other.start()
        for other in others:
            other.watch(0.2, deadline=time.monotonic() + 60)
        started = scrape(student_server)["streamdit_streams_started_total"]
        assert visitor.start()
        first = visitor.job
        assert visitor.start()
        wait_until(lambda: playing(student_server)[1] == 1, limit_s=10)
        for other in others:
            other.stop()
        first.result(timeout=60)
        visitor.watch(0.5, deadline=time.monotonic() + 60)  # the second player plays
        assert scrape(student_server)["streamdit_streams_started_total"] == started + 1
        visitor.stop()
    finally:
        for one in made:
            one.leave()
    wait_until(lambda: playing(student_server) == (0, 0), limit_s=30)
