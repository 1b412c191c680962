"""The rating server: annotator page, JSON API, media and admin view (Starlette, run by uvicorn).

Routes (``T`` an annotator token, ``S`` an admin secret):
  GET  /?token=T                 annotator page (HTML; the prompt is set as text by the page's script)
  GET  /api/next?token=T         {item_id, prompt, left_url, right_url, questions, progress}
                                 or {item_id: null, done: true, progress} when the annotator is done
  POST /api/vote                 {token, item_id, answers: {question: left|right|tie}, client_vote_id}
                                 -> {ok: true, duplicate: bool}; 401 bad token, 400 not JSON,
                                 404 unknown item, 409 reused client_vote_id, 413 too large, 422 bad answers
  GET  /media/{item_id}/{side}?token=T   the video on that side of the annotator's own item
  GET  /admin?secret=S, GET /api/admin/progress?secret=S   progress per annotator and pair
System names and file names never reach annotators: media URLs name the assignment and a side.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from . import admin, page
from .assign import Assigner
from .store import Store
from .study import ANSWERS, Study, StudyError, load_study

MAX_BODY_BYTES = 16 * 1024
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; media-src 'self'; "
                                 b"connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class BadVote(ValueError):
    """A vote body that does not fit the API (message says why)."""


def parse_vote(body: object, questions: list[str]) -> tuple[str, dict[str, str], str]:
    """Validate a vote body; return (item_id, answers, client_vote_id) or raise BadVote."""
    if not isinstance(body, dict):
        raise BadVote("body must be a JSON object")
    unknown = set(body) - {"token", "item_id", "answers", "client_vote_id"}
    if unknown:
        raise BadVote(f"unknown fields {sorted(unknown)}")
    item_id, answers, client_vote_id = body.get("item_id"), body.get("answers"), body.get("client_vote_id")
    if not isinstance(item_id, str) or not 0 < len(item_id) <= 100:
        raise BadVote("item_id must be the string from /api/next")
    if not isinstance(client_vote_id, str) or not 0 < len(client_vote_id) <= 100:
        raise BadVote("client_vote_id must be a string of 1-100 characters")
    if not isinstance(answers, dict):
        raise BadVote("answers must be an object {question: left|right|tie}")
    for q, a in answers.items():
        if q not in questions:
            raise BadVote(f"unknown question {q[:100]!r}; questions are {questions}")
        if a not in ANSWERS:
            raise BadVote(f"answer to {q!r} must be one of {list(ANSWERS)}")
    missing = [q for q in questions if q not in answers]
    if missing:
        raise BadVote(f"answers missing for {missing}")
    return item_id, answers, client_vote_id


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


class _SecurityHeaders:
    """ASGI middleware adding SECURITY_HEADERS to every HTTP response (media may be cached privately)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        is_media = scope["path"].startswith("/media/")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] != b"cache-control"]
                extra = [h for h in SECURITY_HEADERS if not (is_media and h[0] == b"cache-control")]
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
    assigner = Assigner(study, seed)
    assigner.replay(store.assignments(), store.answered_assignments())
    questions = [{"id": q.id, "text": q.text} for q in study.questions]
    # One writer thread: writes keep their order and the event loop serves others during an fsync.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="human-eval-writer")

    async def write(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(writer, fn, *args)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        writer.shutdown(wait=True)

    async def index(request: Request) -> Response:
        if store.annotator(request.query_params.get("token")) is None:
            return HTMLResponse(page.DENIED_HTML, status_code=401)
        return HTMLResponse(page.ANNOTATE_HTML)

    async def next_item(request: Request) -> Response:
        token = request.query_params.get("token")
        annotator = store.annotator(token)
        if annotator is None:
            return _error(401, "missing or unknown token")
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
                             "questions": questions, "progress": progress, "done": False,
                             "title": study.title, "instructions": study.instructions})

    async def vote(request: Request) -> Response:
        raw = await _read_body(request, max_body)
        if raw is None:
            return _error(413, f"request body larger than {max_body} bytes")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return _error(400, "body must be JSON")
        annotator = store.annotator(body.get("token") if isinstance(body, dict) else None)
        if annotator is None:
            return _error(401, "missing or unknown token")
        try:
            item_id, answers, client_vote_id = parse_vote(body, study.question_ids)
        except BadVote as err:
            return _error(422, str(err))
        a = assigner.by_id.get(item_id)
        if a is None or a.annotator_id != annotator.id:
            return _error(404, "unknown item_id for this token")
        result = await write(store.add_vote, annotator.id, a.id, answers, client_vote_id)
        if result == "conflict":
            return _error(409, "client_vote_id was already used for a different vote")
        if result == "new":
            assigner.mark_answered(a.id)
        return JSONResponse({"ok": True, "duplicate": result == "duplicate"})

    async def media(request: Request) -> Response:
        annotator = store.annotator(request.query_params.get("token"))
        if annotator is None:
            return _error(401, "missing or unknown token")
        a = assigner.by_id.get(request.path_params["item_id"])
        side = request.path_params["side"]
        if a is None or a.annotator_id != annotator.id or side not in ("left", "right"):
            return _error(404, "no such video")
        pair = study.pair(a.pair_id)
        try:
            path = study.video_path(pair.video_b if (side == "left") == a.swapped else pair.video_a)
        except StudyError:
            return _error(404, "no such video")
        if not path.is_file():
            return _error(404, "video file missing on the server")
        return FileResponse(path, media_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream")

    def _admin_allowed(request: Request) -> bool:
        return store.is_admin(request.query_params.get("secret"))

    async def admin_page(request: Request) -> Response:
        if not _admin_allowed(request):
            return HTMLResponse(page.DENIED_HTML, status_code=401)
        return HTMLResponse(admin.render(await asyncio.to_thread(admin.progress, store)))

    async def admin_json(request: Request) -> Response:
        if not _admin_allowed(request):
            return _error(401, "missing or unknown admin secret")
        return JSONResponse(await asyncio.to_thread(admin.progress, store))

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    routes = [
        Route("/", index),
        Route("/api/next", next_item),
        Route("/api/vote", vote, methods=["POST"]),
        Route("/media/{item_id}/{side}", media),
        Route("/admin", admin_page),
        Route("/api/admin/progress", admin_json),
        Route("/healthz", health),
    ] + [Route(f"/{name}", _asset(body, kind)) for name, (body, kind) in page.ASSETS.items()]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(_SecurityHeaders)
    app.state.assigner = assigner
    return app


def serve(study_dir: str | Path, db: str | Path, host: str = "127.0.0.1", port: int = 8000,
          seed: int | None = None, vote_sync: str = "full") -> None:
    """Load the study, open the database and serve until interrupted."""
    study = load_study(study_dir)
    store = Store(db, vote_sync)
    app = create_app(study, store, seed=seed)
    print(f"serving {len(study.pairs)} pairs from {study.root} on http://{host}:{port}/?token=TOKEN "
          f"(admin: /admin?secret=SECRET)", flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                    h11_max_incomplete_event_size=16 * 1024)
    finally:
        store.close()
