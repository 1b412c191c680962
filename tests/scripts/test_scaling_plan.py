"""scripts/scaling_plan.py: counted activation memory and the plan table (meta device: no weights)."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

from streamdit.models.dit import StreamDiTConfig

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "scaling_plan.py"
spec = importlib.util.spec_from_file_location("scaling_plan", SCRIPT)
scaling_plan = importlib.util.module_from_spec(spec)
spec.loader.exec_module(scaling_plan)


def test_checkpointing_keeps_little_more_than_each_blocks_input() -> None:
    cfg = StreamDiTConfig.preset("tiny-latent")
    block_input = math.prod(cfg.token_grid) * cfg.hidden_size * 2  # one bf16 buffer of tokens
    plain = scaling_plan.saved_activation_bytes(cfg, text_tokens=16, checkpointing=False)
    kept = scaling_plan.saved_activation_bytes(cfg, text_tokens=16, checkpointing=True)
    assert cfg.depth * block_input <= kept < 3 * cfg.depth * block_input
    assert plain > 10 * kept


def test_plan_table_memory_falls_with_more_gpus() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--preset", "tiny-latent", "--gpus", "1,4"],
                         capture_output=True, text=True, check=True, cwd=REPO,
                         env={"PYTHONPATH": str(REPO), "PATH": ""}).stdout
    assert "ASSUMED MFU" in out
    rows = [line.split() for line in out.splitlines() if line.strip().split(" ")[0] in ("1", "4")]
    assert [r[0] for r in rows] == ["1", "4"] and float(rows[1][1]) < float(rows[0][1])
