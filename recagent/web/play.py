"""The role-play page and its API (docs/roleplay.md), mounted on the web app of a run with played
agents (`recagent run FILE --play ID` starts both: web/play_serve.py).

- `GET /play` the page (`static/play.html`); `GET /api/play` the run and its played agents;
- `GET /api/play/{agent}` what the page shows (polled): persona, ratings, feed, the open turn and
  its seconds left;
- `POST /api/play/{agent}` one command as JSON (`{"do": "watch", "item": 12, "rating": 4}`, see
  `recagent.simulation.roleplay_acts`): 200 with its result, 400 when it does not fit the turn,
  409 when it is not the agent's turn, 415 for anything but JSON (which keeps cross-site forms out),
  403 for a cross-site request, 413 for a body over request_checks.MAX_BODY.

The commands are applied on the simulation's thread (the hook waits for them on a queue), so the web
side never touches the model. The access rule is the rest of the server's (access.py).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ..errors import UserError
from ..simulation.roleplay import NotYourTurn, RolePlay
from ..simulation.roleplay_acts import COMMAND, ActError
from .request_checks import Refused, json_body


class PlayError(BaseModel):
    """Every error answer of the role-play API: one message saying what was wrong."""

    error: str


def command_schema() -> dict:
    """The commands' JSON schema with its definitions inlined (an OpenAPI document has no `$defs`)."""
    schema = COMMAND.json_schema()
    defs = schema.pop("$defs", {})
    schema.pop("discriminator", None)  # its mapping points into $defs; `do`'s const tells the variants apart

    def inline(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: inline(v) for k, v in node.items()}
        return [inline(v) for v in node] if isinstance(node, list) else node

    return inline(schema)


def _documented(*codes: int) -> dict:
    phrases = {403: "a cross-site request", 404: "nobody plays that agent here", 413: "the body is too large", 409: "it is not that agent's turn", 415: "the body is not JSON",
               503: "the simulation did not answer in time"}
    return {code: {"model": PlayError, "description": phrases.get(code, "the command does not fit")} for code in codes}


def mount_play(app: FastAPI, roleplay: RolePlay, page_dir: Path) -> None:
    """Add the role-play page and endpoints to `app` (create_app calls it when given a RolePlay)."""

    @app.get("/play", response_class=FileResponse, include_in_schema=False)
    def play_page():
        return FileResponse(page_dir / "play.html", media_type="text/html")

    @app.get("/api/play")
    def played():
        return {"run": roleplay.run_name, "finished": roleplay.finished,
                "agents": [{"id": a, "name": roleplay.state(a).get("name"), "status": roleplay.state(a).get("status")}
                           for a in roleplay.seats]}

    @app.get("/api/play/{agent}", responses=_documented(404))
    def seat_state(agent: int):
        try:
            return roleplay.state(agent)
        except NotYourTurn as e:
            return JSONResponse({"error": str(e)}, status_code=404)

    # the body is read by hand (JSON only, which keeps cross-site forms out); the schema documents it
    @app.post("/api/play/{agent}", responses=_documented(400, 403, 404, 409, 413, 415, 503), openapi_extra={"requestBody": {
        "required": True, "content": {"application/json": {"schema": command_schema()}}}})
    async def act(agent: int, request: Request):
        try:
            data = await json_body(request, '{"do": "nothing"}')
        except Refused as e:
            return JSONResponse({"error": str(e)}, status_code=e.status)
        if not isinstance(data, dict):
            return JSONResponse({"error": "expected a JSON object like {\"do\": \"nothing\"}"}, status_code=400)
        try:
            result = await run_in_threadpool(roleplay.submit, agent, data)
        except NotYourTurn as e:
            return JSONResponse({"error": str(e)}, status_code=409 if agent in roleplay.seats else 404)
        except (ActError, UserError) as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        except TimeoutError:
            return JSONResponse({"error": "the simulation did not answer in time"}, status_code=503)
        return {"result": result, "state": roleplay.state(agent)}
