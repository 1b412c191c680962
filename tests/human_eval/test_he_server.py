"""The JSON API, media, admin view and security of the real app (in-process, Starlette TestClient)."""
from __future__ import annotations

import csv
import http.client
import json

import pandas as pd
import pytest
from starlette.testclient import TestClient

from human_eval.export import COLUMNS, answer_rows, export_csv
from human_eval.server import create_app
from human_eval.store import Store, StoreError
from human_eval.study import load_study

ALL_LEFT = {"overall": "left", "frame_consistency": "left", "motion_naturalness": "left", "text_alignment": "left"}
SYSTEMS = ("system_a", "system_b", "system_c", "good", "broken")


def _next(client, token):
    response = client.get("/api/next", params={"token": token})
    assert response.status_code == 200, response.text
    return response.json()


WATCHED = {"left": 1.0, "right": 1.0}  # the toy study's videos: 8 frames at 8 fps, 1 s each, played through


def _vote(client, token, item_id, answers=ALL_LEFT, client_vote_id="v1", **extra):
    """A vote as the rating page sends it: with the seconds each video played (`watched`)."""
    return client.post("/api/vote", json={"token": token, "item_id": item_id, "answers": answers,
                                          "client_vote_id": client_vote_id, "watched": WATCHED, **extra})


def test_missing_or_bad_token_gets_401(running):
    c = running.client
    item = _next(c, running.tokens[0])
    for token in (None, "", "not-a-token", running.admin):
        params = {"token": token} if token is not None else {}
        assert c.get("/api/next", params=params).status_code == 401
        assert c.get("/", params=params).status_code == 401
        assert c.get(item["left_url"].split("?")[0], params=params).status_code == 401
        body = {"item_id": item["item_id"], "answers": ALL_LEFT, "client_vote_id": "x"}
        if token is not None:
            body["token"] = token
        assert c.post("/api/vote", json=body).status_code == 401
    assert running.store.count_votes() == 0


def test_next_hides_system_and_file_names_and_serves_the_right_sides(running, study_dir):
    c, token = running.client, running.tokens[0]
    study = load_study(study_dir)
    seen_swaps = set()
    for i in range(8):
        item = _next(c, token)
        assert set(item) >= {"item_id", "prompt", "left_url", "right_url", "questions"}
        text = json.dumps(item)
        assert not any(name in text for name in SYSTEMS) and ".mp4" not in text and "videos/" not in text
        a = c.app.state.assigner.by_id[item["item_id"]]
        pair = study.pair(a.pair_id)
        left = c.get(item["left_url"])
        assert left.status_code == 200 and left.headers["content-type"] == "video/mp4"
        assert "content-disposition" not in left.headers
        expected_left = pair.video_b if a.swapped else pair.video_a
        assert left.content == (study_dir / expected_left).read_bytes()
        assert c.get(item["right_url"]).content == (study_dir / (pair.video_a if a.swapped else pair.video_b)).read_bytes()
        seen_swaps.add(a.swapped)
        assert _vote(c, token, item["item_id"], client_vote_id=f"v{i}").json() == {"ok": True, "duplicate": False}
    assert seen_swaps == {True, False}
    # a video is only served to the annotator who holds the item
    assert c.get(item["left_url"].split("?")[0], params={"token": running.tokens[1]}).status_code == 404


@pytest.mark.parametrize("path", ["/media/../../etc/passwd", "/media/..%2F..%2Fetc%2Fpasswd/left",
                                  "/media/%2e%2e/%2e%2e/etc/passwd", "/../../etc/passwd", "/media/x/../../../etc/passwd",
                                  "/static/../../../../etc/passwd", "/etc/passwd"])
def test_path_traversal_gets_no_file(running, path):
    # raw HTTP through the same ASGI app: the path is sent exactly as written
    response = running.client.get(path + f"?token={running.tokens[0]}")
    assert response.status_code in (401, 404)
    assert b"root:" not in response.content


