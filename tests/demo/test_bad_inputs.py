"""Bad input through the API of a launched demo: upload errors name the problem, user errors log one line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

PROMPT = "a red circle moving left on a dark background"


@pytest.fixture()
def client(server: str) -> Client:
    return Client(server, download_files=False, verbose=False)


@pytest.fixture()
def server_log(server: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The log file conftest's ``server`` fixture writes (``<basetemp>/server<N>/app.log``)."""
    logs = sorted(tmp_path_factory.getbasetemp().glob("server[0-9]*/app.log"))
    assert len(logs) == 1, logs
    return logs[0]


def error_of(client: Client, **inputs) -> str:
    with pytest.raises(AppError) as info:
        client.predict(**inputs, api_name="/generate")
    return str(info.value)


def test_unreadable_upload_names_the_problem_not_server_paths(client: Client, tmp_path: Path) -> None:
    broken = tmp_path / "holiday.mp4"
    broken.write_bytes(b"\x00not a video\x17" * 100)
    message = error_of(client, prompt=PROMPT, source="upload", video=handle_file(str(broken)))
    print(f"\nunreadable upload: {message}")
    assert "Cannot read the uploaded video “holiday.mp4”" in message and "invalid data" in message
    assert "/" not in message and "Errno" not in message and "gradio" not in message.lower(), message


def test_over_long_prompt_is_refused_with_its_length(client: Client) -> None:
    message = error_of(client, prompt="a red circle " * 400)  # 5,200 characters, stripped to 5,199
    assert "5,199 characters long; the limit is 2,000" in message, message


def test_user_errors_log_one_line_not_a_traceback(server: str, server_log: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video\x17" * 100)
    client = Client(server, download_files=False, verbose=False)  # a new session: nothing generated yet
    before = server_log.read_text()
    messages = [error_of(client, prompt=""),
                error_of(client, prompt=PROMPT, source="upload", video=handle_file(str(broken))),
                error_of(client, prompt="x" * 5000)]
    with pytest.raises(AppError, match="Nothing generated yet"):
        client.predict(api_name="/download")
    deadline = time.monotonic() + 60  # the log is written by another process: wait for the last line
    while server_log.read_text()[len(before):].count("refused:") < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    added = server_log.read_text()[len(before):]
    print(f"\nserver log for four user errors:\n{added}")
    assert added.count("refused:") == 4, added
    assert "Traceback" not in added and 'File "' not in added, added
    for message in messages:
        assert message in added  # the one line says what was refused
