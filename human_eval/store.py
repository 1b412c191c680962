"""SQLite storage: annotators (hashed tokens), the study's pairs, assignments and append-only votes.

The database runs in WAL mode with ``synchronous=FULL``: a vote is committed in its own transaction,
fsynced, before the server answers. Assignments are committed with ``synchronous=NORMAL`` (no fsync of
their own; they survive a killed process, and the WAL is written in order, so the fsync of the next
vote makes them durable too: a stored vote never lacks its assignment). ``vote_sync="normal"``
drops the per-vote fsync as well, for disks whose fsync is too slow (see ``Store``). Writes go through
one connection; lookups use a second one, so they do not wait for a write's fsync.

Votes are never updated or deleted (triggers refuse it); a changed answer is a new row and the latest
row per annotator and pair counts. ``client_vote_id`` is unique per annotator, so a resubmitted vote
is stored once; answers are stored as canonical JSON (sorted keys), so the same answers sent in
another key order are the same vote. A vote may carry the seconds each video was watched (as the page
measured them) and a comment. A skip ("can't play") closes an assignment without a vote.

Tokens can be revoked (``revoked_at``). A known token is remembered for ``TOKEN_CACHE_SECONDS`` (a
lookup per request costs ~0.1 ms of the server's CPU): a token added from anywhere works at once, one
revoked through this store is refused at once, one revoked by another process (``tokens --revoke``
while the server runs) within that time.

Tokens are random 192-bit strings; only their SHA-256 digests are stored. A presented token is
hashed and looked up by digest, so response timing can only reveal digest bytes, never a valid
token; admin secrets are checked with ``hmac.compare_digest``.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .study import Answer, Pair

TOKEN_CACHE_SECONDS = 1.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS annotators (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    token_sha256 TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('annotator', 'admin')),
    created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS items (
    pair_id TEXT PRIMARY KEY,
    prompt TEXT NOT NULL,
    system_a TEXT NOT NULL, video_a TEXT NOT NULL,
    system_b TEXT NOT NULL, video_b TEXT NOT NULL,
    gold TEXT,                         -- a|b|tie on gold items: the expected answer ...
    gold_question TEXT                 -- ... to this question
);
CREATE TABLE IF NOT EXISTS answers (    -- what each answer of each question means (absent: the default set)
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    prefers TEXT,                      -- the side the answer favours; NULL: neither (a tie)
    PRIMARY KEY (question, answer)
);
CREATE TABLE IF NOT EXISTS assignments (
    id TEXT PRIMARY KEY,
    annotator_id INTEGER NOT NULL REFERENCES annotators(id),
    pair_id TEXT NOT NULL REFERENCES items(pair_id),
    swapped INTEGER NOT NULL,          -- 1: system_b is shown on the left
    kind TEXT NOT NULL CHECK (kind IN ('regular', 'gold', 'repeat')),
    served_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS assignments_by_annotator ON assignments(annotator_id);
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    annotator_id INTEGER NOT NULL REFERENCES annotators(id),
    assignment_id TEXT NOT NULL REFERENCES assignments(id),
    client_vote_id TEXT NOT NULL,
    answers TEXT NOT NULL,             -- canonical JSON {question: answer id}
    created_at REAL NOT NULL,
    watched_left REAL,                 -- seconds the page saw each video play (NULL: not told)
    watched_right REAL,
    comment TEXT NOT NULL DEFAULT '',
    UNIQUE (annotator_id, client_vote_id)
);
CREATE TABLE IF NOT EXISTS skips (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    annotator_id INTEGER NOT NULL REFERENCES annotators(id),
    assignment_id TEXT NOT NULL UNIQUE REFERENCES assignments(id),
    reason TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TRIGGER IF NOT EXISTS votes_no_update BEFORE UPDATE ON votes
BEGIN SELECT RAISE(ABORT, 'votes are append-only'); END;
CREATE TRIGGER IF NOT EXISTS votes_no_delete BEFORE DELETE ON votes
BEGIN SELECT RAISE(ABORT, 'votes are append-only'); END;
"""


class StoreError(RuntimeError):
    """The database cannot be used as asked (message says why); stored votes are untouched."""


@dataclass(frozen=True)
class Annotator:
    id: int
    name: str


