"""`recagent interview RUN_DIR AGENT_ID "question"`: ask a simulated person about its experience.

The answer is grounded in the agent's persona (from the run's events.sqlite, read through
`recagent.events.EventReader`) and its memories: from a copy of the run's chromadb memory folder
when the run had memory on (ranked by recency + relevance to the question + importance), else from
its own events (what it watched, said and heard).

Which language backend answers is never the run folder's to decide: a run folder may come from
someone else, and its `scenario.resolved.yaml` can name any `base_url`, which would receive the API
key from this machine's environment. The backend is, in order: `--offline`; the endpoint given
here (`--llm-url`, or the server's own); the run's `llm` block only when the person asking says
they trust it (`--trust-run-llm`); else the run's block if it is offline or fake (no endpoint,
no key); else one line saying so (exit 2).

Each exchange is appended to RUN_DIR/interviews/interviews.jsonl, opened without following
symlinks (a link planted there cannot make recagent write elsewhere).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Optional

import typer
import yaml

from ..errors import UserError
from .spec import LLMSpec

INTERVIEWS = "interviews"  # the only folder of a run folder anything but the run itself writes in
INTERVIEW_LOG = "interviews.jsonl"
MAX_MEMORY_BYTES = 256 << 20  # a memory folder copied for reading: chromadb stores of big runs are tens of MB
_write_lock = threading.Lock()


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


def _persona(reader, agent_id: int, run_dir: Path):
    from ..agents import Persona
    from ..events import decode_payload

    agents = reader.agents()
    row = next((r for r in agents if r[0] == agent_id), None)
    if row is None:
        raise UserError(f"agent {agent_id} is not in this run; agent ids go from 0 to {len(agents) - 1}", run_dir)
    data = decode_payload(row[3])
    known = {f.name for f in fields(Persona)}
    return Persona(name=str(row[2]), **{k: v for k, v in data.items() if k in known})


def _event_memories(reader, agent_id: int, limit: int = 12) -> list[str]:
    """Memories rebuilt from the agent's own events, newest first (runs without memory)."""
    from ..events import decode_payload

    titles = {item_id: title for item_id, title, _ in reader.items()}
    names = {a[0]: a[2] for a in reader.agents()}
    out = []
    for _, _, _, kind, item, other, payload, when in reader.events(
            agent=agent_id, kinds=("watch", "chat", "post", "feeling", "hear"), newest_first=True, limit=200,
            with_time=True):
        p, title = decode_payload(payload), titles.get(item)
        if kind == "watch":
            rating = p.get("rating")
            out.append(f"{when}: I watched {title} and rated it "
                       f"{format(rating, 'g') if isinstance(rating, (int, float)) else '?'}/5")
        elif kind in ("chat", "post", "feeling"):
            out.append(f"{when}: {kind} about {title}: {str(p.get('text', ''))[:200]}")
        elif kind == "hear" and p.get("via") == "chat":
            out.append(f"{when}: {names.get(other)} told me about {title} ({p.get('sentiment')})")
        if len(out) >= limit:
            break
    return out


def memory_copy_of(folder: Path, root: Path) -> Path:
    """A private copy of a run's memory folder, for chromadb to open (it writes to the folder it
    opens, and the run folder is not ours to change). Only regular files inside `root` are copied,
    never a symlink; Unreadable-as-UserError for a folder that holds anything else or is too large."""
    target = Path(tempfile.mkdtemp(prefix="recagent-memory-"))
    total = 0
    try:
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
            here = Path(dirpath)
            for name in dirnames + filenames:
                source = here / name
                info = source.lstat()
                if stat.S_ISLNK(info.st_mode) or not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
                    raise UserError("the memory folder holds a link or a special file; it is not read", source)
                if not source.resolve().is_relative_to(root):
                    raise UserError("the memory folder leads outside the run folder", source)
                destination = target / source.relative_to(folder)
                if stat.S_ISDIR(info.st_mode):
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                total += info.st_size
                if total > MAX_MEMORY_BYTES:
                    raise UserError(f"the memory folder is larger than {MAX_MEMORY_BYTES} bytes; it is not read", folder)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, destination, follow_symlinks=False)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


@contextmanager
def memory_store(run_dir: Path, root: Path):
    """The run's long-term memory store, opened on a private copy (removed afterwards)."""
    from ..memory import LongTermStore

    copy = memory_copy_of(run_dir / "memory", root)
    try:
        yield LongTermStore(copy)
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def _memory_memories(run_dir: Path, root: Path, agent_id: int, question: str, k: int = 8) -> list[str]:
    from ..embeddings import embed
    from ..memory import load_agent_memories

    with memory_store(run_dir, root) as store:
        entries = load_agent_memories(store, agent_id)
    if not entries:
        return []
    import numpy as np

    now = max(e.created for e in entries)
    q = embed([question])[0]
    E = np.stack([e.embedding for e in entries])
    score = 0.99 ** np.array([now - e.created for e in entries]) + 1 - np.linalg.norm(E - q, axis=1) / np.sqrt(2) \
        + np.array([e.importance for e in entries]) / 10
    return [entries[j].text for j in np.argsort(-score, kind="stable")[:k]]


def run_llm_spec(run_dir: Path) -> LLMSpec:
    """The `llm` block of the run's scenario.resolved.yaml (offline when there is none)."""
    resolved = run_dir / "scenario.resolved.yaml"
    if not resolved.is_file() or resolved.is_symlink():
        return LLMSpec()
    try:
        data = (yaml.safe_load(resolved.read_text(encoding="utf-8")) or {}).get("llm") or {}
        return LLMSpec.model_validate(data)
    except Exception as e:  # noqa: BLE001 - a hand-edited or hostile file: say which
        raise UserError(f"field 'llm': {str(e)[:200]}", resolved) from None


