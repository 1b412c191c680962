"""The canvas player's channel (demo/live.py): message framing, tokens, pacing on the player's reports."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time

import numpy as np
import pytest
from PIL import Image
from starlette.requests import Request

from demo.live import CONTROL, FRAME, HEADER, LiveChannel, LiveHub, check_token, control_message, frame_message


def test_a_frame_message_carries_its_index_prompt_version_and_jpeg() -> None:
    frame = np.zeros((128, 128, 3), np.uint8)
    frame[32:96, 32:96] = (220, 30, 30)
    message = frame_message(7, 2, frame)
    kind, index, version, length = HEADER.unpack(message[:HEADER.size])
    assert (kind, index, version, length) == (FRAME, 7, 2, len(message) - HEADER.size)
    decoded = np.asarray(Image.open(io.BytesIO(message[HEADER.size:])))
    assert decoded.shape == frame.shape and np.abs(decoded.astype(int) - frame).mean() < 3
    control = control_message(steer=3)
    assert HEADER.unpack(control[:HEADER.size])[0] == CONTROL and json.loads(control[HEADER.size:]) == {"steer": 3}


@pytest.mark.parametrize("token", ["", "abc", "../../etc/passwd00000000", "A" * 32, "0" * 65])
def test_tokens_other_than_the_players_are_refused(token: str) -> None:
    with pytest.raises(ValueError, match="not a live player token"):
        check_token(token)
    assert check_token("0123456789abcdef" * 2) == "0123456789abcdef" * 2


def test_messages_sent_before_the_player_connects_are_kept_in_order() -> None:
    channel = LiveChannel()
    for i in range(3):
        channel.send(control_message(n=i))
    channel.send(None)

    async def read() -> list[int]:
        return [json.loads(m[HEADER.size:])["n"] async for m in channel.messages()]

    assert asyncio.run(read()) == [0, 1, 2] and channel.reader_gone


def test_waiting_for_the_player_ends_on_its_report_on_stop_and_when_it_goes_quiet() -> None:
    channel, stop = LiveChannel(), threading.Event()
    threading.Timer(0.2, channel.report_played, args=(5,)).start()
    assert channel.wait_played(5, stop, patience_s=5) and channel.first_played_at is not None
    threading.Timer(0.2, stop.set).start()
    assert not channel.wait_played(9, stop, patience_s=5)
    started = time.monotonic()
    assert not channel.wait_played(9, threading.Event(), patience_s=0.3)  # nothing drawn: the player has gone
    assert time.monotonic() - started < 3


def test_the_hub_keeps_a_channel_while_either_side_uses_it() -> None:
    hub, token = LiveHub(), "ab" * 16
    first = hub.open(token)
    assert hub.open(token) is first and hub.find(token) is first
    hub.release(token)
    assert hub.find(token) is first
    hub.release(token)
    assert hub.find(token) is None


def test_the_header_is_four_little_endian_uint32_as_the_player_reads_them() -> None:
    """player.js reads kind, index, version and length with DataView.getUint32(offset, true): little-endian."""
    frame = np.zeros((16, 16, 3), np.uint8)
    message = frame_message(300, 5, frame)
    words = [int.from_bytes(message[i:i + 4], "little") for i in range(0, 16, 4)]
    assert words == [0, 300, 5, len(message) - 16]
    control = control_message(end=True)
    assert int.from_bytes(control[:4], "little") == 1
    assert int.from_bytes(control[12:16], "little") == len(control) - 16 == len(b'{"end": true}')


def test_a_late_report_never_moves_the_played_frame_back_and_the_first_play_time_stays(monkeypatch) -> None:
    import demo.live as live

    now = [100.0]
    monkeypatch.setattr(live.time, "monotonic", lambda: now[0])
    channel = LiveChannel()
    channel.report_played(5)
    now[0] = 107.0
    channel.report_played(3)  # a report that arrived out of order
    assert channel.played == 5 and channel.first_played_at == 100.0


def _request(path: str, token: str, query: str = "") -> Request:
    return Request({"type": "http", "method": "GET", "path": path, "path_params": {"token": token},
                    "query_string": query.encode(), "headers": []})


def test_the_routes_refuse_bad_tokens_and_unknown_streams_and_take_reports() -> None:
    """The handlers called directly (a streamed response is not read, so nothing waits for its end)."""
    hub, token = LiveHub(), "cd" * 16
    refused = asyncio.run(hub._stream(_request("/live/../x", "../x")))
    assert refused.status_code == 400 and hub.find("../x") is None
    unknown = asyncio.run(hub._played(_request(f"/live/{token}/played", token, "index=3")))
    assert unknown.status_code == 404
    stream = asyncio.run(hub._stream(_request(f"/live/{token}", token)))
    assert stream.status_code == 200 and hub.find(token) is not None
    assert asyncio.run(hub._played(_request(f"/live/{token}/played", token, "index=x"))).status_code == 400
    assert asyncio.run(hub._played(_request(f"/live/{token}/played", token, "index=3"))).status_code == 204
    assert hub.find(token).played == 3