def test_path_traversal_over_a_real_socket(tmp_path, study_dir):
    """Against uvicorn, so the raw request line is not normalised by any client library."""
    from human_eval.load import free_port, start_server
    db = tmp_path / "v.sqlite"
    store = Store(db)
    token = store.create_tokens(1)[0][1]
    store.close()
    port = free_port()
    server = start_server(study_dir, db, port)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", f"/api/next?token={token}")
        item = json.loads(conn.getresponse().read())
        conn.request("GET", item["left_url"])
        control = conn.getresponse()
        assert control.status == 200 and len(control.read()) > 100  # the real route does serve videos
        conn.close()
        for path in ("/media/../../etc/passwd", "/media/..%2f..%2fetc%2fpasswd/left", "/../../../etc/passwd",
                     "/media/%2e%2e%2f%2e%2e%2fetc%2fpasswd/right"):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", f"{path}?token={token}")
            response = conn.getresponse()
            body = response.read()
            conn.close()
            assert response.status in (400, 401, 404), path
            assert b"root:" not in body
    finally:
        server.terminate()
        server.wait(60)


def test_bad_votes_are_refused_and_nothing_is_stored(running):
    c, token = running.client, running.tokens[0]
    item = _next(c, token)
    cases = [
        ({**ALL_LEFT, "made_up_question": "left"}, 422, "unknown question"),
        ({**ALL_LEFT, "overall": "both"}, 422, "must be one of"),
        ({"overall": "left"}, 422, "answers missing"),
        ("left", 422, "answers must be an object"),
    ]
    for answers, status, message in cases:
        response = _vote(c, token, item["item_id"], answers)
        assert response.status_code == status and message in response.json()["error"]
    assert _vote(c, token, item["item_id"], client_vote_id="").status_code == 422
    assert _vote(c, token, item["item_id"], surprise=1).status_code == 422
    assert _vote(c, token, "unknown-item").status_code == 404
    assert c.post("/api/vote", content=b"{not json", headers={"content-type": "application/json"}).status_code == 400
    big = c.post("/api/vote", content=b'{"token": "' + b"x" * 20_000 + b'"}')
    assert big.status_code == 413
    assert running.store.count_votes() == 0


def test_resubmitted_vote_counts_once_and_changes_append(running, tmp_path):
    c, token = running.client, running.tokens[0]
    item = _next(c, token)
    for _ in range(3):
        assert _vote(c, token, item["item_id"], client_vote_id="same").status_code == 200
    assert _vote(c, token, item["item_id"], client_vote_id="same").json()["duplicate"] is True
    conflict = _vote(c, token, item["item_id"], {**ALL_LEFT, "overall": "right"}, client_vote_id="same")
    assert conflict.status_code == 409
    changed = {**ALL_LEFT, "overall": "tie"}
    assert _vote(c, token, item["item_id"], changed, client_vote_id="changed").status_code == 200
    assert running.store.count_votes() == 2

    out = tmp_path / "votes.csv"
    assert export_csv(running.db, out) == 8
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == COLUMNS
    counted = [r for r in rows if r["counted"] == "True"]
    assert len(counted) == 4 and all(r["client_vote_id"] == "changed" for r in counted)
    overall = next(r for r in counted if r["question"] == "overall")
    assert overall["answer"] == "tie" and overall["winner"] == "tie"
    left_rows = [r for r in counted if r["answer"] == "left"]
    assert all(r["winner"] == r["system_left"] for r in left_rows)
    assert {rows[0]["system_left"], rows[0]["system_right"]} <= set(SYSTEMS)


def test_progress_and_done(running):
    c, token = running.client, running.tokens[0]
    total = _next(c, token)["progress"]["total"]
    for i in range(total):
        item = _next(c, token)
        assert item["progress"] == {"done": i, "total": total}
        assert _vote(c, token, item["item_id"], client_vote_id=f"v{i}").status_code == 200
    final = _next(c, token)
    assert final["item_id"] is None and final["done"] is True and final["progress"] == {"done": total, "total": total}
    kinds = answer_rows(running.store.vote_rows()).drop_duplicates("assignment_id")["kind"]
    assert set(kinds) == {"regular", "gold"}  # 12 regular pairs, 1 gold item, no repeat (repeat_every 15)


def _admin(secret):
    return {"X-Admin-Secret": secret}


