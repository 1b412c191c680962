"""Turn stored votes into the export table: one row per answer, with system names and ``counted``."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .store import Store

COLUMNS = ["annotator", "item_id", "prompt", "system_left", "system_right", "question", "answer", "winner",
           "created_at", "client_vote_id", "counted",
           # extensions: which assignment and kind of item, seconds from serving to vote, gold answer
           "kind", "assignment_id", "seconds", "expected"]


class VotesError(ValueError):
    """Votes that cannot be read or aggregated (message says why)."""


def answer_rows(vote_rows: list[dict]) -> pd.DataFrame:
    """Expand stored votes (``Store.vote_rows``) into one row per answer.

    ``counted`` is True on the latest answer of each annotator to each question of each pair (the
    pair id is ``item_id``); ``expected`` is the gold winner on the gold question of gold items.
    """
    rows = []
    for v in vote_rows:
        left, right = (v["system_b"], v["system_a"]) if v["swapped"] else (v["system_a"], v["system_b"])
        gold_winner = {"a": v["system_a"], "b": v["system_b"], "tie": "tie"}.get(v["gold"] or "", "")
        for question, answer in json.loads(v["answers"]).items():
            rows.append({
                "vote_id": v["vote_id"], "annotator": v["annotator"], "item_id": v["pair_id"], "prompt": v["prompt"],
                "system_left": left, "system_right": right, "question": question, "answer": answer,
                "winner": {"left": left, "right": right, "tie": "tie"}[answer],
                "created_at": datetime.fromtimestamp(v["created_at"], timezone.utc).isoformat(timespec="milliseconds"),
                "client_vote_id": v["client_vote_id"], "kind": v["kind"], "assignment_id": v["assignment_id"],
                "seconds": round(v["created_at"] - v["served_at"], 3),
                "expected": gold_winner if v["kind"] == "gold" and question == v["gold_question"] else "",
            })
    table = pd.DataFrame(rows, columns=["vote_id", *COLUMNS])
    latest = table.groupby(["annotator", "item_id", "question"])["vote_id"].transform("max")
    table["counted"] = table["vote_id"] == latest
    return table[COLUMNS]


def export_csv(db: str | Path, out: str | Path) -> int:
    """Write every stored answer to ``out`` as CSV; return the number of rows."""
    store = Store(db)
    try:
        table = answer_rows(store.vote_rows())
    finally:
        store.close()
    table.to_csv(out, index=False)
    return len(table)
