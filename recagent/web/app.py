"""The FastAPI app behind the web page: read-only JSON views of run folders, live updates, interviews.

Endpoints (all JSON unless noted; every bad parameter is a 4xx with {"error": message}):

- `GET /` the page; `GET /static/...` its scripts and styles (package data in `recagent/web/static/`,
  so a wheel install serves it too; no CDN);
- `GET /api/runs` run list (runs anywhere under the root: a nested run's id is its folder path with
  `~` for `/`) and the studies (compare and sweep folders) they belong to; `GET /api/runs/{run}`
  run.json and live status; `GET /api/studies/{study}/metrics` per strategy (and point) of a study,
  per step, the mean over seeds and 95% band of the page's measures from each run's metrics.csv;
- `GET /api/runs/{run}/metrics` metrics per step; `GET /api/runs/{run}/graph` agents, edges and per-step
  node measures; `GET /api/runs/{run}/steps/{step}` that step's chats, posts and counts;
- `GET /api/runs/{run}/agents/{id}?step=` agent panel; `.../explanations?step=` the feedback model's why;
- `GET /api/runs/{run}/items/{item_id}?step=` item panel with its cascade; `GET /api/runs/{run}/items?q=`;
- `GET /api/runs/{run}/live` server-sent events: `status` whenever new steps land, until the run ends;
- `POST /api/runs/{run}/agents/{id}/interview` {"question", "step"?}: the only endpoint that writes.

With an access token (required beyond loopback, see access.py) every path answers 401 to a request
that does not carry it; `GET /?token=...` sets the page's session cookie and redirects to `/`.
Explanations answer 503 with Retry-After while the run's feedback model is rebuilt in the background.
"""

from __future__ import annotations

import asyncio
import json
import threading
from http import HTTPStatus
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import access
from .explain import Explainer, Preparing
from .interview import MAX_QUESTION, ask
from .request_checks import Refused, check_state_changing, json_body
from .run_files import Unreadable
from .runs import BadRequest, NotFound, RunStore

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
LOOPBACK_HOSTS = access.LOOPBACK_NAMES  # the Host headers a loopback-bound server answers
PAGES = ("/", "/play")  # the pages a `?token=` link may open (/play: role-play runs)
NEEDS_TOKEN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>recagent</title>
<link rel="icon" href="data:,"></head><body>
<h1>recagent: this server needs its access token</h1>
<p>Open the address that <code>recagent serve</code> printed when it started (it ends in
<code>/?token=...</code>), or send <code>Authorization: Bearer TOKEN</code>.</p></body></html>"""


class InterviewRequest(BaseModel):
    """The interview endpoint's body (strict: "3" is not a step, a number is not a question)."""

    model_config = ConfigDict(strict=True, extra="forbid")
    question: str = Field(min_length=1, max_length=MAX_QUESTION * 4)  # the stripped text is checked below
    step: int | None = Field(default=None, description="the page's step; default the last completed one")


class ApiError(BaseModel):
    """Every 4xx and 5xx answer of the API: one message saying what was wrong."""

    error: str


class PreparingError(ApiError):
    preparing: bool
    retry_after: int


def _errors(*codes: int, model: type[BaseModel] = ApiError) -> dict:
    return {code: {"model": model, "description": HTTPStatus(code).phrase} for code in codes}


def warm_up(store: RunStore, count: int, explainer: Explainer | None = None) -> None:
    """Read the newest runs' views, then queue the newest run's feedback model for explanations
    (after the views: a first page load matters more than a first explanation)."""
    newest = None
    for summary in store.summaries()[:count]:
        try:
            data = store.get(summary["id"])
            data.cached_json("metrics", lambda data=data: {**data.status(), "metrics": data.metrics()})
            data.cached_json("graph", data.graph)
            newest = newest or data.path
        except Exception:  # noqa: BLE001, S110 - warming is best effort; requests report real errors
            pass
    if newest is not None and explainer is not None:
        explainer.prepare(newest)


def web_dir() -> Path:
    """The page's folder: `static/` inside this package (package data, so wheels carry it)."""
    return Path(__file__).resolve().parent / "static"


