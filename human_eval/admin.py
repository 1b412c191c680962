"""Admin view: progress per annotator and per pair, account management, as JSON and HTML (owner only).

The pages are plain HTML forms (no script); every value is HTML-escaped. The owner signs in by
posting the admin secret once; the server then keeps an HttpOnly, SameSite=Strict session cookie.
"""
from __future__ import annotations

import re
from collections import Counter
from html import escape

from .export import answer_rows
from .store import Store

PREFIX_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_HEAD = ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
         "<meta name='viewport' content='width=device-width, initial-scale=1'><title>{title}</title>"
         "<link rel='stylesheet' href='/style.css'></head><body class='admin'>")


def progress(store: Store) -> dict:
    """Counts per annotator (given, answered, skipped, gold accuracy) and per pair (given, rated, skipped)."""
    assignments = store.assignments()
    answers = answer_rows(store.vote_rows(), answer_sides=store.answer_sides())
    skips = store.skip_rows()
    answered = set(answers["assignment_id"])
    given = Counter(a.annotator_id for a in assignments)
    done = Counter(a.annotator_id for a in assignments if a.id in answered)
    skipped_by = Counter(s["annotator"] for s in skips)
    gold = answers[(answers["expected"] != "") & answers["counted"]]
    annotators = []
    for person in store.annotators():
        mine = gold[gold["annotator"] == person.name]
        annotators.append({"name": person.name, "given": given[person.id], "answered": done[person.id],
                           "skipped": skipped_by[person.name],
                           "gold_correct": int((mine["winner"] == mine["expected"]).sum()), "gold_total": len(mine)})
    pair_given = Counter(a.pair_id for a in assignments if a.kind == "regular")
    pair_rated = answers[answers["kind"] == "regular"].groupby("item_id")["annotator"].nunique().to_dict()
    pair_skipped = Counter(s["pair_id"] for s in skips)
    pairs = [{"pair_id": pid, "prompt": prompt, "system_a": sa, "system_b": sb, "gold": g or "",
              "given": pair_given[pid], "rated": int(pair_rated.get(pid, 0)), "skipped": pair_skipped[pid]}
             for pid, prompt, sa, sb, g in store.items()]
    return {"annotators": annotators, "pairs": pairs, "votes": store.count_votes(), "skips": len(skips)}


def _table(rows: list[dict]) -> str:
    if not rows:
        return "<p>none yet</p>"
    head = "".join(f"<th>{escape(k)}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(report: dict, accounts: list[dict]) -> str:
    """The admin page: progress tables, forms to add annotators and revoke accounts."""
    live = [a["name"] for a in accounts if not a["revoked"]]
    options = "".join(f"<option>{escape(n)}</option>" for n in live)
    account_rows = [{"name": a["name"], "role": a["role"], "revoked": "yes" if a["revoked"] else ""} for a in accounts]
    return (_HEAD.format(title="Study progress")
            + "<form method='post' action='/admin/logout' class='inline'><button>Sign out</button></form>"
            f"<h1>Study progress</h1><p>{report['votes']} votes stored, {report['skips']} items skipped.</p>"
            f"<h2>Annotators</h2>{_table(report['annotators'])}<h2>Pairs</h2>{_table(report['pairs'])}"
            "<h2>Accounts</h2>"
            "<form method='post' action='/admin/tokens'><label>Add <input name='n' type='number' min='1' max='1000' "
            "value='1' required></label> <label>annotators named <input name='prefix' value='annotator' "
            "pattern='[A-Za-z0-9_-]{1,40}' required></label> <button>Add</button></form>"
            "<form method='post' action='/admin/revoke'><label>Revoke <select name='name'>"
            f"{options}</select></label> <button>Revoke</button> (their votes stay; the link stops working)</form>"
            f"{_table(account_rows)}</body></html>")


def login_page(note: str) -> str:
    """Sign-in form: the secret is posted once, never put in the address."""
    return (_HEAD.format(title="Admin sign-in") + "<h1>Study admin</h1>"
            + (f"<p class='note'>{escape(note)}</p>" if note else "")
            + "<form method='post' action='/admin/login'><label>Admin secret "
              "<input name='secret' type='password' autocomplete='current-password' required></label> "
              "<button>Sign in</button></form></body></html>")


def tokens_page(made: list[tuple[str, str]], base_url: str) -> str:
    """The new accounts' links, shown once (only digests are stored)."""
    rows = [{"name": n, "link": f"{base_url}/?token={t}"} for n, t in made]
    return (_HEAD.format(title="New annotators") + "<h1>New annotator links</h1>"
            "<p>Copy them now: they are not stored and cannot be shown again.</p>"
            f"{_table(rows)}<p><a href='/admin'>Back</a></p></body></html>")


def message_page(message: str) -> str:
    return _HEAD.format(title="Study admin") + f"<p>{escape(message)}</p><p><a href='/admin'>Back</a></p></body></html>"
