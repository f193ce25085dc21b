"""RecAgent memory: sensory filter, short-term reinforcement and promotion, reflection trigger,
forgetting, retrieval ranking, and persistence in a real chromadb across a reopen."""

from __future__ import annotations

import zlib

import numpy as np

from recagent.llm import ScriptedChatModel, make_backend
from recagent.memory import LongTermStore, MemorySystem, heuristic_importance, load_agent_memories
from recagent.scenario import LLMSpec, MemorySpec


def hash_embed(texts):
    """A cheap stand-in embedder for tests that do not depend on meaning: unit vectors from a hash."""
    out = np.stack([np.random.default_rng(zlib.crc32(t.encode())).normal(size=384) for t in texts]) \
        if texts else np.zeros((0, 384))
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def test_sensory_threshold_keeps_only_important_observations():
    memory = MemorySystem(MemorySpec(forgetting=0), embed_fn=hash_embed)
    memory.observe(0, "I chatted with Bob about Alien", "chat")  # 8 -> 0.72 kept
    memory.observe(0, "Carol posted about Heat", "hear_post")  # 5 -> 0.45 dropped
    memory.observe(0, "I watched Heat and rated it 3/5", "watch", heuristic_importance("watch", 3))  # 4 dropped
    memory.observe(0, "I watched Alien and rated it 5/5", "watch", heuristic_importance("watch", 5))  # 7 kept
    stats = memory.end_step(now=1.0, step=0)
    assert (stats.observed, stats.kept) == (4, 2)
    assert [e.text for e in memory.short[0]] == ["I chatted with Bob about Alien", "I watched Alien and rated it 5/5"]


def test_similar_observations_reinforce_and_are_promoted_with_real_minilm():
    memory = MemorySystem(MemorySpec(forgetting=0, promote_after=3), embed_fn=None)
    for step in range(4):
        memory.observe(1, "Bob told me that Star Wars is a great space adventure", "hear_chat")
        memory.observe(1, ["My cat knocked a glass off the kitchen table", "The stock market fell sharply today",
                           "I repaired the bicycle's flat tyre", "It snowed heavily in the mountains"][step], "chat")
        memory.end_step(now=float(step), step=step)
    assert memory.totals.reinforced == 3
    assert memory.totals.promoted == 1
    [promoted] = [e for e in memory.long[1] if "keeps coming up" in e.text]
    assert promoted.count == 4 and promoted.importance == 9.0
    assert not any("Star Wars" in e.text for e in memory.short[1])


def test_short_term_overflow_moves_oldest_to_long_term():
    memory = MemorySystem(MemorySpec(forgetting=0, short_term_capacity=3, reinforce_similarity=0.99),
                          embed_fn=hash_embed)
    for n in range(5):
        memory.observe(2, f"memory {n}", "chat")
    memory.end_step(now=0.0, step=0)
    assert [e.text for e in memory.short[2]] == ["memory 2", "memory 3", "memory 4"]
    assert [e.text for e in memory.long[2]] == ["memory 0", "memory 1"]


def test_reflection_triggers_when_importance_passes_threshold():
    memory = MemorySystem(MemorySpec(forgetting=0, short_term_capacity=1, reflection_threshold=20),
                          embed_fn=hash_embed, who=lambda a: ("Ann", "a teacher"))
    for n in range(3):  # each overflow moves one chat (importance 8) to long-term: 8, 16 -> no reflection yet
        memory.observe(3, f"chat {n}", "chat")
    stats = memory.end_step(now=0.0, step=0)
    assert stats.reflections == 0 and memory.since_reflection[3] == 16
    memory.observe(3, "chat 3", "chat")
    stats = memory.end_step(now=1.0, step=1)  # 24 > 20
    assert stats.reflections == 1 and memory.since_reflection[3] == 0
    assert memory.long[3][-1].text.startswith("Reflection: Looking back") and memory.long[3][-1].importance == 8