def create_app(runs_dir: str | Path, *, poll_seconds: float = 0.4, allowed_hosts: set[str] | None = None,
               warm: int = 0, warm_explanations: bool = True, token: str | None = None, play=None,
               llm=None, trusted_runs: frozenset[str] | set[str] = frozenset()) -> FastAPI:
    """The app serving the run folders under `runs_dir`.

    `allowed_hosts`, when given, rejects requests whose Host header is not one of them (the CLI
    passes the loopback names when bound to 127.0.0.1, which defeats DNS-rebinding pages).
    `warm` > 0 reads that many of the newest runs in a background thread at start, so the first
    page load finds their views ready, and then (unless `warm_explanations` is False: `run --serve`,
    whose run needs the cores) queues the newest run's feedback model for explanations (the CLI
    does; tests and the benchmark measure cold).
    `token`, when given, is required on every request (see access.py).
    `play`, a `recagent.simulation.roleplay.RolePlay`, adds the role-play page and API (web/play.py).
    `llm`, a `recagent.llm.spec.LLMSpec`, is the only language endpoint the server calls (interviews,
    rebuilt feedback models); None: offline. `trusted_runs` names the runs whose own folder's
    endpoint may be used instead (a run folder may come from someone else: see docs/security.md).
    """
    if token is not None:
        access.check_token(token, "token")
    store = RunStore(runs_dir)
    explainer = Explainer(llm, trusted_runs, root=store.root)
    if warm:
        threading.Thread(target=warm_up, args=(store, warm, explainer if warm_explanations else None),
                         name="recagent-warm", daemon=True).start()
    # the schema (app.openapi(), not served) documents every answer, which the fuzz test holds it to
    app = FastAPI(title="recagent", docs_url=None, redoc_url=None, openapi_url=None, responses=_errors(400, 401, 404, 422))
    app.state.store = store
    app.state.explainer = explainer
    page = web_dir()

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if allowed_hosts is not None:
            host = request.headers.get("host", "").rsplit(":", 1)[0] if not request.headers.get(
                "host", "").startswith("[") else request.headers.get("host", "").split("]")[0] + "]"
            if host not in allowed_hosts:
                return JSONResponse({"error": f"host {host!r} is not served here"}, status_code=400)
        try:  # origin and body length of every state-changing request, token or not (request_checks.py)
            check_state_changing(request)
        except Refused as e:
            return secure(request, JSONResponse({"error": str(e)}, status_code=e.status))
        if token is not None:
            response = authorise(request)
            if response is not None:
                return secure(request, response)
        return secure(request, await call_next(request))

    def authorise(request: Request) -> Response | None:
        """None when the request carries the token; else the answer to send instead."""
        if access.presented(token, request.headers.get("authorization"), request.cookies):
            if request.url.path in PAGES and "token" in request.query_params:
                return RedirectResponse(request.url.path, status_code=303)  # drop the token from the address bar
            return None
        offered = request.query_params.get("token") if request.url.path in PAGES else None
        if offered is not None and access.presented(token, f"Bearer {offered}", {}):
            # the link `recagent serve` printed: remember the token in a cookie the page's own
            # requests (fetch, EventSource) carry, and show the page at its clean address
            response = RedirectResponse(request.url.path, status_code=303, headers={"Cache-Control": "no-store"})
            response.set_cookie(access.cookie_name(token), token, httponly=True, samesite="lax", path="/")
            return response
        if request.url.path in PAGES or request.url.path.startswith("/static/"):
            return HTMLResponse(NEEDS_TOKEN_PAGE, status_code=401)
        return JSONResponse({"error": "this server needs its access token: open the address `recagent serve` "
                                      "printed, or send 'Authorization: Bearer TOKEN'"},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})

    def secure(request: Request, response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.url.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(Unreadable)
    async def unreadable(_: Request, e: Unreadable):
        return JSONResponse({"error": str(e)}, status_code=422)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, e: NotFound):
        return JSONResponse({"error": str(e.args[0] if e.args else e)}, status_code=404)

    @app.exception_handler(Refused)
    async def refused(_: Request, e: Refused):
        return JSONResponse({"error": str(e)}, status_code=e.status)

    @app.exception_handler(BadRequest)
    async def bad_request(_: Request, e: BadRequest):
        return JSONResponse({"error": str(e)}, status_code=400)

    @app.exception_handler(Preparing)
    async def preparing(_: Request, e: Preparing):
        return JSONResponse({"error": str(e), "preparing": True, "retry_after": e.retry_after}, status_code=503,
                            headers={"Retry-After": str(e.retry_after)})

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, e: RequestValidationError):
        messages = []
        for err in e.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("path", "query", "body"))
            found = err.get("input")
            found = "" if isinstance(found, (dict, list)) or found is None else f", found {str(found)[:60]!r}"
            messages.append(f"parameter {where or 'body'!r}: {err.get('msg', 'invalid')}{found}")
        return JSONResponse({"error": "; ".join(messages)}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, e: StarletteHTTPException):
        return JSONResponse({"error": str(e.detail)}, status_code=e.status_code)

    # --- the page --------------------------------------------------------------------------------

    @app.get("/", response_class=FileResponse, responses={
        200: {"content": {"text/html": {}}, "description": "the page"},
        303: {"description": "the token was accepted: a session cookie is set, go to /"},
        401: {"content": {"text/html": {}}, "description": "no token"}, **_errors(404)})
    def index(token: str | None = Query(None, description="the access token, once: the server sets the page's "
                                                          "session cookie and redirects to / (see access.py)")):
        # the token itself was checked by `guard`, before this runs
        if not (page / "index.html").is_file():
            raise NotFound(f"the page is missing from the installed package: {page / 'index.html'}")
        return FileResponse(page / "index.html", media_type="text/html")

    if page.is_dir():
        app.mount("/static", StaticFiles(directory=page), name="static")
    if play is not None:  # recagent run --play (issue 16)
        from .play import mount_play

        mount_play(app, play, page)

    # --- runs ------------------------------------------------------------------------------------

    def run_data(run: str):
        return store.get(run)

    @app.get("/api/runs")
    def runs():
        found = store.found()  # one walk of the root for both lists
        return {"runs_dir": store.root.name, "runs": store.summaries(found), "studies": store.studies(found)}

    @app.get("/api/studies/{study}/metrics")
    def study_metrics(study: str, group: str | None = Query(None, max_length=1000, description="one strategy "
                                                            "[/point] folder of the study; default: every one")):
        return store.study_metrics(study, group)

    @app.get("/api/runs/{run}")
    def run_info(run: str):
        data = run_data(run)
        return {"info": data.info, **data.status(), "agents": data.n_agents, "items": len(data.item_ids),
                "genres": data.genre_names}

    @app.get("/api/runs/{run}/metrics")
    def metrics(run: str):
        data = run_data(run)
        body = data.cached_json("metrics", lambda: {**data.status(), "metrics": data.metrics()})
        return Response(body, media_type="application/json")

    @app.get("/api/runs/{run}/graph")
    def graph(run: str):
        data = run_data(run)
        return Response(data.cached_json("graph", data.graph), media_type="application/json")

    @app.get("/api/runs/{run}/steps/{step}")
    def step_feed(run: str, step: int, limit: int = Query(200, ge=1, le=2000)):
        return run_data(run).step_feed(step, limit)

    def stored_memories(data, agent_id: int) -> dict | None:
        """The agent's entries in the run's memory store (runs with memory on), newest first, read
        from a private copy (chromadb writes to the folder it opens; the run folder is not ours)."""
        folder = data.path / "memory"
        if not folder.is_dir():
            return None
        try:
            from ..llm.interview import memory_store
            from ..memory import load_agent_memories

            with memory_store(data.path, store.root) as memories:
                entries = load_agent_memories(memories, agent_id)
        except Exception as e:  # noqa: BLE001 - show the event-based memories and say why
            return {"error": f"could not read the memory store: {type(e).__name__}: {e}"[:300], "entries": []}
        return {"entries": [{"text": e.text, "importance": round(float(e.importance), 2),
                             "created_hours": round(float(e.created), 2)} for e in reversed(entries)][:30]}

    @app.get("/api/runs/{run}/agents/{agent_id}")
    def agent(run: str, agent_id: int, step: int | None = None):
        data = run_data(run)
        panel = data.agent_panel(agent_id, step)
        panel["memory_store"] = stored_memories(data, agent_id)
        return panel

    @app.get("/api/runs/{run}/agents/{agent_id}/explanations", responses=_errors(503, model=PreparingError))
    def explanations(run: str, agent_id: int, step: int | None = None, limit: int = Query(30, ge=1, le=200)):
        data = run_data(run)
        data.agent(agent_id)
        return explainer.explain_agent(data, agent_id, data.check_step(step), limit)

    # The body is read by hand (not a FastAPI body parameter): 415 to anything but JSON, which keeps
    # cross-site forms out, and bounded size and depth (request_checks.py); the schema documents it.
    @app.post("/api/runs/{run}/agents/{agent_id}/interview", responses=_errors(403, 413, 415), openapi_extra={"requestBody": {
        "required": True, "content": {"application/json": {"schema": InterviewRequest.model_json_schema()}}}})
    async def interview(run: str, agent_id: int, request: Request):
        raw = await json_body(request, '{"question": "..."}')
        try:
            body = InterviewRequest.model_validate(raw)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err["loc"]) or "body"
            raise BadRequest(f"expected a JSON object {{\"question\": string, \"step\"?: integer}}; "
                             f"{where!r}: {err['msg']}") from None
        question = body.question.strip()
        if not question:
            raise BadRequest("the question is empty")
        if len(question) > MAX_QUESTION:
            raise BadRequest(f"the question is longer than {MAX_QUESTION} characters ({len(question)})")
        step = body.step
        data = await run_in_threadpool(run_data, run)
        data.agent(agent_id)
        step = data.check_step(step)
        return await run_in_threadpool(ask, data, agent_id, question, step, llm=llm, trusted=run in trusted_runs)

    @app.get("/api/runs/{run}/items")
    def search_items(run: str, q: str = Query(..., min_length=1, max_length=100)):
        return {"items": run_data(run).search_items(q)}

    @app.get("/api/runs/{run}/items/{item_id}")
    def item(run: str, item_id: int, step: int | None = None):
        return run_data(run).item_panel(item_id, step)

    @app.get("/api/runs/{run}/live", response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}}, "description": "status events until the run ends"}})
    async def live(run: str, request: Request):
        data = await run_in_threadpool(run_data, run)

        async def stream():
            sent = None
            idle = 0
            while True:
                await run_in_threadpool(data.refresh)
                status = data.status()
                key = (status["steps_completed"], status["status"], status["version"])
                if key != sent:
                    sent = key
                    yield f"event: status\ndata: {json.dumps(status)}\n\n"
                    idle = 0
                elif status["status"] != "running":
                    break
                else:
                    idle += 1
                    if idle % 25 == 0:
                        yield ": keep-alive\n\n"
                if await request.is_disconnected():
                    break
                await asyncio.sleep(poll_seconds)
            yield "event: done\ndata: {}\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return app
