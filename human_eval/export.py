"""Turn stored votes into the export table: one row per answer, with system names and ``counted``."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .store import Store
from .study import BOTH_BAD, NO_PREFERENCE, PREFERENCE, SIDES

DEFAULT_SIDES = {a.id: a.prefers for a in (*PREFERENCE, BOTH_BAD)}  # answers of databases that record none

COLUMNS = ["annotator", "item_id", "prompt", "system_left", "system_right", "question", "answer", "winner",
           "created_at", "client_vote_id", "counted",
           # extensions: which assignment and kind of item, seconds from serving to vote, gold answer,
           # seconds each video was seen playing (as the page told; empty if not told), unwatched: a vote
           # without watch times (a study with allow_unwatched_votes, or one stored before votes needed them),
           # comment, and skipped: the reason on rows of skipped items (no answer, never counted)
           "kind", "assignment_id", "seconds", "expected", "watched_left_s", "watched_right_s", "unwatched",
           "comment", "skipped"]


CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """Annotator text with its control characters (NUL, escape, ...; not line breaks or tabs) written as
    ``\\xNN``, so none reaches the CSV raw (votes stored before the server refused them)."""
    return CONTROL_CHARACTERS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class VotesError(ValueError):
    """Votes that cannot be read or aggregated (message says why)."""


def answer_rows(vote_rows: list[dict], skip_rows: list[dict] = (),
                answer_sides: dict[tuple[str, str], str | None] | None = None) -> pd.DataFrame:
    """Expand stored votes (``Store.vote_rows``) into one row per answer, plus one row per skip.

    ``counted`` is True on the latest answer of each annotator to each question of each pair (the
    pair id is ``item_id``); ``expected`` is the gold winner on the gold question of gold items. The
    winner is the system on the side the answer favours (``Store.answer_sides``; answers it does not
    record mean what the default set's do), else ``NO_PREFERENCE`` ("both_bad" included: aggregated as a tie).
    """
    answer_sides = answer_sides or {}
    rows = []
    for v in vote_rows:
        left, right = (v["system_b"], v["system_a"]) if v["swapped"] else (v["system_a"], v["system_b"])
        systems = dict(zip(SIDES, (left, right)))
        gold_winner = {"a": v["system_a"], "b": v["system_b"], NO_PREFERENCE: NO_PREFERENCE}.get(v["gold"] or "", "")
        for question, answer in json.loads(v["answers"]).items():
            rows.append({
                "vote_id": v["vote_id"], "annotator": v["annotator"], "item_id": v["pair_id"], "prompt": v["prompt"],
                "system_left": left, "system_right": right, "question": question, "answer": answer,
                "winner": systems.get(answer_sides.get((question, answer), DEFAULT_SIDES.get(answer)), NO_PREFERENCE),
                "created_at": datetime.fromtimestamp(v["created_at"], timezone.utc).isoformat(timespec="milliseconds"),
                "client_vote_id": v["client_vote_id"], "kind": v["kind"], "assignment_id": v["assignment_id"],
                "seconds": round(v["created_at"] - v["served_at"], 3),
                "expected": gold_winner if v["kind"] == "gold" and question == v["gold_question"] else "",
                "watched_left_s": v.get("watched_left"), "watched_right_s": v.get("watched_right"),
                "unwatched": v.get("watched_left") is None, "comment": visible(v.get("comment") or ""), "skipped": "",
            })
    table = pd.DataFrame(rows, columns=["vote_id", *COLUMNS])
    latest = table.groupby(["annotator", "item_id", "question"])["vote_id"].transform("max")
    table["counted"] = table["vote_id"] == latest
    skips = [{"annotator": k["annotator"], "item_id": k["pair_id"], "prompt": k["prompt"],
              "system_left": k["system_b"] if k["swapped"] else k["system_a"],
              "system_right": k["system_a"] if k["swapped"] else k["system_b"], "question": "", "answer": "",
              "winner": "", "created_at": datetime.fromtimestamp(k["created_at"], timezone.utc).isoformat(timespec="milliseconds"),
              "client_vote_id": "", "counted": False, "kind": k["kind"], "assignment_id": k["assignment_id"],
              "seconds": round(k["created_at"] - k["served_at"], 3), "expected": "", "watched_left_s": None,
              "watched_right_s": None, "unwatched": False, "comment": "", "skipped": visible(k["reason"])}
             for k in skip_rows]
    if skips:  # records, not pd.concat: concat warns about the all-empty columns of either part
        table = pd.DataFrame(table[COLUMNS].to_dict("records") + skips, columns=COLUMNS)
    return table[COLUMNS]


def read_answers(db: str | Path) -> pd.DataFrame:
    """The export table of every stored answer and skip of a database."""
    store = Store(db)
    try:
        return answer_rows(store.vote_rows(), store.skip_rows(), store.answer_sides())
    finally:
        store.close()


def export_csv(db: str | Path, out: str | Path) -> int:
    """Write every stored answer (and skip) to ``out`` as CSV; return the number of rows."""
    out = Path(out)
    if not out.parent.is_dir():
        raise VotesError(f"folder {out.parent} does not exist: create it or choose another --out")
    if out.is_dir():
        raise VotesError(f"{out} is a folder: give a file name for the CSV")
    table = read_answers(db)
    try:
        table.to_csv(out, index=False)
    except OSError as err:
        raise VotesError(f"cannot write {out}: {err}") from err
    return len(table)
