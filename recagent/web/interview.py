"""Ask an agent of a run a question: the only thing the web server writes.

The server calls recagent's interview function (`recagent.llm.interview`: the agent's memories,
the run's configured language backend). If that is missing or fails, the answer comes from the
offline backend, grounded in the agent's persona and its events up to the page's step, labelled
"offline" (assembled from templates, not written by an LLM). Every exchange is appended to
`interviews.jsonl` in the run folder.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime

from ..llm import SpeechRequest, speak
from .runs import RunData

MAX_QUESTION = 500
_write_lock = threading.Lock()


def persona_summary(persona: dict) -> str:
    bits = [f"{persona.get('age')}-year-old" if persona.get("age") else "", persona.get("gender") or "",
            persona.get("occupation") or ""]
    who = " ".join(str(b) for b in bits if b) or "a movie fan"
    genres = persona.get("favourite_genres") or []
    roles = persona.get("roles") or []
    return who + (f"; enjoys {', '.join(genres)}" if genres else "") + (f"; a {'/'.join(roles)}" if roles else "")


def _project_interview():
    """recagent's interview function (`recagent interview`, memory-backed, the run's configured
    language backend) when this tree has it, else None."""
    try:
        from ..llm.interview import interview
    except ImportError:
        return None
    return interview if callable(interview) else None


def ask(run: RunData, agent_id: int, question: str, step: int) -> dict:
    """Answer `question` as agent `agent_id`; the exchange is appended to interviews.jsonl."""
    agent = run.agent(agent_id)
    project = _project_interview()
    fallback_reason = None
    if project is not None:
        try:
            result = project(run.path, agent_id, question)  # writes interviews.jsonl itself
        except Exception as e:  # noqa: BLE001 - fall back to the offline answer, and say why
            fallback_reason = f"{type(e).__name__}: {e}"[:200]
        else:
            backend = str(getattr(result, "backend", "unknown"))
            source = str(getattr(result, "source", ""))
            return {"time": datetime.now().isoformat(timespec="seconds"), "agent_id": agent_id,
                    "agent_name": agent.name, "step": step, "question": question, "answer": str(result.answer),
                    "backend": backend, "source": source,
                    "offline": backend == "offline" or source == "offline",
                    "memories_used": list(getattr(result, "memories", []))}
    memories = [m["text"] for m in run.memories(agent_id, step, limit=6)]
    request = SpeechRequest(kind="interview", speaker=agent.name, persona=persona_summary(agent.persona),
                            memories=memories, question=question, key=f"{run.name}:{agent_id}:{step}:{question}")
    record = {"time": datetime.now().isoformat(timespec="seconds"), "agent_id": agent_id, "agent_name": agent.name,
              "step": step, "question": question, "answer": speak(request), "backend": "offline",
              "source": "offline"}
    if fallback_reason:
        record["fallback_reason"] = fallback_reason
    with _write_lock, open(run.path / "interviews.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return {**record, "offline": True, "memories_used": memories}
