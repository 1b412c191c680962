"""`make install` installs the project itself: its packages import from any folder, and `streamdit` is a command."""

import subprocess
import sys
from pathlib import Path


def test_the_packages_import_from_another_folder(tmp_path) -> None:
    code = "import streamdit, eval, demo, human_eval; print(streamdit.__file__)"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).parent.name == "streamdit"


def test_the_streamdit_command_runs(tmp_path) -> None:
    command = Path(sys.executable).parent / "streamdit"
    done = subprocess.run([str(command), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "generate" in done.stdout and "bench" in done.stdout
