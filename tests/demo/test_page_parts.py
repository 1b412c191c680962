"""The page's parts without a server: the waiting line, the vocabulary check, escaping, upload messages, model speeds."""

from __future__ import annotations

from dataclasses import astuple
from pathlib import Path

import pytest

from demo.handlers import ordinal, speed_words
from demo.inputs import InputError, video_frames
from demo.markup import escape_markdown
from demo.models import BUNDLED_DIR, ModelBank, ModelOption, discover
from demo.vocabulary import domain_markdown, unknown_words, unknown_words_note
from demo.waiting import LineFull, WaitingLine
from streamdit.data import caption_vocabulary


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_waiting_line_places_expected_waits_and_cancel() -> None:
    clock = Clock()
    line = WaitingLine(slots=1, clock=clock)
    run = line.start(seconds=30)  # one stream of 30 s runs in the only slot
    clock.now += 10
    a = line.join("tab-a", seconds=20)
    clock.now += 1
    b = line.join("tab-b", seconds=60)
    c = line.join("tab-c", seconds=5)
    assert astuple(line.place(a)) == pytest.approx((1, 3, 19.0))  # the running stream has 19 s left
    assert astuple(line.place(b)) == pytest.approx((2, 3, 39.0))  # ... then a's 20 s
    assert astuple(line.place(c)) == pytest.approx((3, 3, 99.0))  # ... then b's 60 s
    assert line.cancel("tab-b") == 1 and line.place(b) is None
    assert astuple(line.place(c)) == pytest.approx((2, 2, 39.0))  # b left the line: c moves up
    line.end(run)
    assert line.place(a).wait_s == 0.0  # the slot is free
    assert not line.leave(a).cancelled
    assert line.leave(b).cancelled  # its generate must not run
    assert line.leave(None) is None and line.leave(b) is None  # an API call has no ticket


def test_waiting_line_with_two_slots_takes_the_first_free_one() -> None:
    clock = Clock()
    line = WaitingLine(slots=2, clock=clock)
    line.start(seconds=50)
    a, b = line.join("a", seconds=10), line.join("b", seconds=10)
    assert line.place(a).wait_s == 0.0  # the second slot is free
    assert line.place(b).wait_s == pytest.approx(10.0)  # after a's 10 s in that slot, not after the 50 s stream


def test_waiting_line_a_stream_past_its_planned_end_frees_its_slot_now_not_before() -> None:
    clock = Clock()
    line = WaitingLine(slots=1, clock=clock)
    line.start(seconds=30)  # planned to end at 130; still running at 140 (slower than planned)
    a, b = line.join("a", seconds=20), line.join("b", seconds=5)
    clock.now = 140.0
    assert line.place(a).wait_s == 0.0  # not -10: the slot is expected to free now
    assert line.place(b).wait_s == pytest.approx(20.0)  # after a's 20 s


def test_waiting_line_counts_only_tickets_still_waiting_and_cancels_each_once() -> None:
    line = WaitingLine(slots=1, clock=Clock())
    line.join("tab-a", seconds=10)
    line.join("tab-b", seconds=10)
    line.join("tab-c", seconds=10)
    assert line.waiting() == 3
    assert line.cancel("tab-a") == 1 and line.waiting() == 2
    assert line.cancel("tab-a") == 0 and line.waiting() == 2  # nothing left to cancel


def test_waiting_line_a_second_start_of_a_visitor_replaces_the_first() -> None:
    line = WaitingLine(slots=1, clock=Clock())
    line.start(seconds=30)
    first = line.join("tab-a", seconds=10)
    line.join("tab-b", seconds=10)
    second = line.join("tab-a", seconds=10)
    assert line.waiting() == 2 and line.place(first) is None
    assert astuple(line.place(second))[:2] == (2, 2)  # behind b: a new press of Start goes to the back
    assert line.leave(first).cancelled  # the first press's stream never runs


def test_waiting_line_full_refuses_with_the_time_until_a_place_frees() -> None:
    clock = Clock()
    line = WaitingLine(slots=1, clock=clock, max_waiting=2)
    line.start(seconds=30)
    clock.now += 12
    a, _ = line.join("a", seconds=20), line.join("b", seconds=20)
    with pytest.raises(LineFull) as refused:
        line.join("c", seconds=20)
    assert refused.value.waiting == 2 and refused.value.retry_s == pytest.approx(18.0)  # the stream's 18 s left
    line.cancel("a")
    line.join("c", seconds=20)  # a left: c has a place
    assert line.leave(a).cancelled and line.waiting() == 2