@dataclass(frozen=True)
class Assignment:
    """One pair shown to one annotator, with the side each system is on."""

    id: str
    annotator_id: int
    pair_id: str
    swapped: bool
    kind: str  # "regular", "gold" or "repeat"
    served_at: float


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Store:
    """One connection to the study database; safe to share between threads (calls are serialised)."""

    def __init__(self, path: str | Path, vote_sync: str = "full"):
        """``vote_sync="normal"`` commits votes without their own fsync: still safe against a killed
        server (WAL), not against power loss or an OS crash; for disks whose fsync is too slow."""
        if vote_sync not in ("full", "normal"):
            raise StoreError(f"vote_sync must be 'full' or 'normal', not {vote_sync!r}")
        self._vote_durable = vote_sync == "full"
        path = Path(path)
        if path.is_dir():
            raise StoreError(f"{path} is a directory, not a database file")
        if not path.parent.is_dir():
            raise StoreError(f"folder {path.parent} does not exist")
        self.path = path
        self._lock, self._read_lock = threading.Lock(), threading.Lock()
        self._known: dict[str, tuple[Annotator, float]] = {}  # token digest -> (annotator, valid until)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(SCHEMA)
            self._add_missing_columns()
            self._reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{path} is not a usable SQLite database: {err}") from err

    def _add_missing_columns(self) -> None:
        """Columns added after the first release, added to databases made before them."""
        for table, column, kind in (("annotators", "revoked_at", "REAL"), ("votes", "watched_left", "REAL"),
                                    ("votes", "watched_right", "REAL"), ("votes", "comment", "TEXT NOT NULL DEFAULT ''")):
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def close(self) -> None:
        with self._lock, self._read_lock:
            self._db.close()
            self._reader.close()

    @contextmanager
    def _transaction(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction; ``durable`` commits with fsync (synchronous=FULL), else NORMAL."""
        with self._lock:
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._read_lock:
            return self._reader.execute(sql, args).fetchall()

    def _records(self, sql: str) -> list[dict]:
        """The rows of a query as dicts keyed by column name."""
        with self._read_lock:
            cur = self._reader.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    # -- annotators and admin secrets -------------------------------------------------------------
    def create_tokens(self, n: int, prefix: str = "annotator", role: str = "annotator") -> list[tuple[str, str]]:
        """Create ``n`` accounts; return (name, token) pairs. Tokens are shown once and not stored."""
        made = []
        with self._transaction() as db:
            start = db.execute("SELECT COUNT(*) FROM annotators").fetchone()[0] + 1
            for i in range(start, start + n):
                name, token = f"{prefix}-{i:03d}", secrets.token_urlsafe(24)
                try:
                    db.execute("INSERT INTO annotators (name, token_sha256, role, created_at) VALUES (?, ?, ?, ?)",
                               (name, hash_token(token), role, time.time()))
                except sqlite3.IntegrityError as err:
                    raise StoreError(f"name {name!r} is taken: choose another --prefix") from err
                made.append((name, token))
        return made

    def annotator(self, token: object) -> Annotator | None:
        """The annotator holding ``token`` (not revoked), or None; anything but a short string is None."""
        if not isinstance(token, str) or not token or len(token) > 200:
            return None
        digest, now = hash_token(token), time.monotonic()
        known = self._known.get(digest)
        if known is not None and known[1] > now:
            return known[0]
        rows = self._query("SELECT id, name FROM annotators WHERE token_sha256 = ? AND role = 'annotator' "
                           "AND revoked_at IS NULL", (digest,))
        if not rows:
            self._known.pop(digest, None)
            return None
        self._known[digest] = (Annotator(*rows[0]), now + TOKEN_CACHE_SECONDS)
        return self._known[digest][0]

    def revoked(self, token: object) -> bool:
        """True if ``token`` is an annotator token that was revoked (to tell its holder so, not "unknown")."""
        if not isinstance(token, str) or not token or len(token) > 200:
            return False
        return bool(self._query("SELECT 1 FROM annotators WHERE token_sha256 = ? AND role = 'annotator' "
                                "AND revoked_at IS NOT NULL", (hash_token(token),)))

    def is_admin(self, secret: object) -> bool:
        """True if ``secret`` is an admin secret not revoked (constant-time comparison of digests)."""
        if not isinstance(secret, str) or not secret or len(secret) > 200:
            return False
        digest = hash_token(secret)
        hashes = [h for (h,) in self._query("SELECT token_sha256 FROM annotators WHERE role = 'admin' "
                                            "AND revoked_at IS NULL")]
        return any([hmac.compare_digest(digest, h) for h in hashes])

    def annotators(self, include_revoked: bool = False) -> list[Annotator]:
        """Annotator accounts (not admins), oldest first; revoked ones only if asked."""
        where = "" if include_revoked else " AND revoked_at IS NULL"
        return [Annotator(*r) for r in self._query(f"SELECT id, name FROM annotators WHERE role = 'annotator'{where} "
                                                   "ORDER BY id")]

    def revoke(self, name: str) -> None:
        """Revoke the token (or admin secret) of account ``name``; its votes stay. StoreError if unknown."""
        with self._transaction() as db:
            row = db.execute("SELECT revoked_at FROM annotators WHERE name = ?", (name,)).fetchone()
            if row is None:
                known = [n for (n,) in db.execute("SELECT name FROM annotators ORDER BY id")]
                raise StoreError(f"no account named {name!r}; accounts: {', '.join(known) or 'none'}")
            if row[0] is None:
                db.execute("UPDATE annotators SET revoked_at = ? WHERE name = ?", (time.time(), name))
        self._known.clear()

    def accounts(self) -> list[dict]:
        """Every account: name, role, created_at, revoked (bool)."""
        rows = self._query("SELECT name, role, created_at, revoked_at FROM annotators ORDER BY id")
        return [{"name": n, "role": r, "created_at": c, "revoked": v is not None} for n, r, c, v in rows]

    # -- pairs -------------------------------------------------------------------------------------
    def sync_items(self, pairs: list[Pair], gold_question: str) -> None:
        """Record the study's pairs; refuse a pair whose content differs from the stored one."""
        with self._transaction() as db:
            for p in pairs:
                row = (p.pair_id, p.prompt, p.system_a, p.video_a, p.system_b, p.video_b, p.gold,
                       gold_question if p.gold else None)
                stored = db.execute("SELECT * FROM items WHERE pair_id = ?", (p.pair_id,)).fetchone()
                if stored is None:
                    db.execute("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
                elif tuple(stored) != row:
                    raise StoreError(f"pair {p.pair_id} in pairs.csv differs from the one stored in {self.path} "
                                     "(votes refer to it): give changed pairs new pair_ids or use a new database")

    def sync_answers(self, answer_sets: dict[str, tuple[Answer, ...]]) -> None:
        """Record which side each answer of each question (``Study.answer_sets``) favours; refuse an answer
        whose meaning differs from the stored one (stored votes would change sides)."""
        with self._transaction() as db:
            for question, answers in answer_sets.items():
                for a in answers:
                    stored = db.execute("SELECT prefers FROM answers WHERE question = ? AND answer = ?",
                                        (question, a.id)).fetchone()
                    if stored is None:
                        db.execute("INSERT INTO answers VALUES (?, ?, ?)", (question, a.id, a.prefers))
                    elif stored[0] != a.prefers:
                        raise StoreError(f"answer {a.id!r} of question {question!r} favours {a.prefers!r} in the study but "
                                         f"{stored[0]!r} in {self.path} (votes refer to it): give it a new id or use a "
                                         "new database")

    def answer_sides(self) -> dict[tuple[str, str], str | None]:
        """(question, answer) -> the side it favours (None: neither), for every recorded answer."""
        return {(q, a): side for q, a, side in self._query("SELECT question, answer, prefers FROM answers")}

    def items(self) -> list[tuple[str, str, str, str, str | None]]:
        """(pair_id, prompt, system_a, system_b, gold) of every stored pair."""
        return self._query("SELECT pair_id, prompt, system_a, system_b, gold FROM items ORDER BY pair_id")

    # -- assignments and votes ---------------------------------------------------------------------
    def add_assignment(self, a: Assignment) -> None:
        with self._transaction(durable=False) as db:
            db.execute("INSERT INTO assignments VALUES (?, ?, ?, ?, ?, ?)",
                       (a.id, a.annotator_id, a.pair_id, int(a.swapped), a.kind, a.served_at))

    def assignments(self) -> list[Assignment]:
        rows = self._query("SELECT id, annotator_id, pair_id, swapped, kind, served_at FROM assignments ORDER BY rowid")
        return [Assignment(i, ann, pair, bool(sw), kind, at) for i, ann, pair, sw, kind, at in rows]

    def answered_assignments(self) -> set[str]:
        """Assignments closed by a vote or a skip."""
        return {a for (a,) in self._query("SELECT assignment_id FROM votes UNION SELECT assignment_id FROM skips")}

    def skipped_assignments(self) -> set[str]:
        return {a for (a,) in self._query("SELECT assignment_id FROM skips")}

    def add_vote(self, annotator_id: int, assignment_id: str, answers: dict[str, str], client_vote_id: str,
                 created_at: float | None = None, *, watched: tuple[float, float] | None = None,
                 comment: str = "") -> str:
        """Append a vote in one committed transaction.

        Returns "new", "duplicate" (same client_vote_id, item, answers and comment already stored:
        nothing added; answers compare as canonical JSON, so key order does not matter), "conflict"
        (same client_vote_id with other content: nothing added) or "skipped" (the assignment was
        skipped: nothing added). ``watched``: seconds each video
        (left, right) played, as the page measured them; the first stored value is kept.
        """
        payload = json.dumps(answers, sort_keys=True)
        left, right = watched if watched is not None else (None, None)
        try:
            with self._transaction(durable=self._vote_durable) as db:
                if db.execute("SELECT 1 FROM skips WHERE assignment_id = ?", (assignment_id,)).fetchone():
                    return "skipped"
                db.execute("INSERT INTO votes (annotator_id, assignment_id, client_vote_id, answers, created_at, "
                           "watched_left, watched_right, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (annotator_id, assignment_id, client_vote_id, payload, created_at or time.time(),
                            left, right, comment))
            return "new"
        except sqlite3.IntegrityError:
            rows = self._query("SELECT assignment_id, answers, comment FROM votes "
                               "WHERE annotator_id = ? AND client_vote_id = ?", (annotator_id, client_vote_id))
            if not rows:
                raise
            return "duplicate" if tuple(rows[0]) == (assignment_id, payload, comment) else "conflict"

    def add_skip(self, annotator_id: int, assignment_id: str, reason: str, created_at: float | None = None) -> str:
        """Record that an annotator could not rate an assignment: "new", "duplicate" (already skipped) or
        "voted" (it has a vote: nothing added)."""
        try:
            with self._transaction(durable=self._vote_durable) as db:
                if db.execute("SELECT 1 FROM votes WHERE assignment_id = ?", (assignment_id,)).fetchone():
                    return "voted"
                db.execute("INSERT INTO skips (annotator_id, assignment_id, reason, created_at) VALUES (?, ?, ?, ?)",
                           (annotator_id, assignment_id, reason, created_at or time.time()))
            return "new"
        except sqlite3.IntegrityError:
            if not self._query("SELECT 1 FROM skips WHERE assignment_id = ?", (assignment_id,)):
                raise
            return "duplicate"

    def count_votes(self) -> int:
        return self._query("SELECT COUNT(*) FROM votes")[0][0]

    def vote_rows(self) -> list[dict]:
        """Every stored vote joined with its assignment, pair and annotator, oldest first."""
        return self._records(
            "SELECT v.id AS vote_id, an.name AS annotator, v.client_vote_id, v.answers, v.created_at, "
            "v.watched_left, v.watched_right, v.comment, "
            "a.id AS assignment_id, a.kind, a.swapped, a.served_at, i.pair_id, i.prompt, "
            "i.system_a, i.system_b, i.gold, i.gold_question "
            "FROM votes v JOIN assignments a ON a.id = v.assignment_id JOIN items i ON i.pair_id = a.pair_id "
            "JOIN annotators an ON an.id = v.annotator_id ORDER BY v.id")

    def skip_rows(self) -> list[dict]:
        """Every skip joined with its assignment, pair and annotator, oldest first."""
        return self._records(
            "SELECT s.id AS skip_id, an.name AS annotator, s.reason, s.created_at, a.id AS assignment_id, "
            "a.kind, a.swapped, a.served_at, i.pair_id, i.prompt, i.system_a, i.system_b "
            "FROM skips s JOIN assignments a ON a.id = s.assignment_id JOIN items i ON i.pair_id = a.pair_id "
            "JOIN annotators an ON an.id = s.annotator_id ORDER BY s.id")
