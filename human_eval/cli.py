"""Command line: ``python -m human_eval {pairs,serve,tokens,export,aggregate,bench,coverage,toy-study}``."""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

from .export import VotesError
from .media import MediaError, VideoInfo, probe
from .store import Store, StoreError
from .study import (Pair, Study, StudyError, blinding_warnings, build_pairs, check_untagged, probe_pairs,
                    write_default_study, write_pairs)


def _pairs(args: argparse.Namespace) -> None:
    root = Path(args.study)
    if (root / "pairs.csv").exists() and not args.force:
        raise StudyError(f"{root / 'pairs.csv'} exists: pass --force to overwrite it")
    prompts = None
    if args.prompts:
        try:
            with open(args.prompts, newline="", encoding="utf-8-sig") as f:
                prompts = {row["id"]: row["prompt"] for row in csv.DictReader(f)}
        except (OSError, KeyError, csv.Error) as err:
            raise StudyError(f"cannot read prompts from {args.prompts} (CSV with columns id, prompt): {err}") from err
    pairs = build_pairs(root, args.systems, prompts, args.per_prompt, args.seed)
    infos = probe_pairs(root, pairs)  # every source decodes (else an error naming it)
    out = root / "media"
    if out.exists() and any(out.iterdir()) and not args.force:
        raise StudyError(f"{out} is not empty: pass --force to add to it")
    pairs, infos = (_normalize if args.normalize else _strip)(root, pairs, infos, args)
    study = Study(root=root.resolve(), pairs=pairs, videos=infos)
    check_untagged(study)
    for warning in blinding_warnings(study):
        print(f"warning: {warning}", file=sys.stderr)
    write_pairs(pairs, root / "pairs.csv")
    print(f"wrote {len(pairs)} pairs to {root / 'pairs.csv'}")
    if not any((root / name).exists() for name in ("study.json", "study.yaml", "study.yml")):
        write_default_study(root / "study.json")
        print(f"wrote default questions to {root / 'study.json'}")


def _repoint(pairs: list[Pair], new: dict[str, str]) -> list[Pair]:
    from dataclasses import replace

    return [replace(p, video_a=new[p.video_a], video_b=new[p.video_b]) for p in pairs]


def _strip(root: Path, pairs: list[Pair], infos: dict[str, VideoInfo],
           args: argparse.Namespace) -> tuple[list[Pair], dict[str, VideoInfo]]:
    """Copy every video of ``pairs`` into ROOT/media under an opaque name without its metadata tags (no
    re-encoding); the pairs pointing at the copies, and their probe results."""
    import secrets
    from dataclasses import replace

    from .media import read_tags, strip_metadata
    out = root / "media"
    out.mkdir(parents=True, exist_ok=True)
    new = {}
    for video in sorted(infos):
        new[video] = f"media/{secrets.token_hex(8)}{Path(video).suffix.lower()}"
        strip_metadata(root / video, root / new[video])
    print(f"copied {len(new)} videos without their metadata tags to {out} (not re-encoded: --normalize also evens "
          "out codec, size, fps and length)")
    return _repoint(pairs, new), {new[v]: replace(info, tags=read_tags(root / new[v])) for v, info in infos.items()}


def _normalize(root: Path, pairs: list[Pair], infos: dict[str, VideoInfo],
               args: argparse.Namespace) -> tuple[list[Pair], dict[str, VideoInfo]]:
    """Re-encode every video of ``pairs`` into ROOT/media under opaque names; the pairs pointing at them, and
    their probe results."""
    from .media import normalize_videos
    sources = sorted(infos)
    fps = args.fps or max(1, round(min(i.fps for i in infos.values())))
    if args.size:
        width, height = args.size
    else:
        smallest = min(infos.values(), key=lambda i: i.width * i.height)
        width, height = smallest.width // 2 * 2, smallest.height // 2 * 2
    names = normalize_videos([root / v for v in sources], root / "media", fps=fps, width=width, height=height,
                             seconds=args.seconds)
    new = {v: f"media/{names[root / v]}" for v in sources}
    print(f"re-encoded {len(sources)} videos to H.264 {width}x{height} at {fps} fps, one length, in {root / 'media'}")
    return _repoint(pairs, new), {new[v]: probe(root / new[v]) for v in sources}


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, e.g. 480x480, not {text!r}") from None
    if width < 2 or height < 2 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError("width and height must be even numbers >= 2")
    return width, height