def test_admin_view_needs_its_own_secret_and_escapes(running, study_dir):
    c = running.client
    assert c.get("/api/admin/progress", headers=_admin(running.tokens[0])).status_code == 401
    assert c.get("/api/admin/progress").status_code == 401
    # the secret in the address is refused (it would stay in histories and logs)
    assert c.get("/api/admin/progress", params={"secret": running.admin}).status_code == 401
    refused = c.get("/admin", params={"secret": running.admin})
    assert refused.status_code == 401 and "not accepted in the address" in refused.text
    assert c.get("/api/admin/progress", headers=_admin(running.admin)).json()["votes"] == 0
    bearer = {"Authorization": f"Bearer {running.admin}"}
    assert c.get("/api/admin/progress", headers=bearer).status_code == 200
    item = _next(c, running.tokens[0])
    _vote(c, running.tokens[0], item["item_id"])
    report = c.get("/api/admin/progress", headers=_admin(running.admin)).json()
    assert report["votes"] == 1
    first = next(a for a in report["annotators"] if a["name"] == "annotator-001")
    assert first["given"] == first["answered"] == 1
    assert sum(p["given"] for p in report["pairs"]) == 1


def test_admin_signs_in_with_a_posted_secret_and_a_session_cookie(running):
    c = running.client
    assert c.get("/admin").status_code == 401
    wrong = c.post("/admin/login", data={"secret": running.tokens[0]}, follow_redirects=False)
    assert wrong.status_code == 401 and "he_admin" not in wrong.headers.get("set-cookie", "")
    login = c.post("/admin/login", data={"secret": running.admin}, follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/admin"
    cookie = login.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower() and running.admin not in cookie
    page = c.get("/admin")
    assert page.status_code == 200 and "annotator-001" in page.text and "Revoke" in page.text
    assert c.post("/admin/tokens", data={"n": "abc"}).status_code == 422  # a clear message, not a traceback
    # a cross-site form post is refused even with the cookie
    assert c.post("/admin/tokens", data={"n": "1"}, headers={"Origin": "https://evil.example"}).status_code == 401
    made = c.post("/admin/tokens", data={"n": "2", "prefix": "late"})
    assert made.status_code == 200 and made.text.count("/?token=") == 2
    c.post("/admin/logout")
    assert c.get("/admin").status_code == 401


def test_tokens_added_and_revoked_while_the_study_runs(running):
    c, admin = running.client, _admin(running.admin)
    made = c.post("/api/admin/tokens", json={"n": 1, "prefix": "late"}, headers=admin).json()["tokens"]
    late = made[0]["token"]
    item = _next(c, late)  # the new token works at once
    assert _vote(c, late, item["item_id"]).status_code == 200
    assert c.post("/api/admin/revoke", json={"name": made[0]["name"]}, headers=admin).json() == {"ok": True}
    assert c.get("/api/next", params={"token": late}).status_code == 401  # revoked: refused at once
    assert _vote(c, late, item["item_id"], client_vote_id="v2").status_code == 401
    assert c.get("/", params={"token": late}).status_code == 401
    missing = c.post("/api/admin/revoke", json={"name": "nobody"}, headers=admin)
    assert missing.status_code == 404 and "no account named 'nobody'" in missing.json()["error"]
    for body in ({"n": 0}, {"n": "3"}, {"n": 1, "prefix": "../x"}, [1]):
        assert c.post("/api/admin/tokens", json=body, headers=admin).status_code == 422
    assert c.post("/api/admin/tokens", json={"n": 1}).status_code == 401
    assert running.store.count_votes() == 1  # the revoked annotator's vote stays


@pytest.mark.parametrize("body", [
    {"token": 1}, {"token": True}, {"token": None, "item_id": 5}, {"token": ["a"]}, {"token": {"a": 1}},
    {"token": 1.5}, "TOKEN", [1, 2], 7, None,
])
def test_wrong_json_types_are_4xx_with_a_message(running, body):
    response = running.client.post("/api/vote", json=body)
    assert 400 <= response.status_code < 500 and response.json()["error"]
    response = running.client.post("/api/skip", json=body)
    assert 400 <= response.status_code < 500 and response.json()["error"]


@pytest.mark.parametrize("raw, message", [
    (b'{"token": NaN}', "NaN is not JSON"),
    (b'{"token": Infinity}', "Infinity is not JSON"),
    (b"[" * 8000 + b"]" * 8000, "nested too deeply"),
    (b'{"token": ' + b"1" * 5000 + b"}", "body must be JSON"),
    (b'{"token": "\\ud800"}', "unknown token"),
    (b"\xff\xfe", "body must be"),
])
def test_malformed_json_is_a_4xx_with_a_message(running, raw, message):
    response = running.client.post("/api/vote", content=raw, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500 and message in response.json()["error"]


def test_wrong_types_inside_a_vote_are_422(running):
    c, token = running.client, running.tokens[0]
    item = _next(c, token)
    for extra in ({"item_id": 5}, {"item_id": ["x"]}, {"answers": [1]}, {"answers": {"overall": ["left"]}},
                  {"answers": {**ALL_LEFT, "overall": {"a": 1}}}, {"client_vote_id": 3},
                  {"watched": {"left": "all", "right": 1}}, {"watched": [1, 2]}, {"watched": {"left": True, "right": 1}},
                  {"watched": {"left": -1, "right": 1}}, {"comment": 5}, {"comment": "x" * 2001}):
        body = {"token": token, "item_id": item["item_id"], "answers": ALL_LEFT, "client_vote_id": "v", **extra}
        response = c.post("/api/vote", json=body)
        assert response.status_code == 422 and response.json()["error"], extra
    assert running.store.count_votes() == 0


def test_media_carries_no_file_times_or_etags(running):
    c = running.client
    item = _next(c, running.tokens[0])
    for url in (item["left_url"], item["right_url"]):
        response = c.get(url)
        assert response.status_code == 200
        assert not {"etag", "last-modified"} & set(response.headers), dict(response.headers)
        partial = c.get(url, headers={"Range": "bytes=0-99"})  # seeking still works
        assert partial.status_code == 206 and len(partial.content) == 100
        assert not {"etag", "last-modified"} & set(partial.headers)


def test_resubmission_with_answers_in_another_key_order_is_stored_once(running):
    c, token = running.client, running.tokens[0]
    item = _next(c, token)
    answers = {"overall": "left", "frame_consistency": "right", "motion_naturalness": "tie", "text_alignment": "left"}
    assert _vote(c, token, item["item_id"], answers, client_vote_id="k").json() == {"ok": True, "duplicate": False}
    reordered = dict(reversed(list(answers.items())))
    assert list(reordered) != list(answers)
    again = _vote(c, token, item["item_id"], reordered, client_vote_id="k")
    assert again.status_code == 200 and again.json() == {"ok": True, "duplicate": True}
    assert running.store.count_votes() == 1


def test_a_vote_telling_a_video_was_not_played_through_is_refused(running):
    c, token = running.client, running.tokens[0]
    item = _next(c, token)
    for watched, side in (({"left": 0, "right": 0}, "left and right"), ({"left": 5, "right": 0.2}, "right")):
        refused = _vote(c, token, item["item_id"], watched=watched)
        assert refused.status_code == 422 and f"watch the {side} video" in refused.json()["error"]
    assert running.store.count_votes() == 0
    ok = _vote(c, token, item["item_id"], watched={"left": 1.0, "right": 1.25}, comment="  left one flickers ")
    assert ok.status_code == 200
    row = running.store.vote_rows()[0]
    assert (row["watched_left"], row["watched_right"], row["comment"]) == (1.0, 1.25, "left one flickers")


def test_a_vote_without_watch_times_is_refused_unless_the_study_allows_it(running, study_dir, tmp_path):
    c, token = running.client, running.tokens[0]
    item = _next(c, token)
    bare = {"token": token, "item_id": item["item_id"], "answers": ALL_LEFT, "client_vote_id": "v1"}
    for body in (bare, {**bare, "watched": None}):
        refused = c.post("/api/vote", json=body)
        assert refused.status_code == 422 and "watched is missing" in refused.json()["error"]
        assert "allow_unwatched_votes" in refused.json()["error"]
    assert running.store.count_votes() == 0
    settings = json.loads((study_dir / "study.json").read_text())
    (study_dir / "study.json").write_text(json.dumps({**settings, "allow_unwatched_votes": True}))
    store = Store(tmp_path / "api.sqlite")
    other = store.create_tokens(1)[0][1]
    with TestClient(create_app(load_study(study_dir), store, seed=0)) as api:
        first, second = _next(api, other), None
        assert api.post("/api/vote", json={**bare, "token": other, "item_id": first["item_id"]}).status_code == 200
        second = _next(api, other)
        assert _vote(api, other, second["item_id"], client_vote_id="v2").status_code == 200  # the page's way
        short = _vote(api, other, second["item_id"], client_vote_id="v3", watched={"left": 0, "right": 1})
        assert short.status_code == 422  # watch times that are told are still checked
    export_csv(store.path, tmp_path / "votes.csv")
    votes = pd.read_csv(tmp_path / "votes.csv")
    marks = votes.groupby("client_vote_id")["unwatched"].unique().to_dict()
    assert {k: list(v) for k, v in marks.items()} == {"v1": [True], "v2": [False]}
    store.close()


def test_skip_is_recorded_and_never_counted(running, tmp_path):
    c, token = running.client, running.tokens[0]
    item = _next(c, token)
    assert c.post("/api/skip", json={"token": token, "item_id": item["item_id"]}).json() == {"ok": True, "duplicate": False}
    assert c.post("/api/skip", json={"token": token, "item_id": item["item_id"]}).json()["duplicate"] is True
    after = _next(c, token)
    assert after["item_id"] != item["item_id"] and after["progress"]["done"] == 1
    late = _vote(c, token, item["item_id"])
    assert late.status_code == 409 and "skipped" in late.json()["error"]
    assert _vote(c, token, after["item_id"], client_vote_id="v2").status_code == 200
    voted = c.post("/api/skip", json={"token": token, "item_id": after["item_id"]})
    assert voted.status_code == 409 and "already has a vote" in voted.json()["error"]
    assert c.post("/api/skip", json={"token": running.tokens[1], "item_id": item["item_id"]}).status_code == 404
    assert running.store.count_votes() == 1
    export_csv(running.db, tmp_path / "votes.csv")
    with (tmp_path / "votes.csv").open() as f:
        rows = list(csv.DictReader(f))
    skipped = [r for r in rows if r["skipped"]]
    assert len(skipped) == 1 and skipped[0]["skipped"] == "cant_play" and skipped[0]["counted"] == "False"
    assert skipped[0]["answer"] == "" and len(rows) == 5
    report = c.get("/api/admin/progress", headers=_admin(running.admin)).json()
    assert report["skips"] == 1 and sum(p["skipped"] for p in report["pairs"]) == 1
    # a restarted server still knows the item was skipped
    with TestClient(create_app(load_study(running.db.parent / "study"), running.store, seed=1)) as again:
        assert _vote(again, token, item["item_id"], client_vote_id="v3").status_code == 409


def test_both_bad_is_an_answer_only_where_the_study_asks(running, study_dir, tmp_path):
    c, token = running.client, running.tokens[0]
    item = _next(c, token)
    assert all([a["id"] for a in q["answers"]] == ["left", "tie", "right"] for q in item["questions"])
    assert _vote(c, token, item["item_id"], {**ALL_LEFT, "overall": "both_bad"}).status_code == 422
    settings = json.loads((study_dir / "study.json").read_text())
    (study_dir / "study.json").write_text(json.dumps({**settings, "both_bad": True}))
    store = Store(tmp_path / "other.sqlite")
    other = store.create_tokens(1)[0][1]
    with TestClient(create_app(load_study(study_dir), store, seed=0)) as c2:
        item = _next(c2, other)
        assert [a["id"] for a in item["questions"][0]["answers"]] == ["left", "tie", "both_bad", "right"]
        assert _vote(c2, other, item["item_id"], {**ALL_LEFT, "overall": "both_bad"}).status_code == 200
    row = answer_rows(store.vote_rows(), answer_sides=store.answer_sides()).set_index("question").loc["overall"]
    assert row["answer"] == "both_bad" and row["winner"] == "tie"
    store.close()


def test_script_in_prompt_is_data_not_markup(tmp_path, study_dir):
    pairs = study_dir / "pairs.csv"
    text = pairs.read_text().replace("a coloured square moving across the frame, take 0",
                                     "<script>alert(1)</script><img src=x onerror=alert(2)> take 0")
    pairs.write_text(text)
    store = Store(tmp_path / "v.sqlite")
    token = store.create_tokens(1)[0][1]
    admin = store.create_tokens(1, "admin", role="admin")[0][1]
    with TestClient(create_app(load_study(study_dir), store, seed=0)) as c:
        page = c.get("/", params={"token": token})
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "<script>alert" not in page.text and "innerHTML" not in c.get("/app.js").text
        prompts = {_next_and_vote(c, token, i) for i in range(12)}
        assert "<script>alert(1)</script><img src=x onerror=alert(2)> take 0" in prompts  # JSON carries it as data
        admin_page = c.get("/admin", headers={"X-Admin-Secret": admin}).text
        assert "<script>alert" not in admin_page and "&lt;script&gt;alert(1)&lt;/script&gt;" in admin_page
    store.close()


def _next_and_vote(c, token, i):
    item = _next(c, token)
    _vote(c, token, item["item_id"], client_vote_id=f"v{i}")
    return item["prompt"]


def test_restart_keeps_votes_and_assignments(running, study_dir):
    c, token = running.client, running.tokens[0]
    item = _next(c, token)
    _vote(c, token, item["item_id"])
    open_item = _next(c, token)
    with TestClient(create_app(load_study(study_dir), running.store, seed=5)) as again:
        assert _next(again, token)["item_id"] == open_item["item_id"]  # the open item survives a restart
        assert _vote(again, token, item["item_id"]).json()["duplicate"] is True
    assert running.store.count_votes() == 1


def test_a_question_declares_its_answers_and_export_reads_their_sides(study_dir, tmp_path):
    settings = json.loads((study_dir / "study.json").read_text())
    sides = [{"id": "first", "label": "The left one", "prefers": "left", "keys": ["1"]},
             {"id": "second", "label": "The right one", "prefers": "right", "keys": ["2"]},
             {"id": "same", "label": "No difference"}]
    settings["questions"] = [{"id": "overall", "text": "Which is better?", "answers": sides},
                             {"id": "text_alignment", "text": "Which matches the prompt?"}]
    (study_dir / "study.json").write_text(json.dumps(settings))
    study = load_study(study_dir)
    assert [a.id for a in study.answers(study.questions[0])] == ["first", "second", "same"]
    store = Store(tmp_path / "v.sqlite")
    token = store.create_tokens(1)[0][1]
    with TestClient(create_app(study, store, seed=0)) as client:
        item = _next(client, token)
        assert item["questions"][0]["answers"][0] == {"id": "first", "label": "The left one", "prefers": "left",
                                                      "keys": ["1"]}
        assert _vote(client, token, item["item_id"], {"overall": "left", "text_alignment": "left"}).status_code == 422
        assert _vote(client, token, item["item_id"], {"overall": "second", "text_alignment": "tie"}).status_code == 200
    rows = answer_rows(store.vote_rows(), answer_sides=store.answer_sides()).set_index("question")
    assert rows.loc["overall", "winner"] == rows.loc["overall", "system_right"]
    assert rows.loc["text_alignment", "winner"] == "tie"
    settings["questions"][0]["answers"][1]["prefers"] = "left"  # a stored answer may not change sides
    (study_dir / "study.json").write_text(json.dumps(settings))
    with pytest.raises(StoreError, match="favours"):
        create_app(load_study(study_dir), store, seed=0)
    store.close()


def test_a_revoked_token_is_told_it_was_revoked(running):
    c, admin = running.client, _admin(running.admin)
    item = _next(c, running.tokens[0])
    name = running.store.accounts()[0]["name"]
    assert c.post("/api/admin/revoke", json={"name": name}, headers=admin).json() == {"ok": True}
    refused = [c.get("/api/next", params={"token": running.tokens[0]}), _vote(c, running.tokens[0], item["item_id"]),
               c.post("/api/skip", json={"token": running.tokens[0], "item_id": item["item_id"]}),
               c.get(item["left_url"])]
    for response in refused:
        assert response.status_code == 401 and "revoked" in response.json()["error"]
    unknown = c.get("/api/next", params={"token": "not-a-token"})
    assert unknown.status_code == 401 and unknown.json()["error"] == "missing or unknown token"


def test_json_sent_as_another_type_is_refused(running):
    """text/plain (or a form) is what a page on another site can post without asking: only application/json."""
    c, token = running.client, running.tokens[0]
    item = _next(c, token)
    body = json.dumps({"token": token, "item_id": item["item_id"], "answers": ALL_LEFT, "client_vote_id": "v1",
                       "watched": WATCHED})
    for kind in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"content-type": kind} if kind else {}
        for path, sent in (("/api/vote", body), ("/api/skip", json.dumps({"token": token, "item_id": item["item_id"]}))):
            response = c.post(path, content=sent.encode(), headers=headers)
            assert response.status_code == 415 and "application/json" in response.json()["error"], (path, kind)
    assert running.store.count_votes() == 0 and not running.store.skipped_assignments()
    sent = c.post("/api/vote", content=body.encode(), headers={"content-type": "application/json; charset=utf-8"})
    assert sent.status_code == 200


def test_a_nul_byte_in_a_comment_never_reaches_the_csv_raw(running, tmp_path):
    c, token = running.client, running.tokens[0]
    item = _next(c, token)
    refused = _vote(c, token, item["item_id"], comment="fine\x00then\x1b[31mred")
    assert refused.status_code == 422 and "control characters" in refused.json()["error"]
    assert _vote(c, token, item["item_id"], comment="two\nlines\tand a tab").status_code == 200
    # a vote stored before the server refused them (or through the Store directly) is exported visibly
    a = c.app.state.assigner.by_id[_next(c, token)["item_id"]]
    running.store.add_vote(a.annotator_id, a.id, ALL_LEFT, "old", watched=(1.0, 1.0), comment="old\x00nul")
    export_csv(running.db, tmp_path / "votes.csv")
    raw = (tmp_path / "votes.csv").read_bytes()
    assert b"\x00" not in raw and b"\x1b" not in raw and b"old\\x00nul" in raw
    comments = set(pd.read_csv(tmp_path / "votes.csv", keep_default_na=False)["comment"])
    assert comments == {"two\nlines\tand a tab", "old\\x00nul"}


def test_an_annotator_cannot_vote_on_another_annotators_item(running):
    c = running.client
    item = _next(c, running.tokens[0])
    _next(c, running.tokens[1])  # the second annotator has items of its own
    stolen = _vote(c, running.tokens[1], item["item_id"])
    assert stolen.status_code == 404 and "unknown item_id" in stolen.json()["error"]
    assert running.store.count_votes() == 0
    assert _vote(c, running.tokens[0], item["item_id"]).status_code == 200  # its own annotator still can


def test_a_made_up_admin_cookie_opens_nothing(running):
    c = running.client
    c.cookies.set("he_admin", "made-up-session-id")
    assert c.get("/admin").status_code == 401
    assert c.get("/api/admin/progress").status_code == 401
    assert c.post("/admin/tokens", data={"n": "1"}).status_code == 401


def test_each_side_is_checked_against_its_own_videos_length(study_dir, tmp_path):
    """Videos of different lengths on the two sides: a watch time equal to each side's own length is
    played through, one equal to the other side's is not."""
    from dataclasses import replace

    study = load_study(study_dir)
    store = Store(tmp_path / "votes.sqlite")
    token = store.create_tokens(1)[0][1]
    with TestClient(create_app(study, store, seed=0)) as c:
        item = _next(c, token)
        a = c.app.state.assigner.by_id[item["item_id"]]
        pair = study.pair(a.pair_id)
        study.videos[pair.video_a] = replace(study.videos[pair.video_a], seconds=8.0)  # the app reads lengths here
        left, right = (pair.video_b, pair.video_a) if a.swapped else (pair.video_a, pair.video_b)
        lengths = {"left": study.videos[left].seconds, "right": study.videos[right].seconds}
        assert sorted(lengths.values())[0] < 0.9 * 8.0  # the two sides differ
        swapped = _vote(c, token, item["item_id"], watched={"left": lengths["right"], "right": lengths["left"]})
        assert swapped.status_code == 422
        assert _vote(c, token, item["item_id"], watched=lengths).status_code == 200
    store.close()


def test_a_chunked_body_without_a_length_is_still_limited(running):
    """No Content-Length (chunked transfer): the size is counted while reading."""
    c = running.client
    body = iter([b'{"token": "' + b"x" * 10_000, b"y" * 10_000 + b'"}'])
    response = c.post("/api/vote", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
