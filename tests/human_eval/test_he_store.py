"""SQLite store: WAL, hashed tokens, append-only votes, idempotent client_vote_id, study changes."""
from __future__ import annotations

import sqlite3
import time

import pytest

from human_eval.store import Assignment, Store, StoreError
from human_eval.study import Pair, load_study


@pytest.fixture
def store(tmp_path, study_dir):
    s = Store(tmp_path / "v.sqlite")
    s.sync_items(load_study(study_dir).pairs, "overall")
    yield s
    s.close()


def _assign(store, annotator_id, pair_id="p0001", aid="a1"):
    a = Assignment(aid, annotator_id, pair_id, False, "regular", time.time())
    store.add_assignment(a)
    return a


def test_wal_mode_and_tokens_stored_only_as_digests(store, tmp_path):
    made = store.create_tokens(2)
    admin = store.create_tokens(1, "admin", role="admin")[0][1]
    raw = sqlite3.connect(tmp_path / "v.sqlite")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    stored = [r[0] for r in raw.execute("SELECT token_sha256 FROM annotators")]
    for _, token in made:
        assert token not in stored
    data = b"".join(p.read_bytes() for p in tmp_path.glob("v.sqlite*"))
    assert not any(token.encode() in data for _, token in made + [("admin", admin)])
    assert store.annotator(made[0][1]).name == made[0][0]
    assert store.annotator("wrong") is None and store.annotator(None) is None
    assert store.annotator(admin) is None  # an admin secret is not an annotator token
    assert store.is_admin(admin) and not store.is_admin(made[0][1]) and not store.is_admin("")


def test_votes_are_append_only_and_idempotent(store, tmp_path):
    store.create_tokens(2)
    a = _assign(store, 1)
    assert store.add_vote(1, a.id, {"overall": "left"}, "v1") == "new"
    assert store.add_vote(1, a.id, {"overall": "left"}, "v1") == "duplicate"
    assert store.add_vote(1, a.id, {"overall": "right"}, "v1") == "conflict"
    assert store.add_vote(1, a.id, {"overall": "right"}, "v2") == "new"  # a changed answer: a new row
    b = _assign(store, 2, aid="a2")
    assert store.add_vote(2, b.id, {"overall": "tie"}, "v1") == "new"  # ids are per annotator
    assert store.count_votes() == 3
    raw = sqlite3.connect(tmp_path / "v.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("UPDATE votes SET answers = '{}'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("DELETE FROM votes")
    assert store.count_votes() == 3


def test_vote_for_unknown_assignment_is_refused(store):
    store.create_tokens(1)
    with pytest.raises(sqlite3.IntegrityError):
        store.add_vote(1, "no-such-assignment", {"overall": "left"}, "v1")
    assert store.count_votes() == 0


def test_changed_study_is_refused_and_votes_survive(store, study_dir):
    store.create_tokens(1)
    store.add_vote(1, _assign(store, 1).id, {"overall": "left"}, "v1")
    pairs = load_study(study_dir).pairs
    changed = [Pair(p.pair_id, p.prompt + " (edited)", p.system_a, p.video_a, p.system_b, p.video_b, p.gold) for p in pairs]
    with pytest.raises(StoreError, match="differs from the one stored"):
        store.sync_items(changed, "overall")
    store.sync_items(pairs, "overall")  # the original study still fits
    assert store.count_votes() == 1 and store.vote_rows()[0]["prompt"] == pairs[0].prompt


def test_bad_database_paths_are_clear_errors(tmp_path):
    with pytest.raises(StoreError, match="is a directory"):
        Store(tmp_path)
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "missing" / "v.sqlite")
    with pytest.raises(StoreError, match="vote_sync must be"):
        Store(tmp_path / "v.sqlite", vote_sync="off")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        Store(junk)