def test_waiting_line_cap_counts_only_visitors_who_must_wait_for_a_slot() -> None:
    line = WaitingLine(slots=2, clock=Clock(), max_waiting=0)
    line.join("a", seconds=10)
    line.join("b", seconds=10)  # two free slots: both start at once, nobody waits
    with pytest.raises(LineFull, match="try again in 10 s"):
        line.join("c", seconds=10)


def test_unknown_words_are_named_and_known_ones_pass() -> None:
    assert unknown_words("a cat running on the beach at sunset, a cat") == ["cat", "running", "beach", "at", "sunset"]
    assert unknown_words("A Crimson disc drifting leftward and a cobalt box moving up on a grey backdrop.") == []
    assert all(not unknown_words(word) for word in caption_vocabulary())
    assert unknown_words_note(["cat"]).startswith("'cat' is not something this model has seen")
    assert unknown_words_note(["cat", "dog"]).startswith("'cat' and 'dog' are not")
    assert "2 more" in unknown_words_note(list("abcdefgh"))
    assert unknown_words_note([]) == ""


def test_domain_text_lists_every_synonym_and_links_the_card() -> None:
    text = domain_markdown()
    words = set(text.replace("*", " ").replace(",", " ").replace("(", " ").replace(")", " ").replace(";", " ").split())
    assert set(caption_vocabulary()) - {"a", "an", "and", "on", "against", "background", "backdrop", "the", "to",
                                        "toward", "top", "bottom"} <= words
    assert "(#model-card)" in text and "coloured shapes" in text


def test_escape_markdown_keeps_text_and_disarms_markup() -> None:
    assert escape_markdown("a blue square moving up") == "a blue square moving up"
    escaped = escape_markdown("<img src=x onerror=alert(1)> **bold** [link](http://x) $$x$$\n# head")
    assert "<" not in escaped and "**" not in escaped and "](" not in escaped and "$$" not in escaped
    assert "\n" not in escaped and escaped.startswith("&lt;img")


def test_upload_errors_name_the_problem_not_the_server(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video\x17" * 100)
    cases = [(broken, "“broken.mp4”: invalid data found"), (tmp_path / "gone.mp4", "did not reach the server")]
    for path, message in cases:
        with pytest.raises(InputError) as info:
            video_frames(path, (32, 32), 4)
        text = str(info.value)
        assert message in text and str(tmp_path) not in text and "Errno" not in text, text


def test_model_choices_say_slower_than_real_time(tmp_path: Path) -> None:
    bank = ModelBank([ModelOption("teacher (32 steps per chunk)", None, "teacher")], "cpu")
    assert bank.choices() == [("Teacher", "teacher (32 steps per chunk)")]  # not measured: no claim
    fps = bank.get().config.fps
    bank.speeds[bank.labels[0]] = fps / 4
    assert bank.choices() == [("Teacher (0.25× real time: too slow, pauses)", "teacher (32 steps per chunk)")]
    bank.speeds[bank.labels[0]] = fps * 3
    assert bank.choices() == [("Teacher (3.0× real time)", "teacher (32 steps per chunk)")]
    assert speed_words(0.29).startswith("made at **0.29×** real time: slower than playback")
    assert speed_words(1.0, 2.6) == "made as fast as it plays (this model: **2.6×** real time here)"
    assert speed_words(1.0) == "made as fast as it plays"
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd"]


@pytest.mark.skipif(not (BUNDLED_DIR / "student" / "README.md").is_file(), reason="no bundled student")
def test_the_page_shows_the_bundled_model_card() -> None:
    from demo.app import build_demo

    bank = ModelBank(discover()[:1], "cpu")
    demo = build_demo(bank)
    values = [c.get("props", {}).get("value") for c in demo.config["components"]]
    card = (BUNDLED_DIR / "student" / "README.md").read_text()
    assert any(isinstance(v, str) and card.strip()[:200] in v for v in values)
    assert any(c.get("props", {}).get("elem_id") == "model-card" for c in demo.config["components"])
