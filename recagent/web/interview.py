"""Ask an agent of a run a question: the only thing the web server writes.

When recagent's interview function (memory-backed, configured language backend) is installed,
the server calls it. Otherwise the answer comes from the offline backend, grounded in the agent's
persona and its recent events, and is labelled "offline" (it is assembled from templates, not
written by an LLM). Every question and answer is appended to `interviews.jsonl` in the run folder.
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
    """recagent's own interview function when the package providing it is present, else None."""
    try:
        from ..memory import interview  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - not installed in this tree yet
        return None
    return interview if callable(interview) else None


def ask(run: RunData, agent_id: int, question: str, step: int) -> dict:
    agent = run.agent(agent_id)
    answer, backend = None, "offline"
    project = _project_interview()
    if project is not None:
        try:
            result = project(run.path, agent_id, question)
            if isinstance(result, dict):
                answer, backend = str(result.get("answer", "")), str(result.get("backend", "unknown"))
            else:
                answer, backend = str(getattr(result, "answer", result)), str(getattr(result, "backend", "unknown"))
        except Exception as e:  # noqa: BLE001 - fall back to the offline answer, and say why
            answer = None
            backend = f"offline (interview backend failed: {type(e).__name__})"
    memories = [m["text"] for m in run.memories(agent_id, step, limit=6)]
    if answer is None:
        request = SpeechRequest(kind="interview", speaker=agent.name, persona=persona_summary(agent.persona),
                                memories=memories, question=question,
                                key=f"{run.name}:{agent_id}:{step}:{question}")
        answer = speak(request)
        backend = backend if backend.startswith("offline") else "offline"
    record = {"time": datetime.now().isoformat(timespec="seconds"), "agent_id": agent_id, "agent_name": agent.name,
              "step": step, "question": question, "answer": answer, "backend": backend}
    with _write_lock, open(run.path / "interviews.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return {**record, "offline": backend.startswith("offline"), "memories_used": memories}