def _at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {value}")
        return value
    return parse


def _serve(args: argparse.Namespace) -> None:
    from .server import serve
    serve(args.study, args.db, args.host, args.port, args.seed, args.vote_sync)


def _tokens(args: argparse.Namespace) -> None:
    store = Store(args.db)
    if args.revoke or args.list:
        try:
            for name in args.revoke or []:
                store.revoke(name)
                print(f"revoked {name}")
            if args.list:
                for a in store.accounts():
                    print(f"{a['name']}\t{a['role']}\t{'revoked' if a['revoked'] else 'active'}")
        finally:
            store.close()
        return
    try:
        made = store.create_tokens(args.n, args.prefix or ("admin" if args.admin else "annotator"),
                                   "admin" if args.admin else "annotator")
    finally:
        store.close()
    print("# tokens are shown only now; the database keeps their SHA-256 digests", file=sys.stderr)
    for name, token in made:
        if args.url:
            link = f"{args.url.rstrip('/')}/admin (sign in with the secret)" if args.admin else f"{args.url.rstrip('/')}/?token={token}"
            print(f"{name}\t{token}\t{link}")
        else:
            print(f"{name}\t{token}")


def _export(args: argparse.Namespace) -> None:
    from .export import export_csv
    if not Path(args.db).is_file():
        raise StoreError(f"database {args.db} not found")
    print(f"wrote {export_csv(args.db, args.out)} answers to {args.out}")


def _aggregate(args: argparse.Namespace) -> None:
    from .aggregate import load_votes
    from .report import write_report
    table = load_votes(args.votes, args.db)
    tables = write_report(table, args.out, rounds=args.bootstrap, seed=args.seed,
                          min_gold_accuracy=args.min_gold_accuracy, min_consistency=args.min_consistency,
                          min_median_seconds=args.min_median_seconds, cluster=args.cluster, anchor=args.anchor,
                          anchor_rating=args.anchor_rating)
    print(tables["ranking"].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"wrote report.md, ranking.csv, pairwise.csv, predicted_win_rates.csv, agreement.csv, annotators.csv, "
          f"skipped.csv and plots to {args.out} (intervals: cluster bootstrap over {args.cluster})")


def _bench(args: argparse.Namespace) -> None:
    from .load import cpu_seconds, free_port, run_load, start_server
    from .study import load_study
    from .toy import make_toy_study
    with tempfile.TemporaryDirectory(prefix="human_eval_bench_") as tmp:
        root = make_toy_study(Path(tmp) / "study", systems=5, prompts=60, gold=0, frames=2, size=16)
        longest = max(info.seconds for info in load_study(root).videos.values())
        db = Path(tmp) / "votes.sqlite"
        store = Store(db)
        tokens = [t for _, t in store.create_tokens(args.annotators)]
        store.close()
        port = free_port()
        server = start_server(root, db, port, log=Path(tmp) / "server.log", vote_sync=args.vote_sync)
        try:
            cpu_before = cpu_seconds(server.pid)
            result = run_load(f"http://127.0.0.1:{port}", tokens, args.seconds, args.max_votes, watched_s=longest)
            cpu_after = cpu_seconds(server.pid)
        finally:
            server.terminate()
            server.wait(10)
        store = Store(db)
        stored = store.count_votes()
        store.close()
    s = result.summary()
    cpu = f"{(cpu_after - cpu_before) / max(s['votes'], 1) * 1000:.2f} ms" if cpu_before is not None else "n/a"
    print(f"annotators={args.annotators} seconds={s['seconds']:.1f} votes={s['votes']} stored={stored} "
          f"failed={s['failed']} vote_sync={args.vote_sync}")
    print(f"server_cpu_per_vote={cpu} (next + vote requests) cores={os.cpu_count()} "
          f"load_avg_1min={os.getloadavg()[0]:.1f}")
    print(f"votes/s={s['votes_per_s']:.1f} p50={s['p50_ms']:.1f} ms p99={s['p99_ms']:.1f} ms max={s['max_ms']:.1f} ms "
          f"(target: >= 300 votes/s, p99 < 100 ms)")


