"""The run's prompt journal: which prompt-cache entries this run wrote, and at which step.

A resumed run does again the steps after its checkpoint. The prompt cache already holds the
replies the lost steps got; answering from it would count cache hits where the uninterrupted
run counted calls and tokens, so the `llm` events would differ. With the journal, the entries the
run itself wrote after the checkpoint read as absent until written again: those prompts are sent
again, as in an uninterrupted run. Entries from before the checkpoint or from other runs are
answered from the cache as usual.
"""

from __future__ import annotations

from pathlib import Path

FILE = "prompts.journal"


class JournaledCache:
    """A prompt cache (get / put / len / close) that journals its writes with the step they belong to."""

    def __init__(self, cache, path: Path, step_of, replayed: set[str] | None = None):
        self.cache, self.path, self.step_of = cache, path, step_of
        self.replayed = set(replayed or ())
        self.file = open(path, "a", encoding="utf-8")

    def get(self, key: str):
        return None if key in self.replayed else self.cache.get(key)

    def put(self, key: str, text: str, prompt_tokens: int, completion_tokens: int) -> None:
        self.cache.put(key, text, prompt_tokens, completion_tokens)
        self.replayed.discard(key)
        self.file.write(f"{self.step_of()}\t{key}\n")
        self.file.flush()  # in the kernel's hands: a killed process loses nothing written here

    def __len__(self) -> int:
        return len(self.cache)

    def close(self) -> None:
        self.file.close()
        self.cache.close()


def attach_journal(model, folder: Path, resume_step: int | None = None) -> None:
    """Journal the model's prompt-cache writes into `folder`; when resuming from `resume_step`, the
    entries written at or after it read as absent, and the journal keeps only the lines before it."""
    backend = model.backend
    if getattr(backend, "cache", None) is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE
    replayed: set[str] = set()
    if resume_step is not None and path.is_file():
        kept = []
        for line in path.read_text(encoding="utf-8").splitlines():
            step, _, key = line.partition("\t")
            if not key:
                continue  # a line cut short by the kill
            if int(step) >= resume_step:
                replayed.add(key)
            else:
                kept.append(line + "\n")
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(kept), encoding="utf-8")
        tmp.replace(path)
    backend.cache = JournaledCache(backend.cache, path, lambda: model.world.step_index, replayed)
