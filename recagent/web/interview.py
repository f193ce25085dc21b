"""Ask an agent of a run a question: the only thing the web server writes.

The server calls recagent's interview function (`recagent.llm.interview`: the agent's memories)
with the server's own language endpoint (`recagent serve --llm-url`, or the scenario of
`run --serve`), never the one a run folder names, unless whoever started the server trusted that
run (`--trust-run-llm NAME`). A server with no endpoint of its own answers with the offline
backend, grounded in the agent's persona and its events up to the page's step, labelled "offline"
(assembled from templates, not written by an LLM); so does a failed call, with the reason. Every
exchange is appended to `<run>/interviews/interviews.jsonl`, never through a symlink.
"""

from __future__ import annotations

from datetime import datetime

from ..errors import UserError
from ..llm import SpeechRequest, speak
from ..llm.interview import append_record, interview
from ..llm.spec import LLMSpec
from .runs import RunData

MAX_QUESTION = 500


def persona_summary(persona: dict) -> str:
    bits = [f"{persona.get('age')}-year-old" if persona.get("age") else "", persona.get("gender") or "",
            persona.get("occupation") or ""]
    who = " ".join(str(b) for b in bits if b) or "a movie fan"
    genres = [str(g) for g in persona.get("favourite_genres") or [] if isinstance(g, str)]
    roles = [str(r) for r in persona.get("roles") or [] if isinstance(r, str)]
    return who + (f"; enjoys {', '.join(genres)}" if genres else "") + (f"; a {'/'.join(roles)}" if roles else "")


def ask(run: RunData, agent_id: int, question: str, step: int, *, llm: LLMSpec | None = None,
        trusted: bool = False) -> dict:
    """Answer `question` as agent `agent_id`; the exchange is appended to the run's interviews log.

    `llm` is the server's own endpoint (None: offline); `trusted`: the run's own endpoint may be used.
    """
    agent = run.agent(agent_id)
    fallback_reason = None
    if llm is not None or trusted:
        try:
            result = interview(run.path, agent_id, question, llm=llm, trust_run_llm=trusted, root=run.root)
        except Exception as e:  # noqa: BLE001 - fall back to the offline answer, and say why
            fallback_reason = f"{type(e).__name__}: {e}"[:200]
        else:
            return {"time": datetime.now().isoformat(timespec="seconds"), "agent_id": agent_id,
                    "agent_name": agent.name, "step": step, "question": question, "answer": str(result.answer),
                    "backend": result.backend, "source": result.source,
                    "offline": result.backend == "offline" or result.source == "offline",
                    "memories_used": list(result.memories)}
    memories = [m["text"] for m in run.memories(agent_id, step, limit=6)]
    request = SpeechRequest(kind="interview", speaker=agent.name, persona=persona_summary(agent.persona),
                            memories=memories, question=question, key=f"{run.name}:{agent_id}:{step}:{question}")
    record = {"time": datetime.now().isoformat(timespec="seconds"), "agent_id": agent_id, "agent_name": agent.name,
              "step": step, "question": question, "answer": speak(request), "backend": "offline",
              "source": "offline"}
    if fallback_reason:
        record["fallback_reason"] = fallback_reason
    elif llm is None:
        record["note"] = ("this server has no language endpoint of its own (recagent serve --llm-url); "
                          "a run folder's endpoint is used only for runs named with --trust-run-llm")
    try:
        append_record(run.path, record)
    except UserError as e:
        from .run_files import Unreadable

        raise Unreadable(f"run {run.name!r}: {e}") from None
    return {**record, "offline": True, "memories_used": memories}
