"""The rating server: annotator page, JSON API, media and admin view (Starlette, run by uvicorn).

Routes (``T`` an annotator token; admin routes need a session cookie from ``/admin/login`` or the
admin secret in an ``X-Admin-Secret`` or ``Authorization: Bearer`` header, never in the URL):
  GET  /?token=T                 annotator page (HTML; the prompt is set as text by the page's script)
  GET  /api/next?token=T         {item_id, prompt, left_url, right_url, questions (each with its answers), progress}
                                 or {item_id: null, done: true, progress} when the annotator is done
  POST /api/vote                 {token, item_id, answers: {question: one of its answer ids},
                                  client_vote_id, watched: {left: s, right: s}[, comment]}
                                 -> {ok: true, duplicate: bool}; 401 bad or revoked token (each its own
                                 message), 400 not JSON, 415 not sent as application/json,
                                 404 unknown item, 409 reused client_vote_id or skipped item,
                                 413 too large, 422 bad vote (also: no `watched`, unless the study
                                 allows unwatched votes, or a video watched less than its length)
  POST /api/skip                 {token, item_id[, reason]} -> {ok, duplicate}: "can't play", no vote
  GET  /media/{item_id}/{side}?token=T   the video on that side of the annotator's own item
  GET  /admin, POST /admin/login, /admin/logout, /admin/tokens, /admin/revoke   the owner's page
  GET  /api/admin/progress, POST /api/admin/tokens {n, prefix}, POST /api/admin/revoke {name}
System names and file names never reach annotators: media URLs name the assignment and a side, and
media responses carry no ETag or Last-Modified (file times would tell the files apart).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import math
import mimetypes
import secrets
import sys
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence
from urllib.parse import parse_qs, quote

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from . import admin, page
from .assign import Assigner
from .store import Store, StoreError
from .study import SIDES, Study, StudyError, blinding_warnings, load_study

MAX_BODY_BYTES = 16 * 1024
MAX_COMMENT_CHARS = 2000
ADMIN_COOKIE = "he_admin"
ADMIN_SESSION_SECONDS = 12 * 3600
WATCH_TOLERANCE = 0.9  # a told watch time below this share of the video's length is "not played through"
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; media-src 'self'; "
                                 b"connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                                 b"form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
MEDIA_DROPPED_HEADERS = {b"etag", b"last-modified", b"cache-control"}


class BadVote(ValueError):
    """A vote body that does not fit the API (message says why)."""


def _no_control_characters(text: str, name: str) -> str:
    """``text`` if it holds no control characters but line breaks and tabs (a NUL byte and the like would
    travel raw into the export), else BadVote."""
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in text):
        raise BadVote(f"{name} must not contain control characters (other than line breaks and tabs)")
    return text


def _string(body: dict, name: str, limit: int = 100) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise BadVote(f"{name} must be a string of 1-{limit} characters")
    return value


def parse_vote(body: object, answer_sets: dict[str, Sequence[str]]) -> tuple[str, dict[str, str], str]:
    """Validate a vote body against ``answer_sets`` (question id -> its answer ids); return (item_id,
    answers, client_vote_id) or raise BadVote."""
    if not isinstance(body, dict):
        raise BadVote("body must be a JSON object")
    unknown = set(body) - {"token", "item_id", "answers", "client_vote_id", "watched", "comment"}
    if unknown:
        raise BadVote(f"unknown fields {sorted(unknown)}")
    item_id, client_vote_id, answers = _string(body, "item_id"), _string(body, "client_vote_id"), body.get("answers")
    questions = list(answer_sets)
    if not isinstance(answers, dict):
        raise BadVote("answers must be an object {question: answer id}")
    for q, a in answers.items():
        if q not in answer_sets:
            raise BadVote(f"unknown question {q[:100]!r}; questions are {questions}")
        if not isinstance(a, str) or a not in answer_sets[q]:
            raise BadVote(f"answer to {q!r} must be one of {list(answer_sets[q])}")
    missing = [q for q in questions if q not in answers]
    if missing:
        raise BadVote(f"answers missing for {missing}")
    return item_id, answers, client_vote_id


def parse_extras(body: dict) -> tuple[tuple[float, float] | None, str]:
    """The optional ``watched`` seconds (left, right) and ``comment`` of a vote body, or BadVote."""
    watched = body.get("watched")
    if watched is not None:
        if not isinstance(watched, dict) or set(watched) != set(SIDES) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= 86_400
                for v in watched.values()):
            raise BadVote("watched must be {left: seconds, right: seconds}, numbers between 0 and 86400")
        watched = tuple(float(watched[side]) for side in SIDES)
    comment = body.get("comment", "")
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS:
        raise BadVote(f"comment must be a string of at most {MAX_COMMENT_CHARS} characters")
    return watched, _no_control_characters(comment, "comment").strip()


def parse_json(raw: bytes) -> object:
    """JSON of a request body; ValueError with a message for malformed, NaN/Infinity or too deep input."""
    def no_constants(name: str) -> None:
        raise ValueError(f"{name} is not JSON")
    try:
        return json.loads(raw, parse_constant=no_constants)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError("body must be UTF-8 JSON") from None
    except ValueError as err:  # JSONDecodeError, NaN, over-long integers
        raise ValueError(f"body must be JSON ({err})") from None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


class _SecurityHeaders:
    """ASGI middleware adding SECURITY_HEADERS to every HTTP response; media may be cached privately
    and go out without ETag or Last-Modified."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        is_media = scope["path"].startswith("/media/")
        # admin pages post forms: with no-referrer, browsers send "Origin: null" and the origin check fails
        is_admin = scope["path"] == "/admin" or scope["path"].startswith("/admin/")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                dropped = MEDIA_DROPPED_HEADERS if is_media else {b"cache-control"}
                headers = [h for h in message.get("headers", []) if h[0].lower() not in dropped]
                extra = [h for h in SECURITY_HEADERS if not (is_media and h[0] == b"cache-control")]
                if is_admin:
                    extra = [h if h[0] != b"referrer-policy" else (h[0], b"same-origin") for h in extra]
                message = {**message, "headers": headers + extra
                           + ([(b"cache-control", b"private, max-age=3600")] if is_media else [])}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None if it is larger than ``limit`` bytes (checked while reading)."""
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _asset(body: str, kind: str):
    async def handler(request: Request) -> Response:
        return Response(body, media_type=kind)
    return handler


def create_app(study: Study, store: Store, *, seed: int | None = None, max_body: int = MAX_BODY_BYTES) -> Starlette:
    """The ASGI app for one study and one database (records the study's pairs in the database)."""
    store.sync_items(study.pairs, study.gold_question)
    store.sync_answers(study.answer_sets)
    assigner = Assigner(study, seed)
    assigner.replay(store.assignments(), store.answered_assignments())
    skipped = store.skipped_assignments()
    questions = [{"id": q.id, "text": q.text, "answers": [a.to_dict() for a in study.answers(q)]}
                 for q in study.questions]
    answer_ids = {q: [a.id for a in answers] for q, answers in study.answer_sets.items()}
    sessions: dict[str, float] = {}  # admin session id -> expiry
    # One writer thread: writes keep their order and the event loop serves others during an fsync.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="human-eval-writer")

    async def write(fn, *args, **kwargs):
        return await asyncio.get_running_loop().run_in_executor(writer, lambda: fn(*args, **kwargs))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        writer.shutdown(wait=True)

    async def read_json(request: Request) -> tuple[object, JSONResponse | None]:
        raw = await _read_body(request, max_body)
        if raw is None:
            return None, _error(413, f"request body larger than {max_body} bytes")
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":  # text/plain and forms are what a cross-site page may send unasked
            return None, _error(415, f"send JSON with Content-Type: application/json, not {kind or 'no type'}")
        try:
            return parse_json(raw), None
        except ValueError as err:
            return None, _error(400, str(err))

    async def owner_json(request: Request) -> tuple[object, JSONResponse | None]:
        """The study owner's JSON body, or the error to answer (no admin secret, its size or syntax)."""
        if not admin_allowed(request):
            return None, _error(401, "missing or unknown admin secret (send it in the X-Admin-Secret header)")
        return await read_json(request)

    async def annotator_json(request: Request) -> tuple[object, object, JSONResponse | None]:
        """An annotator's JSON body and who sent it, or the error to answer (its size, syntax or token)."""
        body, problem = await read_json(request)
        if problem:
            return None, None, problem
        annotator, problem = token_of(body)
        return body, annotator, problem

    def token_of(body: object) -> tuple[object, JSONResponse | None]:
        """The annotator of a JSON body's token, or the error to answer (401 missing/unknown, 422 not a string)."""
        if not isinstance(body, dict):
            return None, _error(422, "body must be a JSON object")
        token = body.get("token")
        if token is not None and not isinstance(token, str):
            return None, _error(422, "token must be a string")
        annotator = store.annotator(token)
        return (annotator, None) if annotator else (None, token_refused(token))

    def token_refused(token: object) -> JSONResponse:
        """The 401 for a token that opens nothing: revoked (its own message), else missing or unknown."""
        if store.revoked(token):
            return _error(401, "this token was revoked: ask the study owner for a new link")
        return _error(401, "missing or unknown token")

    async def index(request: Request) -> Response:
        if store.annotator(request.query_params.get("token")) is None:
            return HTMLResponse(page.DENIED_HTML, status_code=401)
        return HTMLResponse(page.ANNOTATE_HTML)

    async def next_item(request: Request) -> Response:
        token = request.query_params.get("token")
        annotator = store.annotator(token)
        if annotator is None:
            return token_refused(token)
        a, new = assigner.next(annotator.id, time.time())
        if new:
            try:
                await write(store.add_assignment, a)
            except Exception:
                assigner.forget(a)
                raise
        done, total = assigner.progress(annotator.id)
        progress = {"done": done, "total": total}
        if a is None:
            return JSONResponse({"item_id": None, "done": True, "progress": progress})
        pair, t = study.pair(a.pair_id), quote(token, safe="")
        return JSONResponse({"item_id": a.id, "prompt": pair.prompt,
                             "left_url": f"/media/{a.id}/left?token={t}", "right_url": f"/media/{a.id}/right?token={t}",
                             "questions": questions, "progress": progress,
                             "done": False, "title": study.title, "instructions": study.instructions})

    def seconds_of(a, side: str) -> float | None:
        pair = study.pair(a.pair_id)
        video = pair.video_b if (side == SIDES[0]) == a.swapped else pair.video_a
        info = study.videos.get(video)
        return info.seconds if info and info.seconds > 0 else None

    async def vote(request: Request) -> Response:
        body, annotator, problem = await annotator_json(request)
        if problem:
            return problem
        try:
            item_id, answers, client_vote_id = parse_vote(body, answer_ids)
            watched, comment = parse_extras(body)
        except BadVote as err:
            return _error(422, str(err))
        a = assigner.by_id.get(item_id)
        if a is None or a.annotator_id != annotator.id:
            return _error(404, "unknown item_id for this token")
        if a.id in skipped:
            return _error(409, "this item was skipped; it takes no vote")
        if watched is None and not study.allow_unwatched_votes:
            return _error(422, "watched is missing: a vote needs the seconds each video played, "
                               "{left: s, right: s}, as the rating page sends them (a study that takes votes from "
                               "other clients says allow_unwatched_votes: true in its study file)")
        if watched is not None:
            short = [side for side, seen in zip(SIDES, watched)
                     if (length := seconds_of(a, side)) and seen < WATCH_TOLERANCE * length]
            if short:
                return _error(422, f"watch the {' and '.join(short)} video to the end before voting")
        result = await write(store.add_vote, annotator.id, a.id, answers, client_vote_id,
                             watched=watched, comment=comment)
        if result == "conflict":
            return _error(409, "client_vote_id was already used for a different vote")
        if result == "skipped":
            return _error(409, "this item was skipped; it takes no vote")
        if result == "new":
            assigner.mark_answered(a.id)
        return JSONResponse({"ok": True, "duplicate": result == "duplicate"})

    async def skip(request: Request) -> Response:
        body, annotator, problem = await annotator_json(request)
        if problem:
            return problem
        unknown = set(body) - {"token", "item_id", "reason"}
        reason = body.get("reason", "cant_play")
        if unknown:
            return _error(422, f"unknown fields {sorted(unknown)}")
        if not isinstance(reason, str) or not 0 < len(reason) <= 200:
            return _error(422, "reason must be a string of 1-200 characters")
        try:
            _no_control_characters(reason, "reason")
        except BadVote as err:
            return _error(422, str(err))
        item_id = body.get("item_id")
        if not isinstance(item_id, str):
            return _error(422, "item_id must be the string from /api/next")
        a = assigner.by_id.get(item_id)
        if a is None or a.annotator_id != annotator.id:
            return _error(404, "unknown item_id for this token")
        result = await write(store.add_skip, annotator.id, a.id, reason)
        if result == "voted":
            return _error(409, "this item already has a vote")
        skipped.add(a.id)
        assigner.mark_answered(a.id)
        return JSONResponse({"ok": True, "duplicate": result == "duplicate"})

    async def media(request: Request) -> Response:
        annotator = store.annotator(request.query_params.get("token"))
        if annotator is None:
            return token_refused(request.query_params.get("token"))
        a = assigner.by_id.get(request.path_params["item_id"])
        side = request.path_params["side"]
        if a is None or a.annotator_id != annotator.id or side not in SIDES:
            return _error(404, "no such video")
        pair = study.pair(a.pair_id)
        try:
            path = study.video_path(pair.video_b if (side == SIDES[0]) == a.swapped else pair.video_a)
        except StudyError:
            return _error(404, "no such video")
        if not path.is_file():
            return _error(404, "video file missing on the server")
        return FileResponse(path, media_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream")

    # -- admin -----------------------------------------------------------------------------------
    def admin_allowed(request: Request) -> bool:
        """A live session cookie, or the secret in X-Admin-Secret / Authorization: Bearer."""
        session = request.cookies.get(ADMIN_COOKIE)
        if session and sessions.get(session, 0) > time.time():
            return True
        bearer = request.headers.get("authorization", "")
        secret = request.headers.get("x-admin-secret") or (bearer[7:] if bearer.lower().startswith("bearer ") else None)
        return store.is_admin(secret)

    def same_origin(request: Request) -> bool:
        origin = request.headers.get("origin")
        return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"

    async def form(request: Request) -> dict[str, str] | None:
        raw = await _read_body(request, 4096)
        if raw is None:
            return None
        try:
            return {k: v[-1] for k, v in parse_qs(raw.decode("utf-8"), max_num_fields=10).items()}
        except (UnicodeDecodeError, ValueError):
            return None

    async def admin_page(request: Request) -> Response:
        if not admin_allowed(request):
            note = ("Admin secrets are not accepted in the address (it ends up in histories and logs): "
                    "enter it below." if "secret" in request.query_params else "")
            return HTMLResponse(admin.login_page(note), status_code=401)
        report = await asyncio.to_thread(admin.progress, store)
        return HTMLResponse(admin.render(report, store.accounts()))

    async def admin_login(request: Request) -> Response:
        fields = await form(request)
        if not same_origin(request) or fields is None or not store.is_admin(fields.get("secret")):
            return HTMLResponse(admin.login_page("Wrong admin secret."), status_code=401)
        session = secrets.token_urlsafe(24)
        now = time.time()
        for old in [s for s, expiry in sessions.items() if expiry < now]:
            del sessions[old]
        sessions[session] = now + ADMIN_SESSION_SECONDS
        response = RedirectResponse("/admin", status_code=303)
        response.set_cookie(ADMIN_COOKIE, session, max_age=ADMIN_SESSION_SECONDS, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")
        return response

    async def admin_logout(request: Request) -> Response:
        sessions.pop(request.cookies.get(ADMIN_COOKIE, ""), None)
        response = RedirectResponse("/admin", status_code=303)
        response.delete_cookie(ADMIN_COOKIE, path="/")
        return response

    def make_tokens(n: object, prefix: object) -> list[tuple[str, str]]:
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 1000:
            raise BadVote("n must be a whole number from 1 to 1000")
        if not isinstance(prefix, str) or not admin.PREFIX_RE.match(prefix):
            raise BadVote("prefix must be 1-40 letters, digits, '_' or '-'")
        return store.create_tokens(n, prefix)

    async def admin_tokens_form(request: Request) -> Response:
        if not admin_allowed(request) or not same_origin(request):
            return HTMLResponse(admin.login_page(""), status_code=401)
        fields = await form(request) or {}
        try:
            n = int(fields.get("n", "")) if fields.get("n", "").strip().isdigit() else None
            made = await write(make_tokens, n, fields.get("prefix") or "annotator")
        except (BadVote, StoreError) as err:
            return HTMLResponse(admin.message_page(f"No tokens made: {err}"), status_code=422)
        return HTMLResponse(admin.tokens_page(made, f"{request.url.scheme}://{request.url.netloc}"))

    async def admin_revoke_form(request: Request) -> Response:
        if not admin_allowed(request) or not same_origin(request):
            return HTMLResponse(admin.login_page(""), status_code=401)
        name = (await form(request) or {}).get("name", "")
        try:
            await write(store.revoke, name)
        except StoreError as err:
            return HTMLResponse(admin.message_page(f"Nothing revoked: {err}"), status_code=404)
        return RedirectResponse("/admin", status_code=303)

    async def admin_json(request: Request) -> Response:
        if not admin_allowed(request):
            return _error(401, "missing or unknown admin secret (send it in the X-Admin-Secret header)")
        return JSONResponse(await asyncio.to_thread(admin.progress, store))

    async def admin_tokens_json(request: Request) -> Response:
        body, problem = await owner_json(request)
        if problem:
            return problem
        if not isinstance(body, dict):
            return _error(422, "body must be a JSON object {n, prefix}")
        try:
            made = await write(make_tokens, body.get("n", 1), body.get("prefix", "annotator"))
        except (BadVote, StoreError) as err:
            return _error(422, str(err))
        return JSONResponse({"ok": True, "tokens": [{"name": n, "token": t} for n, t in made]})

    async def admin_revoke_json(request: Request) -> Response:
        body, problem = await owner_json(request)
        if problem:
            return problem
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            return _error(422, "body must be {name: account name}")
        try:
            await write(store.revoke, body["name"])
        except StoreError as err:
            return _error(404, str(err))
        return JSONResponse({"ok": True})

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    routes = [
        Route("/", index),
        Route("/api/next", next_item),
        Route("/api/vote", vote, methods=["POST"]),
        Route("/api/skip", skip, methods=["POST"]),
        Route("/media/{item_id}/{side}", media),
        Route("/admin", admin_page),
        Route("/admin/login", admin_login, methods=["POST"]),
        Route("/admin/logout", admin_logout, methods=["POST"]),
        Route("/admin/tokens", admin_tokens_form, methods=["POST"]),
        Route("/admin/revoke", admin_revoke_form, methods=["POST"]),
        Route("/api/admin/progress", admin_json),
        Route("/api/admin/tokens", admin_tokens_json, methods=["POST"]),
        Route("/api/admin/revoke", admin_revoke_json, methods=["POST"]),
        Route("/healthz", health),
    ] + [Route(f"/{name}", _asset(body, kind)) for name, (body, kind) in page.ASSETS.items()]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(_SecurityHeaders)
    app.state.assigner = assigner
    return app


def serve(study_dir: str | Path, db: str | Path, host: str = "127.0.0.1", port: int = 8000,
          seed: int | None = None, vote_sync: str = "full") -> None:
    """Load the study (decoding every video once), open the database and serve until interrupted."""
    study = load_study(study_dir)
    for warning in blinding_warnings(study):
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    store = Store(db, vote_sync)
    app = create_app(study, store, seed=seed)
    print(f"serving {len(study.pairs)} pairs from {study.root} on http://{host}:{port}/?token=TOKEN "
          f"(admin: http://{host}:{port}/admin)", flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                    h11_max_incomplete_event_size=16 * 1024)
    finally:
        store.close()