def _coverage(args: argparse.Namespace) -> None:
    from .simulate import Scenario, coverage
    scenarios = {"one annotator casts 40% of the votes (12 annotators, taste sd 0.5)": Scenario(),
                 "12 equal annotators (taste sd 0.5)": Scenario(heavy_share=1 / 12),
                 "40 equal annotators, independent votes": Scenario(annotators=40, heavy_share=1 / 40, taste=0.0)}
    print(f"coverage of the true Bradley-Terry scores, {args.reps} simulated studies of 600 votes on 4 systems, "
          f"{args.rounds} bootstrap resamples")
    for label, scenario in scenarios.items():
        result = coverage(scenario, args.reps, rounds=args.rounds, seed=args.seed)
        cells = [f"{cluster} bootstrap {level:.0%}: {hits / n:.3f}" for (cluster, level), (hits, n) in result.items()]
        print(f"{label}: " + "; ".join(cells) + f" (n={next(iter(result.values()))[1]} intervals)", flush=True)


def _toy(args: argparse.Namespace) -> None:
    from .toy import make_toy_study
    root = make_toy_study(args.dir, systems=args.systems, prompts=args.prompts, gold=args.gold)
    print(f"wrote a toy study to {root}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m human_eval",
                                     description="Blinded side-by-side human evaluation of videos: "
                                                 "build pairs, serve the rating page, export and aggregate votes.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("pairs", help="write STUDY/pairs.csv from one folder of videos per system",
                       description="Pair videos of the same prompt (same file stem) across system folders. "
                                   "Folders must be inside the study directory; the folder name is the system name. "
                                   "Every video is decoded, then copied to STUDY/media/<opaque id> without its "
                                   "container and stream metadata (title, comment, handler names, encoder, creation "
                                   "time, ...) and other streams; pairs.csv names the copies.")
    p.add_argument("study", help="study directory (pairs.csv and study.json are written here)")
    p.add_argument("--systems", nargs="+", required=True, metavar="DIR", help="one folder of videos per system")
    p.add_argument("--prompts", help="CSV with columns id, prompt (id = video file stem); default: the stem")
    p.add_argument("--per-prompt", type=int, help="system pairs per prompt, balanced over all pairs (default: all pairs)")
    p.add_argument("--seed", type=int, default=0, help="seed of the balanced sample")
    p.add_argument("--force", action="store_true", help="overwrite an existing pairs.csv (and add to STUDY/media)")
    p.add_argument("--normalize", action="store_true",
                   help="re-encode every video to one codec (H.264), fps, size and length, without the sources' "
                        "metadata, as STUDY/media/<opaque id>.mp4, so only the content differs between systems")
    p.add_argument("--fps", type=_at_least(1), help="with --normalize: frame rate (default: the lowest of the videos)")
    p.add_argument("--size", type=_size, help="with --normalize: WIDTHxHEIGHT, videos fitted inside with black bars "
                                              "(default: the smallest video's size)")
    p.add_argument("--seconds", type=float, help="with --normalize: length (default: the shortest video's)")
    p.set_defaults(run=_pairs)

    p = sub.add_parser("serve", help="serve the annotator page, JSON API and admin view")
    p.add_argument("--study", required=True, help="study directory")
    p.add_argument("--db", required=True, help="SQLite file of votes (created if missing)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--seed", type=int, help="seed of assignment choices and sides (default: random)")
    p.add_argument("--vote-sync", choices=["full", "normal"], default="full",
                   help="full (default): fsync every vote before answering; normal: no fsync per vote, "
                        "safe if the server is killed but not on power loss (for disks with slow fsync)")
    p.set_defaults(run=_serve)

    p = sub.add_parser("tokens", help="create annotator tokens (or an admin secret) and print them once")
    p.add_argument("--db", required=True, help="SQLite file of votes (created if missing)")
    p.add_argument("-n", type=int, default=1, help="how many")
    p.add_argument("--admin", action="store_true", help="create admin secrets for /admin instead")
    p.add_argument("--prefix", help="name prefix (default: annotator or admin)")
    p.add_argument("--url", help="server address, to print ready links, e.g. http://127.0.0.1:8000")
    p.add_argument("--revoke", nargs="+", metavar="NAME", help="revoke these accounts' tokens (works while serving)")
    p.add_argument("--list", action="store_true", help="list accounts and whether they are revoked")
    p.set_defaults(run=_tokens)

    p = sub.add_parser("export", help="write every stored answer as CSV")
    p.add_argument("--db", required=True)
    p.add_argument("--out", required=True, help="CSV file to write")
    p.set_defaults(run=_export)

    p = sub.add_parser("aggregate", help="rankings, win rates, agreement and annotator quality",
                       description="Writes OUT/report.md, ranking.csv (Bradley-Terry and Elo with intervals), "
                                   "pairwise.csv (Holm-adjusted sign tests), predicted_win_rates.csv, agreement.csv, "
                                   "annotators.csv, skipped.csv, ranking.png, win_rates.png and "
                                   "predicted_win_rates.png. Intervals: cluster bootstrap over annotators unless "
                                   "--cluster says otherwise.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--votes", help="CSV written by export")
    source.add_argument("--db", help="SQLite file of votes")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--bootstrap", type=_at_least(10), default=1000, help="bootstrap resamples for intervals (default 1000)")
    p.add_argument("--cluster", choices=["annotator", "prompt", "vote"], default="annotator",
                   help="what the bootstrap resamples: whole annotators (default), whole prompts, or single votes")
    p.add_argument("--anchor", help="system fixed at --anchor-rating on the Elo scale (default: the mean)")
    p.add_argument("--anchor-rating", type=float, default=1000.0, help="Elo rating of the anchor (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-gold-accuracy", type=float, help="exclude annotators below this gold accuracy")
    p.add_argument("--min-consistency", type=float, help="exclude annotators below this repeat consistency")
    p.add_argument("--min-median-seconds", type=float, help="exclude annotators faster than this per item")
    p.set_defaults(run=_aggregate)

    p = sub.add_parser("bench", help="load test on 127.0.0.1: votes/s and vote latency percentiles",
                       description="Starts a server on a toy study in a temporary folder and posts votes from "
                                   "concurrent annotators until --seconds or --max-votes is reached.")
    p.add_argument("--annotators", type=int, default=32, help="concurrent annotators (default 32)")
    p.add_argument("--seconds", type=float, default=10.0, help="duration (default 10)")
    p.add_argument("--max-votes", type=int, default=20_000, help="stop after this many votes (default 20000)")
    p.add_argument("--vote-sync", choices=["full", "normal"], default="full", help="as for serve")
    p.set_defaults(run=_bench)

    p = sub.add_parser("coverage", help="simulated studies: how often the intervals cover the true scores",
                       description="Prints the coverage of the annotator-cluster and the vote bootstrap intervals "
                                   "(90%% and 95%%) on simulated annotators with their own tastes.")
    p.add_argument("--reps", type=_at_least(1), default=500, help="simulated studies per scenario (default 500)")
    p.add_argument("--rounds", type=_at_least(10), default=400, help="bootstrap resamples (default 400)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_coverage)

    p = sub.add_parser("toy-study", help="write a toy study with tiny generated videos, to try the server")
    p.add_argument("dir")
    p.add_argument("--systems", type=int, default=3)
    p.add_argument("--prompts", type=int, default=4)
    p.add_argument("--gold", type=int, default=1, help="attention items with one black video")
    p.set_defaults(run=_toy)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (StudyError, StoreError, VotesError, MediaError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