def test_same_answers_in_another_key_order_are_the_same_vote(store):
    store.create_tokens(1)
    a = _assign(store, 1)
    answers = {"overall": "left", "frame_consistency": "right", "motion_naturalness": "tie"}
    assert store.add_vote(1, a.id, answers, "v1") == "new"
    assert store.add_vote(1, a.id, dict(reversed(list(answers.items()))), "v1") == "duplicate"
    assert store.add_vote(1, a.id, {**answers, "overall": "right"}, "v1") == "conflict"
    assert store.count_votes() == 1


def test_revoked_token_is_refused_and_old_databases_gain_new_columns(tmp_path):
    path = tmp_path / "old.sqlite"
    raw = sqlite3.connect(path)  # a database made before watch times, comments, skips and revocation
    raw.executescript("CREATE TABLE annotators (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, token_sha256 TEXT "
                      "NOT NULL UNIQUE, role TEXT NOT NULL, created_at REAL NOT NULL);"
                      "CREATE TABLE votes (id INTEGER PRIMARY KEY AUTOINCREMENT, annotator_id INTEGER NOT NULL, "
                      "assignment_id TEXT NOT NULL, client_vote_id TEXT NOT NULL, answers TEXT NOT NULL, "
                      "created_at REAL NOT NULL, UNIQUE (annotator_id, client_vote_id));")
    raw.close()
    s = Store(path)
    (name, token), = s.create_tokens(1)
    assert s.annotator(token).name == name
    s.revoke(name)
    assert s.annotator(token) is None and s.annotators() == [] and s.accounts()[0]["revoked"]
    with pytest.raises(StoreError, match="no account named 'ghost'"):
        s.revoke("ghost")
    for odd in (1, True, ["x"], None, float("nan")):
        assert s.annotator(odd) is None and not s.is_admin(odd)
    s.close()


def test_a_token_revoked_by_another_process_is_refused_within_the_cache_time(tmp_path, monkeypatch):
    import human_eval.store as store_module
    server_side, cli_side = Store(tmp_path / "v.sqlite"), None
    (name, token), = server_side.create_tokens(1)
    assert server_side.annotator(token) is not None  # now remembered
    cli_side = Store(tmp_path / "v.sqlite")
    cli_side.revoke(name)
    now = time.monotonic()
    monkeypatch.setattr(store_module.time, "monotonic", lambda: now + store_module.TOKEN_CACHE_SECONDS + 0.01)
    assert server_side.annotator(token) is None
    server_side.close()
    cli_side.close()


def test_a_skipped_assignment_takes_no_vote_and_a_voted_one_no_skip(store):
    store.create_tokens(1)
    a, b = _assign(store, 1, aid="a1"), _assign(store, 1, "p0002", aid="a2")
    assert store.add_skip(1, a.id, "cant_play") == "new" and store.add_skip(1, a.id, "cant_play") == "duplicate"
    assert store.add_vote(1, a.id, {"overall": "left"}, "v1") == "skipped"
    assert store.add_vote(1, b.id, {"overall": "left"}, "v2") == "new"
    assert store.add_skip(1, b.id, "cant_play") == "voted"
    assert store.count_votes() == 1 and store.skipped_assignments() == {"a1"}
    assert store.answered_assignments() == {"a1", "a2"}


def test_votes_of_a_database_that_records_no_answers_mean_the_default_set(store):
    from human_eval.export import answer_rows

    store.create_tokens(1)
    a = _assign(store, 1)
    store.add_vote(1, a.id, {"overall": "left", "frame_consistency": "right", "motion_naturalness": "tie",
                             "text_alignment": "both_bad"}, "v1")
    assert store.answer_sides() == {}  # as in a database written before answers were recorded
    rows = answer_rows(store.vote_rows(), answer_sides=store.answer_sides()).set_index("question")["winner"]
    pair = next(p for p in store.items() if p[0] == a.pair_id)  # (pair_id, prompt, system_a, system_b, gold)
    assert rows.to_dict() == {"overall": pair[2], "frame_consistency": pair[3], "motion_naturalness": "tie",
                              "text_alignment": "tie"}
