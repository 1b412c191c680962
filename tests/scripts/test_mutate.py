"""scripts/mutate.py: the mutant list stays in step with the sources and the tests it names."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "mutate.py"
spec = importlib.util.spec_from_file_location("mutate", SCRIPT)
mutate = importlib.util.module_from_spec(spec)
sys.modules["mutate"] = mutate  # its dataclass looks its module up there
spec.loader.exec_module(mutate)


def test_every_mutant_edits_one_place_of_its_file_and_changes_it() -> None:
    for m in mutate.MUTANTS:
        text = (ROOT / m.file).read_text()
        assert text.count(m.old) == 1, f"{m.name}: {m.old!r} occurs {text.count(m.old)} times in {m.file}"
        assert m.old != m.new, m.name
    names = [m.name for m in mutate.MUTANTS]
    assert len(set(names)) == len(names), "mutant names are unique (--show picks one by name)"


def test_every_named_test_file_and_test_exists() -> None:
    for m in mutate.MUTANTS:
        args = iter(m.tests)
        for arg in args:
            if arg in ("-k", "-m"):
                next(args)  # a keyword or marker expression, not a path
                continue
            path, _, test = arg.partition("::")
            assert (ROOT / path).is_file(), f"{m.name}: no {path}"
            if test:
                assert f"def {test}(" in (ROOT / path).read_text(), f"{m.name}: no test {test} in {path}"


def test_the_modules_the_issue_names_all_have_mutants() -> None:
    files = {m.file for m in mutate.MUTANTS}
    core = {"streamdit/inference/schedule.py", "streamdit/inference/sampler.py", "streamdit/inference/pipeline.py", "streamdit/training/objectives.py",
            "human_eval/stats.py", "human_eval/store.py"}
    assert core <= files and any(f.startswith("eval/") for f in files), sorted(files)
    target = (ROOT / "Makefile").read_text().split("\nmutate:")[1].split("\n\n")[0]
    assert "scripts/mutate.py" in target  # `make mutate` runs it


def test_the_areas_of_the_second_audit_have_mutants() -> None:
    """Issue 33's audit planted bugs in these modules; each keeps mutants so `make mutate` watches it."""
    files = {m.file for m in mutate.MUTANTS}
    audited = {"streamdit/autoencoders/video_autoencoder.py", "streamdit/inference/stream_batch.py",
               "streamdit/models/dit.py", "streamdit/loading.py", "streamdit/training/trainer.py", "demo/live.py",
               "demo/waiting.py", "human_eval/server.py", "eval/clip.py", "eval/dino.py", "eval/download.py"}
    assert audited <= files, sorted(audited - files)
