"""The JSON API, media, admin view and security of the real app (in-process, Starlette TestClient)."""
from __future__ import annotations

import csv
import http.client
import json

import pytest
from starlette.testclient import TestClient

from human_eval.export import COLUMNS, answer_rows, export_csv
from human_eval.server import create_app
from human_eval.store import Store
from human_eval.study import load_study

ALL_LEFT = {"overall": "left", "frame_consistency": "left", "motion_naturalness": "left", "text_alignment": "left"}
SYSTEMS = ("system_a", "system_b", "system_c", "good", "broken")


def _next(client, token):
    response = client.get("/api/next", params={"token": token})
    assert response.status_code == 200, response.text
    return response.json()


def _vote(client, token, item_id, answers=ALL_LEFT, client_vote_id="v1", **extra):
    return client.post("/api/vote", json={"token": token, "item_id": item_id, "answers": answers,
                                          "client_vote_id": client_vote_id, **extra})


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
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", f"/api/next?token={token}")
        item = json.loads(conn.getresponse().read())
        conn.request("GET", item["left_url"])
        control = conn.getresponse()
        assert control.status == 200 and len(control.read()) > 100  # the real route does serve videos
        conn.close()
        for path in ("/media/../../etc/passwd", "/media/..%2f..%2fetc%2fpasswd/left", "/../../../etc/passwd",
                     "/media/%2e%2e%2f%2e%2e%2fetc%2fpasswd/right"):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", f"{path}?token={token}")
            response = conn.getresponse()
            body = response.read()
            conn.close()
            assert response.status in (400, 401, 404), path
            assert b"root:" not in body
    finally:
        server.terminate()
        server.wait(10)


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


def test_admin_view_needs_its_own_secret_and_escapes(running, study_dir):
    c = running.client
    assert c.get("/admin", params={"secret": running.tokens[0]}).status_code == 401
    assert c.get("/api/admin/progress").status_code == 401
    assert c.get("/api/admin/progress", params={"secret": running.admin}).json()["votes"] == 0
    item = _next(c, running.tokens[0])
    _vote(c, running.tokens[0], item["item_id"])
    report = c.get("/api/admin/progress", params={"secret": running.admin}).json()
    assert report["votes"] == 1
    first = next(a for a in report["annotators"] if a["name"] == "annotator-001")
    assert first["given"] == first["answered"] == 1
    assert sum(p["given"] for p in report["pairs"]) == 1
    page = c.get("/admin", params={"secret": running.admin})
    assert page.status_code == 200 and "annotator-001" in page.text


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
        admin_page = c.get("/admin", params={"secret": admin}).text
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
