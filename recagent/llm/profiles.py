"""Lusifer taste profiles: an LLM summary of each user's taste, built from their ratings in batches.

As in Lusifer (Ebrat & Rueda), the first batch of ratings creates the profile and every later
batch updates it (the model also says in one line what changed). All users' batch k go out as one
concurrent wave, so n users with m batches cost m waves of n calls; replies are cached, so a
re-run costs nothing. Without an LLM (offline backend, or a call that failed after its retries)
the profile is a template built from the same ratings and says so.
"""

from __future__ import annotations

from collections import Counter

from .backend import LanguageBackend, Task
from .prompts import render_profile

Rating = tuple[str, str, float]  # (title, genres joined by ", ", rating 1-5)


def offline_profile(ratings: list[Rating]) -> str:
    """A template profile (offline): liked and disliked genres, how generously the user rates."""
    if not ratings:
        return "(offline profile) no ratings yet"
    liked, disliked = Counter(), Counter()
    for _, genres, r in ratings:
        for g in filter(None, (x.strip() for x in genres.split(","))):
            (liked if r >= 4 else disliked if r <= 2 else Counter())[g] += 1
    mean = sum(r for _, _, r in ratings) / len(ratings)
    style = "rates generously" if mean >= 3.8 else "rates harshly" if mean <= 2.8 else "rates in a balanced way"
    likes = ", ".join(g for g, _ in liked.most_common(3)) or "nothing in particular"
    dislikes = ", ".join(g for g, _ in disliked.most_common(2)) or "nothing in particular"
    return f"(offline profile) enjoys {likes}; dislikes {dislikes}; {style} (mean {mean:.1f} over {len(ratings)} ratings)"


def build_profiles(backend: LanguageBackend, histories: dict, batch: int = 20, last_n: int = 40,
                   previous: dict | None = None) -> dict:
    """Profiles for each key of `histories` (a list of Ratings, oldest first), batch by batch.

    Uses each user's last `last_n` ratings; with `previous` profiles, the ratings update them.
    """
    profiles = dict(previous or {})
    chunks = {k: [h[-last_n:][i:i + batch] for i in range(0, len(h[-last_n:]), batch)] for k, h in histories.items()}
    seen = {k: [] for k in histories}
    rounds = max((len(c) for c in chunks.values()), default=0)
    for r in range(rounds):
        keys = [k for k in histories if r < len(chunks[k])]
        tasks = []
        for k in keys:
            seen[k] = seen[k] + chunks[k][r]
            tasks.append(Task("profile", render_profile(profiles.get(k, ""), chunks[k][r]),
                              (lambda so_far=list(seen[k]): (offline_profile(so_far), None))))
        for k, reply in zip(keys, backend.run_tasks(tasks)):
            profiles[k] = reply.text
    return profiles
