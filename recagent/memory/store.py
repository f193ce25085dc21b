"""Long-term memory on chromadb: one persistent collection per run, agent id in the metadata.

chromadb's default embedding function downloads a model at run time, which fails offline, so the
collection uses `MiniLMEmbedding`, a wrapper around `recagent.embeddings.embed` (the bundled
all-MiniLM-L6-v2). The simulation embeds a whole step's memories in one batch and hands the
vectors to `add`, so the embedding function only runs for text queries (e.g. interviews).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

COLLECTION = "memories"


@register_embedding_function
class MiniLMEmbedding(EmbeddingFunction[Documents]):
    """The bundled MiniLM (384 dims, L2-normalised), loaded from site-packages; no downloads."""

    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:
        from ..embeddings import embed

        return list(embed(list(input)))

    @staticmethod
    def name() -> str:
        return "recagent-minilm"

    def get_config(self) -> dict:
        return {}

    @staticmethod
    def build_from_config(config: dict) -> MiniLMEmbedding:
        return MiniLMEmbedding()

    def default_space(self) -> str:
        return "l2"


class LongTermStore:
    """A chromadb PersistentClient in `path` holding every agent's long-term memories."""

    def __init__(self, path: str | Path):
        import chromadb
        from chromadb.config import Settings

        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.client = chromadb.PersistentClient(path=str(self.path), settings=Settings(anonymized_telemetry=False))
        self.collection = self.client.get_or_create_collection(COLLECTION, embedding_function=MiniLMEmbedding(),
                                                               metadata={"hnsw:space": "l2"})

    def add(self, ids: list[str], texts: list[str], embeddings: np.ndarray, metadatas: list[dict]) -> None:
        if ids:
            self.collection.add(ids=ids, documents=texts, embeddings=np.asarray(embeddings, dtype=np.float32),
                                metadatas=metadatas)

    def delete(self, ids: list[str]) -> None:
        if ids:
            self.collection.delete(ids=ids)

    def agent_memories(self, agent_id: int) -> dict:
        """All of one agent's memories: ids, documents, metadatas and embeddings (numpy)."""
        got = self.collection.get(where={"agent_id": int(agent_id)}, include=["documents", "metadatas", "embeddings"])
        embeddings = got.get("embeddings")
        got["embeddings"] = np.asarray(embeddings if embeddings is not None else np.zeros((0, 384)), dtype=np.float32)
        return got

    def count(self) -> int:
        return self.collection.count()
