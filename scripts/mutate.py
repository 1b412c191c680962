"""A small mutation run over the core modules: plausible one-line bugs, planted one at a time.

Each mutant is a (file, old, new) edit of one line. The tracked and untracked (not ignored) files of the
repository are copied once to a temporary folder; for each mutant the edit is applied there, only the
test files that cover that module are run (``pytest -x``), and the file is restored. A mutant is *caught*
when the tests fail (or time out), *survives* when they pass. The sources in the checkout are never
touched. Before the mutants, every test group is run once unmutated: a group that fails there would
catch every mutant, so the run stops.

    python scripts/mutate.py                 # all mutants, then the share caught and the survivors
    python scripts/mutate.py --only schedule # mutants whose file or name contains "schedule"
    python scripts/mutate.py --show NAME     # one mutant, with pytest's output (to see what catches it)
    python scripts/mutate.py --list

``make mutate`` runs it. A mutant whose ``old`` text is not found exactly once is an error (the list is
stale after an edit of the source): fix the list rather than skipping it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# test files (and pytest -k filters) that cover each module; slow or unrelated tests left out
SAMPLING = ("tests/streamdit/inference/test_schedule.py", "tests/streamdit/inference/test_sampler_autoregressive.py")
PIPELINE = ("tests/streamdit/inference/test_pipeline.py", "-k", "not compiled")
STEER = ("tests/streamdit/inference/test_steer.py",)
DISTILL = ("tests/streamdit/training/test_distillation.py",
           "tests/streamdit/training/test_distillation_training.py::"
           "test_teacher_velocity_is_uncond_plus_guidance_times_cond_minus_uncond_random_teacher")
FRECHET = ("tests/eval/test_frechet.py",)
FRAMES = ("tests/eval/test_frame_metrics.py", "tests/eval/test_motion.py")
KVD = ("tests/eval/test_fvd.py", "-k", "kvd")
BOOTSTRAP = ("tests/eval/test_report_bench.py", "-k", "bootstrap")
HE_STATS = ("tests/human_eval/test_he_aggregate.py",)
HE_STORE = ("tests/human_eval/test_he_store.py",)


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    equivalent: str = ""  # why no test can tell this mutant from the original, if so


M = Mutant
MUTANTS = [
    # -- schedule -----------------------------------------------------------------------------------
    M("shift_time: shift on the denominator's other side", "streamdit/inference/schedule.py",
      "return shift * u / (1.0 + (shift - 1.0) * u)", "return shift * u / (1.0 + (shift + 1.0) * u)", SAMPLING),
    M("time_grid: one point short", "streamdit/inference/schedule.py",
      "torch.linspace(1.0, 0.0, num_steps + 1, dtype=torch.float64)",
      "torch.linspace(1.0, 0.0, num_steps, dtype=torch.float64)", SAMPLING),
    M("total_steps: K + s", "streamdit/inference/schedule.py",
      "return self.num_chunks * self.micro_steps", "return self.num_chunks + self.micro_steps", SAMPLING),
    M("chunk_indices: front chunk noisiest", "streamdit/inference/schedule.py",
      "return (K - 1 - torch.arange(K)) * s + micro_step", "return torch.arange(K) * s + micro_step", SAMPLING),
    M("warmup_steps: K * s", "streamdit/inference/schedule.py",
      "return (self.scheme.num_chunks - 1) * self.scheme.micro_steps",
      "return self.scheme.num_chunks * self.scheme.micro_steps", SAMPLING),
    M("steady_indices: a step of two", "streamdit/inference/schedule.py",
      "return current, current + 1", "return current, current + 2", SAMPLING),
    M("step_times: floor not applied to t_next", "streamdit/inference/schedule.py",
      "current, nxt = torch.maximum(current, floor), torch.maximum(nxt, floor)",
      "current, nxt = torch.maximum(current, floor), nxt", SAMPLING),
    M("step_times: floor not applied to t", "streamdit/inference/schedule.py",
      "current, nxt = torch.maximum(current, floor), torch.maximum(nxt, floor)",
      "current, nxt = current, torch.maximum(nxt, floor)", SAMPLING),
    M("index_for_time: the grid point above t", "streamdit/inference/schedule.py",
      "return int((self.grid <= t + 1e-12).nonzero()[0])", "return int((self.grid <= t + 1e-12).nonzero()[0]) - 1",
      SAMPLING + ("tests/streamdit/inference/test_pipeline.py", "-k", "video")),
    M("mixed sampler: one draw per frame, not per chunk", "streamdit/inference/schedule.py",
      "per_chunk = u[i, ::c].repeat_interleave(c)", "per_chunk = u[i]", SAMPLING),
    M("mixed sampler: bands not shifted", "streamdit/inference/schedule.py",
      "times[i] = shift_time((band + per_chunk) / K, self.shift)", "times[i] = (band + per_chunk) / K", SAMPLING),
    M("mixed sampler: front chunk noisiest", "streamdit/inference/schedule.py",
      "band = torch.arange(K, dtype=torch.float64).repeat_interleave(c)",
      "band = torch.arange(K - 1, -1, -1, dtype=torch.float64).repeat_interleave(c)", SAMPLING),
    # -- sampler ------------------------------------------------------------------------------------
    M("euler_step: dt reversed", "streamdit/inference/sampler.py",
      "dt = (t_next - t).to(x.dtype).view(1, 1, -1, 1, 1)", "dt = (t - t_next).to(x.dtype).view(1, 1, -1, 1, 1)",
      SAMPLING),
    M("warm-up: captures one step late", "streamdit/inference/sampler.py",
      "for k in schedule.warmup_captures(m + 1):", "for k in schedule.warmup_captures(m + 2):", SAMPLING),
    M("warm-up: buffer not reset to the captures", "streamdit/inference/sampler.py",
      "    x = start\n", "    x = x\n", SAMPLING),
    M("steady state: one micro-step per chunk", "streamdit/inference/sampler.py",
      "for j in range(sched.micro_steps):", "for j in range(1):", SAMPLING),
    M("flush: emits the padding", "streamdit/inference/sampler.py",
      "        if live[0]:\n", "        if True:\n", SAMPLING,
      equivalent="the loop returns once no live chunk is left behind the front, so the front is always live "
                 "when a chunk is emitted"),
    M("entering chunk keeps the leaving chunk's floor", "streamdit/inference/sampler.py",
      "floor = torch.cat([floor[c:], torch.full((c,), new.floor)])",
      "floor = torch.cat([floor[c:], floor[:c]])", SAMPLING),
    M("tags not shifted", "streamdit/inference/sampler.py", "tags = tags[1:] + [new.tag]", "tags = tags", SAMPLING),
    M("steer refresh: frames not noised back", "streamdit/inference/sampler.py",
      "grid, current = schedule.grid, torch.clamp(levels, max=refresh.index)",
      "grid, current = schedule.grid, torch.clamp(levels, min=refresh.index)", STEER),
    M("steer refresh: the buffer keeps its old tags", "streamdit/inference/sampler.py",
      "            tags = [new.tag] * K\n", "", STEER),
    M("steer refresh: renoise without the missing noise", "streamdit/inference/sampler.py",
      "return scale.view(view) * x + sigma.view(view) * noise", "return scale.view(view) * x", STEER),
    M("autoregressive: context not clean", "streamdit/inference/sampler.py",
      "clean = torch.zeros(B - c, dtype=grid.dtype)", "clean = torch.full((B - c,), float(grid[-2]), dtype=grid.dtype)",
      SAMPLING),
    M("autoregressive: emits the front chunk", "streamdit/inference/sampler.py",
      "yield EmittedChunk(x[:, :, B - c:], new.tag)", "yield EmittedChunk(x[:, :, :c], new.tag)", SAMPLING),
    # -- pipeline -----------------------------------------------------------------------------------
    M("guidance: cond + w (cond - uncond)", "streamdit/inference/sampler.py",
      "return uncond + guidance * (cond - uncond)", "return cond + guidance * (cond - uncond)", PIPELINE),
    M("guidance: halves swapped", "streamdit/inference/sampler.py",
      "cond, uncond = model(torch.cat([x, x]), torch.cat([t, t]), both.tokens, both.mask).chunk(2)",
      "uncond, cond = model(torch.cat([x, x]), torch.cat([t, t]), both.tokens, both.mask).chunk(2)", PIPELINE),
    M("guidance interval: the cleaner frames guided", "streamdit/inference/sampler.py",
      "scale = torch.where(t >= min_t, guidance, 1.0)", "scale = torch.where(t >= min_t, guidance, guidance)", PIPELINE),
    M("guidance 0: null prompt still encoded and used", "streamdit/inference/sampler.py",
      "if not guidance or null is None:", "if null is None:", PIPELINE),
    M("v2v: input and noise weights swapped", "streamdit/inference/pipeline.py",
      "return EnteringChunk((1 - t) * latents + t * noise, floor=floor, tag=self.prompt_version, refresh=refresh)",
      "return EnteringChunk(t * latents + (1 - t) * noise, floor=floor, tag=self.prompt_version, refresh=refresh)", PIPELINE),
    M("v2v: entering at floor 0", "streamdit/inference/pipeline.py",
      "return EnteringChunk((1 - t) * latents + t * noise, floor=floor, tag=self.prompt_version, refresh=refresh)",
      "return EnteringChunk((1 - t) * latents + t * noise, floor=0, tag=self.prompt_version, refresh=refresh)", PIPELINE),
    M("v2v: a short last chunk accepted", "streamdit/inference/pipeline.py",
      "if len(frames) < pipe.frames_per_chunk:", "if not frames:", PIPELINE),
    M("set_prompt: embedding not switched", "streamdit/inference/pipeline.py",
      "self._text = self.pipe.encode_prompt(prompt)\n        self.prompt = prompt",
      "self.prompt = prompt", PIPELINE),
    M("generate: one chunk short", "streamdit/inference/pipeline.py",
      "chunks_needed = -(-num_frames // self.frames_per_chunk)", "chunks_needed = num_frames // self.frames_per_chunk",
      PIPELINE),
    M("first_chunk_s: measured from the wrong clock", "streamdit/inference/pipeline.py",
      "self.stats.first_chunk_s = time.perf_counter() - self.stats.started", "self.stats.first_chunk_s = time.perf_counter()",
      PIPELINE),
    # -- distillation -------------------------------------------------------------------------------
    M("segment_states: steady segment one step long", "streamdit/training/objectives.py",
      "states = [(steady, steady + s)]", "states = [(steady, steady + 1)]", DISTILL),
    M("segment_states: start-up segments skipped", "streamdit/training/objectives.py",
      "for m in range(0, teacher.warmup_steps, s):", "for m in range(s, teacher.warmup_steps, s):", DISTILL),
    M("teacher_segment: one micro-step short", "streamdit/training/objectives.py",
      "for _ in range(int((end - start).max())):", "for _ in range(int((end - start).max()) - 1):", DISTILL),
    M("noised_buffer: weights swapped", "streamdit/training/objectives.py",
      "return (1 - t) * latents + t * noise", "return t * latents + (1 - t) * noise", DISTILL),
    M("rollout: noise enters at the front", "streamdit/training/objectives.py",
      "x = torch.cat([x[:, :, c:], torch.randn_like(x[:, :, :c])], dim=2)",
      "x = torch.cat([torch.randn_like(x[:, :, :c]), x[:, :, c:]], dim=2)", DISTILL),
    M("loss: target velocity sign", "streamdit/training/objectives.py",
      "target_v = (target_x - x)[:, :, moving] / dt[moving].view(1, 1, -1, 1, 1)",
      "target_v = (x - target_x)[:, :, moving] / dt[moving].view(1, 1, -1, 1, 1)", DISTILL),
    M("loss: waiting frames kept", "streamdit/training/objectives.py", "moving = end > start", "moving = end >= start",
      DISTILL),
    M("loss: dt weight ignores the power", "streamdit/training/objectives.py",
      "weight = dt[moving].abs().float() ** dt_power", "weight = dt[moving].abs().float()", DISTILL),
    # -- eval metrics -------------------------------------------------------------------------------
    M("FD: covariance divided by N - 1", "eval/frechet.py",
      "torch.cov(x.T, correction=0)", "torch.cov(x.T, correction=1)", FRECHET),
    M("FD: negative values not clamped", "eval/frechet.py", ".clamp_min(0.0))", ")", FRECHET),
    M("FD: second set's covariance used twice", "eval/frechet.py",
      "return frechet_distance_from_moments(mu_a, sigma_a, mu_b, sigma_b)",
      "return frechet_distance_from_moments(mu_a, sigma_b, mu_b, sigma_b)", FRECHET),
    M("KVD: quadratic kernel", "eval/kvd.py", "b = (x @ y.T / d + 1) ** 3", "b = (x @ y.T / d + 1) ** 2", KVD),
    M("KVD: biased (diagonal kept)", "eval/kvd.py",
      "total += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m", "total += a.sum() / (m - 1) - b.sum() * 2 / m",
      KVD),
    M("flicker: signed differences", "eval/consistency.py",
      "values.append(np.abs(np.subtract(frame, previous, dtype=np.int16)).mean(dtype=np.float64))",
      "values.append(np.subtract(frame, previous, dtype=np.int16).mean(dtype=np.float64))", FRAMES),
    M("seam: boundaries one frame early", "eval/consistency.py",
      "boundary[chunk_size - 1::chunk_size] = True", "boundary[chunk_size - 2::chunk_size] = True", FRAMES),
    M("seam: ratio inverted", "eval/consistency.py", "return float(across / within)", "return float(within / across)",
      FRAMES),
    M("VBench consistency: first-frame term dropped", "eval/consistency.py",
      "return float(np.mean((to_first + to_prev) / 2))", "return float(np.mean(to_prev))", FRAMES),
    M("frozen share: any change counts as frozen", "eval/motion.py",
      "return float(np.mean(diffs == 0))", "return float(np.mean(diffs <= 1))", FRAMES),
    M("bootstrap: interval at 90%", "eval/stats.py", "confidence_level=confidence,", "confidence_level=0.9,",
      BOOTSTRAP),
    # -- human_eval stats and store -----------------------------------------------------------------
    M("Wilson interval ignores the level", "human_eval/stats.py",
      "proportion_ci(confidence_level=level, method=\"wilson\")", "proportion_ci(confidence_level=0.95, method=\"wilson\")",
      HE_STATS),
    M("sign test one-sided", "human_eval/stats.py", "alternative=\"two-sided\"", "alternative=\"greater\"", HE_STATS),
    M("Holm replaced by Bonferroni", "human_eval/stats.py", "method=\"holm\"", "method=\"bonferroni\"", HE_STATS),
    M("Elo: base e instead of 10", "human_eval/stats.py", "ELO_SCALE = 400 / np.log(10)", "ELO_SCALE = 400",
      HE_STATS),
    M("ties not split half and half", "human_eval/stats.py",
      "wins = counts[..., 0] + 0.5 * counts[..., 1]", "wins = counts[..., 0]", HE_STATS),
    M("BT Newton: gradient sign", "human_eval/stats.py",
      "step = np.clip(np.linalg.solve(hessian, -grad[..., None])[..., 0], -5, 5)",
      "step = np.clip(np.linalg.solve(hessian, grad[..., None])[..., 0], -5, 5)", HE_STATS),
    M("few-cluster factor: G instead of G - 1 degrees of freedom", "human_eval/stats.py",
      "stats.t.ppf(q, effective - 1)", "stats.t.ppf(q, effective)", HE_STATS),
    M("ranking: a 90% interval labelled 95%", "human_eval/aggregate.py",
      "quantiles = [(1 - level) / 2, (1 + level) / 2]", "quantiles = [0.05, 0.95]", HE_STATS),
    M("ranking: clusters not widened", "human_eval/aggregate.py",
      "boot = theta + stats.few_clusters_factor(per_cluster.sum(axis=(1, 2, 3)), level) * (boot - theta)",
      "boot = boot", HE_STATS),
    M("store: answers not canonical", "human_eval/store.py",
      "payload = json.dumps(answers, sort_keys=True)", "payload = json.dumps(answers)", HE_STORE),
    M("store: a conflict taken for a duplicate", "human_eval/store.py",
      "return \"duplicate\" if tuple(rows[0]) == (assignment_id, payload, comment) else \"conflict\"",
      "return \"duplicate\"", HE_STORE),
]


def copy_repo(dest: Path) -> None:
    """The tracked and untracked, not ignored, files of the checkout (as they are now) under ``dest``."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def run_tests(copy: Path, tests: tuple[str, ...], timeout: float, show: bool) -> tuple[bool, float]:
    """(passed, seconds) of ``pytest -x`` on ``tests`` in the copy; a timeout counts as a failure."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=--import-mode=importlib",
               "--timeout", str(int(timeout)), *tests]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=copy, env=env, capture_output=not show, timeout=timeout + 60)
        passed = done.returncode == 0
    except subprocess.TimeoutExpired:
        passed = False
    return passed, time.perf_counter() - started


def apply(copy: Path, mutant: Mutant) -> str:
    """Plant ``mutant`` in the copy; returns the original text of the file."""
    path = copy / mutant.file
    text = path.read_text()
    if text.count(mutant.old) != 1:
        raise SystemExit(f"mutant {mutant.name!r}: {mutant.old!r} occurs {text.count(mutant.old)} times in "
                         f"{mutant.file}, not once (the list is stale)")
    path.write_text(text.replace(mutant.old, mutant.new))
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="mutants whose file or name contains this text")
    parser.add_argument("--show", help="run the one mutant of this name (or name fragment) with pytest's output")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per test run (a timeout counts as caught)")
    args = parser.parse_args(argv)
    mutants = MUTANTS
    if args.only:
        mutants = [m for m in mutants if args.only in m.file or args.only in m.name]
    if args.show:
        mutants = [m for m in mutants if args.show in m.name][:1]
    if args.list:
        for m in mutants:
            print(f"{m.file}: {m.name}")
        return 0
    if not mutants:
        raise SystemExit("no mutant matches")
    with tempfile.TemporaryDirectory(prefix="streamdit-mutate-") as tmp:
        copy = Path(tmp)
        copy_repo(copy)
        for m in mutants:  # every old text is there once, before any time is spent
            (copy / m.file).write_text(apply(copy, m))
        for tests in dict.fromkeys(m.tests for m in mutants):
            passed, seconds = run_tests(copy, tests, args.timeout, show=False)
            print(f"baseline {' '.join(tests)}: {'passes' if passed else 'FAILS'} ({seconds:.0f} s)", flush=True)
            if not passed:
                raise SystemExit("a test group fails without any mutant: fix that first")
        survivors = []
        for i, m in enumerate(mutants, 1):
            original = apply(copy, m)
            try:
                passed, seconds = run_tests(copy, m.tests, args.timeout, show=bool(args.show))
            finally:
                (copy / m.file).write_text(original)
            print(f"[{i}/{len(mutants)}] {'SURVIVED' if passed else 'caught  '} {m.file}: {m.name} ({seconds:.0f} s)",
                  flush=True)
            if passed:
                survivors.append(m)
    caught = len(mutants) - len(survivors)
    print(f"\n{caught} of {len(mutants)} mutants caught ({100 * caught / len(mutants):.0f}%)")
    for m in survivors:
        print(f"  survived: {m.file}: {m.name}\n    {m.old!r} -> {m.new!r}")
        if m.equivalent:
            print(f"    equivalent: {m.equivalent}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