def choose_llm(run_dir: Path, *, offline: bool, llm: LLMSpec | None, trust_run_llm: bool) -> LLMSpec:
    """The backend that answers (see the module's docstring for the order)."""
    if offline:
        return LLMSpec()
    if llm is not None:
        return llm
    spec = run_llm_spec(run_dir)
    if trust_run_llm or spec.provider in ("offline", "fake", "local"):  # local: no endpoint, no key sent
        return spec
    raise UserError(f"the run's llm endpoint ({spec.base_url or 'the OpenAI API'}) comes from its folder, which "
                    "recagent does not trust with your API key; pass --trust-run-llm if you trust this run, "
                    "--llm-url URL to use an endpoint of your own, or --offline", run_dir / "scenario.resolved.yaml")


def append_record(run_dir: Path, record: dict) -> Path:
    """Append one JSON line to RUN_DIR/interviews/interviews.jsonl, following no symlink: the folder
    and the file are opened with O_NOFOLLOW, and anything but a regular file is refused."""
    folder = run_dir / INTERVIEWS
    try:
        folder.mkdir(exist_ok=True)
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as e:
        raise UserError(f"cannot write interviews here ({e.strerror}); expected a folder, not a link", folder) from None
    try:
        fd = os.open(INTERVIEW_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644,
                     dir_fd=dir_fd)
    except OSError as e:
        raise UserError(f"cannot append to it ({e.strerror}); expected a regular file, not a link",
                        folder / INTERVIEW_LOG) from None
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise UserError("not a regular file; nothing written", folder / INTERVIEW_LOG)
        with _write_lock:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return folder / INTERVIEW_LOG


def interview(run_dir: Path, agent_id: int, question: str, offline: bool = False, *, llm: LLMSpec | None = None,
              trust_run_llm: bool = False, root: Path | None = None) -> InterviewAnswer:
    """Ask agent `agent_id` of the run in `run_dir`; `llm` is the endpoint to use (else see choose_llm).
    `root`: the folder the run's files may not lead out of (default: the run folder itself)."""
    from ..cache import cache_dir
    from ..events import EventReader
    from ..llm import SpeechRequest, make_backend

    run_dir = Path(run_dir).resolve()
    root = Path(root).resolve() if root is not None else run_dir
    db = run_dir / "events.sqlite"
    if not db.is_file():
        raise UserError("not a run folder (no events.sqlite)", run_dir)
    if not db.resolve().is_relative_to(root):
        raise UserError("events.sqlite leads outside the run folder; not read", db)
    if not question.strip():
        raise UserError("the question is empty")
    reader = EventReader(db)
    persona = _persona(reader, agent_id, run_dir)
    memories = (_memory_memories(run_dir, root, agent_id, question) if (run_dir / "memory").is_dir() else [])
    memories = memories or _event_memories(reader, agent_id)
    spec = choose_llm(run_dir, offline=offline, llm=llm, trust_run_llm=trust_run_llm)
    backend = make_backend(spec, cache_dir=cache_dir())
    request = SpeechRequest(kind="interview", speaker=persona.name, persona=persona.summary(), memories=memories,
                            question=question.strip(), key=f"interview:{agent_id}:{question.strip()}")
    try:
        [reply] = backend.respond_many([request])
    finally:
        backend.close()
    answer = InterviewAnswer(agent_id, persona.name, question.strip(), reply.text, backend.label, reply.source, memories,
                             reply.error)
    append_record(run_dir, dict(vars(answer)))
    return answer


def interview_command(
    run_dir: Path = typer.Argument(..., help="Run folder"),
    agent_id: int = typer.Argument(..., help="Agent id (events.agent_id)"),
    question: str = typer.Argument(..., help="The question to ask"),
    offline: bool = typer.Option(False, "--offline", help="Answer with the offline backend, whatever the run used"),
    llm_url: Optional[str] = typer.Option(None, "--llm-url", help="Answer through this OpenAI-compatible endpoint "
                                                                   "(yours), not the run's"),
    llm_model: str = typer.Option("gpt-4o-mini", "--llm-model", help="With --llm-url: the model name"),
    llm_key_env: Optional[str] = typer.Option(None, "--llm-key-env", help="With --llm-url: the environment variable "
                                                                           "holding its API key"),
    trust_run_llm: bool = typer.Option(False, "--trust-run-llm", help="Use the endpoint the run folder names, with "
                                                                       "your API key (only for a run you trust)"),
) -> None:
    """Ask a simulated person about its experience, answered from its persona and memories."""
    from rich.console import Console

    answer = interview(run_dir, agent_id, question, offline=offline, trust_run_llm=trust_run_llm,
                       llm=endpoint_spec(llm_url, llm_model, llm_key_env, "--llm-url"))
    label = answer.backend + (" (offline fallback)" if answer.source in ("fallback", "budget") else "")
    Console().print(f"[bold]{answer.name}[/] (agent {agent_id}, {label}):\n{answer.answer}", highlight=False)


def endpoint_spec(url: str | None, model: str, key_env: str | None, option: str) -> LLMSpec | None:
    """The LLMSpec of an endpoint named on the command line (None when no URL was given)."""
    if url is None:
        return None
    try:
        return LLMSpec(provider="openai", base_url=url, model=model, api_key_env=key_env)
    except ValueError as e:
        raise UserError(f"expected an http(s):// URL, found {url!r} ({str(e).splitlines()[-1][:80]})", option) from None