def test_reflection_uses_the_llm_when_configured():
    backend = make_backend(LLMSpec(provider="fake", cache=False), model=ScriptedChatModel(
        script=['{"insights": ["I like talking about films with Bob."]}']))
    memory = MemorySystem(MemorySpec(forgetting=0, short_term_capacity=1, reflection_threshold=5),
                          embed_fn=hash_embed, backend=backend)
    memory.observe(4, "chat a", "chat")
    memory.observe(4, "chat b", "chat")
    memory.end_step(now=0.0, step=0)
    backend.close()
    assert memory.long[4][-1].text == "Reflection: I like talking about films with Bob."
    assert backend.usage.calls_by_kind == {"reflection": 1}


def test_llm_importance_is_batched_twenty_per_call():
    backend = make_backend(LLMSpec(provider="fake", cache=False))
    memory = MemorySystem(MemorySpec(importance="llm", forgetting=0), embed_fn=hash_embed, backend=backend)
    for n in range(45):
        memory.observe(n % 5, f"observation {n}", "chat")
    memory.end_step(now=0.0, step=0)
    backend.close()
    assert backend.usage.calls_by_kind == {"importance": 3}
    assert memory.totals.observed == 45 and 0 < memory.totals.kept < 45  # scores 1-10 from the model


def test_forgetting_spares_recent_and_drops_old_unimportant_memories():
    memory = MemorySystem(MemorySpec(forgetting=1.0, short_term_capacity=1, reflection_threshold=1e9),
                          embed_fn=hash_embed)
    for n in range(201):
        memory.observe(n % 2, f"m{n}", "chat", importance=7.0)
    memory.end_step(now=0.0, step=0)
    assert memory.totals.forgotten == 0
    memory.end_step(now=10.0, step=1)
    assert memory.totals.forgotten == 0  # under 24 h old: exempt
    n_before = sum(len(v) for v in memory.long.values())
    memory.end_step(now=100.0, step=2)
    # p = 1 - (0.99**100 + 0.7) / 2 = 0.466
    share = memory.totals.forgotten / n_before
    assert 0.35 < share < 0.58


def test_retrieval_ranks_by_relevance_importance_and_recency():
    memory = MemorySystem(MemorySpec(forgetting=0, short_term_capacity=1, retrieve_k=2), embed_fn=None)
    texts = ["I watched a terrifying horror film full of ghosts", "I enjoyed a sweet romantic comedy",
             "I cooked a vegetable soup", "Bob and I argued about football", "latest"]
    for t in texts:
        memory.observe(5, t, "chat")
    memory.end_step(now=0.0, step=0)
    [ranked] = memory.retrieve_many([5], ["a scary ghost movie"], now=1.0)
    assert ranked[0] == texts[0]
    assert ranked[-1] == "latest"  # short-term memories always come along
    entries, scores = memory.score(5, memory.embed(["a scary ghost movie"])[0], now=1.0)
    assert scores.argmax() == 0
    # importance breaks ties between equally relevant memories; recency decays with hours since access
    entries[1].importance, entries[2].importance = 10.0, 1.0
    _, s2 = memory.score(5, memory.embed(["dinner"])[0], now=1.0)
    assert s2[1] - s2[2] > 0.9 - 0.5
    assert memory.score(5, memory.embed(["x"])[0], now=200.0)[1].max() < scores.max()


def test_long_term_memory_persists_in_chromadb_across_reopen(tmp_path):
    store = LongTermStore(tmp_path / "memory")
    memory = MemorySystem(MemorySpec(forgetting=0, short_term_capacity=1), store=store, embed_fn=None)
    for agent in (7, 8):
        for t in ("I loved Casablanca", "Ann told me about Vertigo", "I posted about Psycho"):
            memory.observe(agent, f"{t} (agent {agent})", "chat")
    memory.end_step(now=3.0, step=0)
    assert memory.persist_short_term() == 2
    del memory, store

    reopened = LongTermStore(tmp_path / "memory")
    assert reopened.count() == 6
    entries = load_agent_memories(reopened, 7)
    assert [e.text for e in entries] == [f"{t} (agent 7)" for t in ("I loved Casablanca", "Ann told me about Vertigo",
                                                                     "I posted about Psycho")]
    assert entries[0].embedding.shape == (384,) and entries[0].importance == 8.0
    # chromadb's own query uses our MiniLM embedding function (no download)
    hit = reopened.collection.query(query_texts=["Hitchcock's Vertigo"], n_results=1, where={"agent_id": 8})
    assert hit["documents"][0][0] == "Ann told me about Vertigo (agent 8)"
