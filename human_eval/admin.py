"""Admin view: progress per annotator and per pair, as JSON and as an HTML page (owner only)."""
from __future__ import annotations

from collections import Counter
from html import escape

from .export import answer_rows
from .store import Store


def progress(store: Store) -> dict:
    """Counts per annotator (given, answered, gold accuracy) and per pair (given, rated)."""
    assignments = store.assignments()
    answers = answer_rows(store.vote_rows())
    answered = set(answers["assignment_id"])
    given = Counter(a.annotator_id for a in assignments)
    done = Counter(a.annotator_id for a in assignments if a.id in answered)
    gold = answers[(answers["expected"] != "") & answers["counted"]]
    annotators = []
    for person in store.annotators():
        mine = gold[gold["annotator"] == person.name]
        annotators.append({"name": person.name, "given": given[person.id], "answered": done[person.id],
                           "gold_correct": int((mine["winner"] == mine["expected"]).sum()), "gold_total": len(mine)})
    pair_given = Counter(a.pair_id for a in assignments if a.kind == "regular")
    pair_rated = answers[answers["kind"] == "regular"].groupby("item_id")["annotator"].nunique().to_dict()
    pairs = [{"pair_id": pid, "prompt": prompt, "system_a": sa, "system_b": sb, "gold": g or "",
              "given": pair_given[pid], "rated": int(pair_rated.get(pid, 0))}
             for pid, prompt, sa, sb, g in store.items()]
    return {"annotators": annotators, "pairs": pairs, "votes": store.count_votes()}


def _table(rows: list[dict]) -> str:
    if not rows:
        return "<p>none yet</p>"
    head = "".join(f"<th>{escape(k)}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(report: dict) -> str:
    """The admin page; every value is HTML-escaped."""
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Study progress</title>"
            "<link rel='stylesheet' href='/style.css'></head><body class='admin'>"
            f"<h1>Study progress</h1><p>{report['votes']} votes stored.</p>"
            f"<h2>Annotators</h2>{_table(report['annotators'])}<h2>Pairs</h2>{_table(report['pairs'])}"
            "</body></html>")
