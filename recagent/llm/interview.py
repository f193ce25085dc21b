"""`recagent interview RUN_DIR AGENT_ID "question"`: ask a simulated person about its experience.

The answer is grounded in the agent's persona (from the run's events.sqlite) and its memories:
from the run's chromadb memory folder when the run had memory on (ranked by recency + relevance
to the question + importance), else from its own events (what it watched, said and heard). The
language backend is the run's `llm` block (re-using the prompt cache) unless --offline is given.
Each exchange is appended to RUN_DIR/interviews.jsonl.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, fields
from pathlib import Path

import typer
import yaml

from ..errors import UserError


@dataclass
class InterviewAnswer:
    agent_id: int
    name: str
    question: str
    answer: str
    backend: str
    source: str
    memories: list[str]
    error: str | None = None


def _persona(conn: sqlite3.Connection, agent_id: int, run_dir: Path):
    from ..agents import Persona

    row = conn.execute("SELECT name, persona FROM agents WHERE agent_id = ?", (agent_id,)).fetchone()
    if row is None:
        (n,) = conn.execute("SELECT COUNT(*) FROM agents").fetchone()
        raise UserError(f"agent {agent_id} is not in this run; agent ids go from 0 to {n - 1}", run_dir)
    data = json.loads(row[1])
    known = {f.name for f in fields(Persona)}
    return Persona(name=row[0], **{k: v for k, v in data.items() if k in known})


def _event_memories(conn: sqlite3.Connection, agent_id: int, limit: int = 12) -> list[str]:
    """Memories rebuilt from the agent's own events, newest first (runs without memory)."""
    rows = conn.execute(
        "SELECT e.kind, e.sim_time, i.title, e.payload, a.name FROM events e LEFT JOIN items i ON i.item_id = e.item_id "
        "LEFT JOIN agents a ON a.agent_id = e.target_agent_id WHERE e.agent_id = ? "
        "AND e.kind IN ('watch', 'chat', 'post', 'feeling', 'hear') ORDER BY e.id DESC LIMIT 200", (agent_id,)).fetchall()
    out = []
    for kind, when, title, payload, other in rows:
        p = json.loads(payload)
        if kind == "watch":
            out.append(f"{when}: I watched {title} and rated it {p.get('rating', '?'):g}/5")
        elif kind in ("chat", "post", "feeling"):
            out.append(f"{when}: {kind} about {title}: {p.get('text', '')[:200]}")
        elif kind == "hear" and p.get("via") == "chat":
            out.append(f"{when}: {other} told me about {title} ({p.get('sentiment')})")
        if len(out) >= limit:
            break
    return out


def _memory_memories(run_dir: Path, agent_id: int, question: str, k: int = 8) -> list[str]:
    from ..embeddings import embed
    from ..memory import LongTermStore, load_agent_memories

    entries = load_agent_memories(LongTermStore(run_dir / "memory"), agent_id)
    if not entries:
        return []
    import numpy as np

    now = max(e.created for e in entries)
    q = embed([question])[0]
    E = np.stack([e.embedding for e in entries])
    score = 0.99 ** np.array([now - e.created for e in entries]) + 1 - np.linalg.norm(E - q, axis=1) / np.sqrt(2) \
        + np.array([e.importance for e in entries]) / 10
    return [entries[j].text for j in np.argsort(-score, kind="stable")[:k]]


def interview(run_dir: Path, agent_id: int, question: str, offline: bool = False) -> InterviewAnswer:
    from ..llm import SpeechRequest, make_backend
    from .spec import LLMSpec
    from ..cache import cache_dir

    run_dir = Path(run_dir)
    db = run_dir / "events.sqlite"
    if not db.is_file():
        raise UserError("not a run folder (no events.sqlite)", run_dir)
    if not question.strip():
        raise UserError("the question is empty")
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        persona = _persona(conn, agent_id, run_dir)
        memories = (_memory_memories(run_dir, agent_id, question) if (run_dir / "memory").is_dir() else [])
        memories = memories or _event_memories(conn, agent_id)
    finally:
        conn.close()
    spec = LLMSpec()
    resolved = run_dir / "scenario.resolved.yaml"
    if resolved.is_file() and not offline:
        data = (yaml.safe_load(resolved.read_text(encoding="utf-8")) or {}).get("llm") or {}
        try:
            spec = LLMSpec.model_validate(data)
        except Exception as e:  # noqa: BLE001 - a hand-edited file: say which
            raise UserError(f"field 'llm': {e}", resolved) from None
    backend = make_backend(spec, cache_dir=cache_dir())
    request = SpeechRequest(kind="interview", speaker=persona.name, persona=persona.summary(), memories=memories,
                            question=question.strip(), key=f"interview:{agent_id}:{question.strip()}")
    try:
        [reply] = backend.respond_many([request])
    finally:
        backend.close()
    answer = InterviewAnswer(agent_id, persona.name, question.strip(), reply.text, backend.label, reply.source, memories,
                             reply.error)
    with open(run_dir / "interviews.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({k: v for k, v in vars(answer).items()}, ensure_ascii=False) + "\n")
    return answer


def interview_command(
    run_dir: Path = typer.Argument(..., help="Run folder"),
    agent_id: int = typer.Argument(..., help="Agent id (events.agent_id)"),
    question: str = typer.Argument(..., help="The question to ask"),
    offline: bool = typer.Option(False, "--offline", help="Answer with the offline backend, whatever the run used"),
) -> None:
    """Ask a simulated person about its experience, answered from its persona and memories."""
    from rich.console import Console

    answer = interview(run_dir, agent_id, question, offline=offline)
    label = answer.backend + (" (offline fallback)" if answer.source in ("fallback", "budget") else "")
    Console().print(f"[bold]{answer.name}[/] (agent {agent_id}, {label}):\n{answer.answer}", highlight=False)
