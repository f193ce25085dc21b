"""The FastAPI app behind the web page: read-only JSON views of run folders, live updates, interviews.

Endpoints (all JSON unless noted; every bad parameter is a 4xx with {"error": message}):

- `GET /` the page; `GET /static/...` its scripts and styles (top-level `web/`, no CDN);
- `GET /api/runs` run list; `GET /api/runs/{run}` run.json and live status;
- `GET /api/runs/{run}/metrics` metrics per step; `GET /api/runs/{run}/graph` agents, edges and per-step
  node measures; `GET /api/runs/{run}/steps/{step}` that step's chats, posts and counts;
- `GET /api/runs/{run}/agents/{id}?step=` agent panel; `.../explanations?step=` the feedback model's why;
- `GET /api/runs/{run}/items/{item_id}?step=` item panel with its cascade; `GET /api/runs/{run}/items?q=`;
- `GET /api/runs/{run}/live` server-sent events: `status` whenever new steps land, until the run ends;
- `POST /api/runs/{run}/agents/{id}/interview` {"question", "step"?}: the only endpoint that writes.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .explain import Explainer
from .interview import MAX_QUESTION, ask
from .runs import BadRequest, NotFound, RunStore

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def warm_up(store: RunStore, count: int) -> None:
    for summary in store.summaries()[:count]:
        try:
            data = store.get(summary["id"])
            data.cached_json("metrics", lambda: {**data.status(), "metrics": data.metrics()})
            data.cached_json("graph", data.graph)
        except Exception:  # noqa: BLE001 - warming is best effort; requests report real errors
            pass


def web_dir() -> Path:
    """The page's folder: $RECAGENT_WEB_DIR, else the repository's top-level `web/`."""
    override = os.environ.get("RECAGENT_WEB_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "web"


def create_app(runs_dir: str | Path, *, poll_seconds: float = 0.4, allowed_hosts: set[str] | None = None,
               warm: int = 0) -> FastAPI:
    """The app serving the run folders under `runs_dir`.

    `allowed_hosts`, when given, rejects requests whose Host header is not one of them (the CLI
    passes the loopback names when bound to 127.0.0.1, which defeats DNS-rebinding pages).
    `warm` > 0 reads that many of the newest runs in a background thread at start, so the first
    page load finds their views ready (the CLI does; tests and the benchmark measure cold).
    """
    store = RunStore(runs_dir)
    if warm:
        threading.Thread(target=warm_up, args=(store, warm), name="recagent-warm", daemon=True).start()
    explainer = Explainer()
    app = FastAPI(title="recagent", docs_url=None, redoc_url=None, openapi_url=None)
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
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.url.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(NotFound)
    async def not_found(_: Request, e: NotFound):
        return JSONResponse({"error": str(e.args[0] if e.args else e)}, status_code=404)

    @app.exception_handler(BadRequest)
    async def bad_request(_: Request, e: BadRequest):
        return JSONResponse({"error": str(e)}, status_code=400)

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

    @app.get("/", include_in_schema=False)
    def index():
        if not (page / "index.html").is_file():
            raise NotFound(f"the page is missing: {page / 'index.html'} (set RECAGENT_WEB_DIR)")
        return FileResponse(page / "index.html", media_type="text/html")

    if page.is_dir():
        app.mount("/static", StaticFiles(directory=page), name="static")

    # --- runs ------------------------------------------------------------------------------------

    def run_data(run: str):
        return store.get(run)

    @app.get("/api/runs")
    def runs():
        return {"runs_dir": store.root.name, "runs": store.summaries()}

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

    stores: dict[Path, object] = {}

    def stored_memories(data, agent_id: int) -> dict | None:
        """The agent's entries in the run's memory store (runs with memory on), newest first."""
        folder = data.path / "memory"
        if not folder.is_dir():
            return None
        try:
            from ..memory import LongTermStore, load_agent_memories

            if folder not in stores:
                stores[folder] = LongTermStore(folder)
            entries = load_agent_memories(stores[folder], agent_id)
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

    @app.get("/api/runs/{run}/agents/{agent_id}/explanations")
    def explanations(run: str, agent_id: int, step: int | None = None, limit: int = Query(30, ge=1, le=200)):
        data = run_data(run)
        data.agent(agent_id)
        return explainer.explain_agent(data, agent_id, data.check_step(step), limit)

    @app.post("/api/runs/{run}/agents/{agent_id}/interview")
    async def interview(run: str, agent_id: int, request: Request):
        if "application/json" not in request.headers.get("content-type", ""):
            return JSONResponse({"error": "send the question as JSON: {\"question\": \"...\"}"}, status_code=415)
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            raise BadRequest("the request body is not valid JSON")
        if not isinstance(body, dict) or not isinstance(body.get("question"), str):
            raise BadRequest("expected a JSON object with a 'question' string")
        question = body["question"].strip()
        if not question:
            raise BadRequest("the question is empty")
        if len(question) > MAX_QUESTION:
            raise BadRequest(f"the question is longer than {MAX_QUESTION} characters ({len(question)})")
        step = body.get("step")
        if step is not None and (not isinstance(step, int) or isinstance(step, bool)):
            raise BadRequest(f"'step' must be an integer, found {step!r}")
        data = await run_in_threadpool(run_data, run)
        data.agent(agent_id)
        step = data.check_step(step)
        return await run_in_threadpool(ask, data, agent_id, question, step)

    @app.get("/api/runs/{run}/items")
    def search_items(run: str, q: str = Query(..., min_length=1, max_length=100)):
        return {"items": run_data(run).search_items(q)}

    @app.get("/api/runs/{run}/items/{item_id}")
    def item(run: str, item_id: int, step: int | None = None):
        return run_data(run).item_panel(item_id, step)

    @app.get("/api/runs/{run}/live")
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
