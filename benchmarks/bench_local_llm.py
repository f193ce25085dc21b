"""Real local models (llm.provider: local): reply quality per act kind, speed, and a whole run.

Needs the local extra (llama-cpp-python and the model packages); see docs/llm.md, "Local models".

quality: per act kind (chat, post, feeling, interview, profile, rating) and model, N acts built from
  varied personas and films, each sent through the backend as a run sends it (its prompt, its JSON
  schema, the grammar), one retry as a run does:
  - parse rate: calls whose reply parsed into the act's schema;
  - fallback share: acts that ended on the offline text after the retry;
  - copied share: replies that copy the prompt instead of writing: an angle-bracket placeholder
    (`<line>`), a field that repeats a format hint ("the post", "one sentence"), or 6 words in a row
    taken from the prompt (the film's title is left out of that count: saying it is not copying);
  - mean length in words; persona words: replies using at least one word of the speaker's persona
    (occupation, favourite genres; 4+ letters).
speed: tokens/s and acts/s of post acts in process and through `python -m llama_cpp.server` on
  127.0.0.1 (a free port), with 1 and 4 acts in flight, per-act latency (median, p90), parse rate.
run: the 100-agent 5-step quickstart_local_llm with memory on: wall time, the share of it spent
  generating in llama.cpp, acts, fallback share.
rating: the LLM rating route (feedback.model: llm_rating, Lusifer) on the real model, on a subsample
  of ML-100K fold u1's test ratings (--users users x --per-user ratings each; every rating is one
  call, every profile two, so the whole fold would take hours): AUC (like = rating >= 3) and RMSE
  beside bias and mf on the same subsample, and the ensemble's committed full-fold figures
  (benchmarks/results/feedback_ml100k.json).

    python benchmarks/bench_local_llm.py quality [--models smollm2-135m,gemma3-270m] [--kinds chat,post,...] [--n 8]
    python benchmarks/bench_local_llm.py speed [--model smollm2-135m] [--n 24] [--threads 2]
    python benchmarks/bench_local_llm.py run [--model smollm2-135m] [--agents 100] [--steps 5]
    python benchmarks/bench_local_llm.py rating [--model smollm2-135m] [--users 20] [--per-user 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recagent.llm import SpeechRequest, make_backend  # noqa: E402
from recagent.llm.backend import Task  # noqa: E402
from recagent.llm.local import LocalPoster, model_file  # noqa: E402
from recagent.llm.prompts import render, render_profile, render_rating  # noqa: E402
from recagent.scenario import LLMSpec  # noqa: E402

PEOPLE = [  # (name, age, gender, occupation, favourite genres, roles)
    ("Liam Chen", 23, "male", "writer", ["Sci-Fi", "Action"], "Critic"),
    ("Yara Okafor", 56, "female", "nurse", ["Drama", "Romance"], "Chatter"),
    ("Ava Kowalski", 37, "female", "engineer", ["Thriller", "Crime"], "Poster"),
    ("Mateo Silva", 19, "male", "student", ["Comedy", "Animation"], "Explorer"),
    ("Hana Sato", 44, "female", "librarian", ["Mystery", "Documentary"], "Watcher"),
    ("Omar Haddad", 62, "male", "farmer", ["Western", "War"], "Critic"),
    ("Ines Moreau", 29, "female", "chef", ["Musical", "Fantasy"], "Chatter"),
    ("Kofi Mensah", 51, "male", "lawyer", ["Horror", "Film-Noir"], "Poster"),
]
FILMS = [("Heat (1995)", ["Action", "Crime", "Thriller"]), ("Amelie (2001)", ["Comedy", "Romance"]),
         ("Alien (1979)", ["Horror", "Sci-Fi"]), ("Fargo (1996)", ["Crime", "Drama", "Thriller"]),
         ("Toy Story (1995)", ["Animation", "Comedy"]), ("Unforgiven (1992)", ["Western", "Drama"]),
         ("Vertigo (1958)", ["Mystery", "Thriller"]), ("Chicago (2002)", ["Musical", "Crime"])]
QUESTIONS = ["What kind of films do you enjoy most, and why?", "Would you recommend the last film you saw?",
             "How do you usually choose what to watch?", "Do your friends change what you watch?"]
# phrases of the format hints recagent's prompts carried (before issue 23) or carry now: a reply field
# that is only one of these copied the hint instead of writing one
HINTS = {"the post", "one sentence", "one word", "your answer", "the profile", "what changed", "insight", "line",
         "reply", "name", "friend", "title", "post", "answer", "text", "feeling", "emotion"}
STOP = {"with", "that", "this", "from", "movie", "movies", "film", "films", "enjoys", "likes", "year"}
KINDS = ("chat", "post", "feeling", "interview", "profile", "rating")


def persona_line(p) -> str:
    name, age, gender, occupation, genres, role = p
    return f"{age}-year-old {gender} {occupation}; enjoys {', '.join(genres)}; a {role}"


def tasks_for(kind: str, n: int) -> list[tuple[Task | SpeechRequest, str]]:
    """n acts of `kind`, each with the persona text whose words count as used."""
    out = []
    for k in range(n):
        p, q = PEOPLE[k % len(PEOPLE)], PEOPLE[(k + 3) % len(PEOPLE)]
        title, genres = FILMS[(k * 3) % len(FILMS)]
        rating = [5, 2, 4, 1, 3][k % 5]
        sentiment = "liked" if rating >= 4 else "disliked" if rating <= 2 else "neutral"
        reasons = [g for g in genres if g in p[4]] or genres
        ratings = [(FILMS[(k + j) % len(FILMS)][0], "|".join(FILMS[(k + j) % len(FILMS)][1]),
                    float([5, 4, 2, 3, 1][(k + j) % 5])) for j in range(1, 5)]
        if kind in ("chat", "post", "feeling", "interview"):
            out.append((SpeechRequest(kind=kind, speaker=p[0], persona=persona_line(p), item_title=title,
                                      item_genres=genres, reasons=reasons, sentiment=sentiment, rating=rating,
                                      listener=q[0] if kind == "chat" else None,
                                      memories=[f"watched {FILMS[(k + 1) % len(FILMS)][0]}"] if k % 2 else [],
                                      question=QUESTIONS[k % len(QUESTIONS)] if kind == "interview" else None,
                                      key=str(k)), persona_line(p)))
        elif kind == "profile":
            out.append((Task("profile", render_profile("", ratings), lambda: ("", None)), ""))
        else:
            out.append((Task("rating", render_rating(f"enjoys {', '.join(p[4])}", ratings, title, "|".join(genres)),
                             lambda: ("3", None)), ""))
    return out


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def copied(reply, prompt: str, title: str) -> bool:
    text = reply.text
    if re.search(r"<[a-z_ ]{1,20}>", text):
        return True
    data = reply.data.model_dump() if reply.data is not None else {}
    fields = [v for v in data.values() if isinstance(v, str)]
    fields += [t["text"] for t in data.get("turns", [])]
    if any(f.strip(" .<>\"'").lower() in HINTS for f in fields if f.strip()):
        return True
    seen = words(prompt.replace(title, " "))
    grams = {tuple(seen[i:i + 6]) for i in range(len(seen) - 5)}
    said = words(text.replace(title, " "))
    return any(tuple(said[i:i + 6]) in grams for i in range(len(said) - 5))


def quality(models: list[str], kinds: list[str], n: int, threads: int) -> None:
    print(f"{'model':14} {'kind':10} {'parse':>6} {'fallback':>8} {'copied':>7} {'words':>6} {'persona':>7}  example")
    for name in models:
        for kind in kinds:
            spec = LLMSpec(provider="local", model=name, threads=threads, max_retries=1, backoff=0, cache=False,
                           max_tokens=200, timeout=60, memory={"enabled": False})
            backend = make_backend(spec)
            acts = tasks_for(kind, n)
            if kind in ("profile", "rating"):
                replies = backend.run_tasks([t for t, _ in acts])
                prompts = ["\n".join(m.content for m in t.messages) for t, _ in acts]
            else:
                replies = backend.respond_many([r for r, _ in acts])
                prompts = ["\n".join(m.content for m in render(r)) for r, _ in acts]
            u = backend.usage
            backend.close()
            titles = [a.item_title if isinstance(a, SpeechRequest) else "\x00" for a, _ in acts]
            good = [(r, p, t, pers) for r, p, t, (_, pers) in zip(replies, prompts, titles, acts) if r.source == "llm"]
            parse = 1 - u.parse_failures / max(u.calls, 1)
            fallback = sum(r.source != "llm" for r in replies) / len(replies)
            copy = sum(copied(r, p, t) for r, p, t, _ in good) / max(len(good), 1)
            length = statistics.mean(len(words(r.text)) for r, *_ in good) if good else 0.0
            used = ([any(w in set(words(r.text)) for w in words(pers) if len(w) >= 4 and w not in STOP)
                     for r, _, _, pers in good if pers])
            persona = f"{sum(used) / len(used):.0%}" if used else "-"
            example = (good[0][0].text if good else replies[0].error or "").replace("\n", " | ")[:90]
            print(f"{name:14} {kind:10} {parse:6.0%} {fallback:8.0%} {copy:7.0%} {length:6.1f} {persona:>7}  {example}",
                  flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(path: Path, alias: str, threads: int):
    """`python -m llama_cpp.server` on 127.0.0.1, a free port; (process, base URL) once it answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--model_alias", alias,
                             "--host", "127.0.0.1", "--port", str(port), "--n_threads", str(threads), "--n_ctx", "2048"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/models", timeout=2).read()
            return proc, url
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("llama_cpp.server exited; is the local extra installed?") from None
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("llama_cpp.server did not answer within 60 s")


def post_requests(n: int, offset: int = 0) -> list[SpeechRequest]:
    return [r for r, _ in tasks_for("post", n + offset)][offset:]


def timed_wave(backend, n: int, in_flight: int, offset: int) -> str:
    requests = post_requests(n, offset)
    latencies = []

    def one(r):
        started = time.perf_counter()
        [reply] = backend.respond_many([r])
        latencies.append(time.perf_counter() - started)
        return reply

    before = backend.usage.completion_tokens
    started = time.perf_counter()
    if in_flight == 1:
        replies = [one(r) for r in requests]
    else:
        replies = backend.respond_many(requests)  # one wave: max_concurrency calls in flight
    wall = time.perf_counter() - started
    tokens = backend.usage.completion_tokens - before
    valid = sum(r.source == "llm" for r in replies) / len(replies)
    lat = (f"latency median {statistics.median(latencies):.2f} s, p90 {sorted(latencies)[int(0.9 * len(latencies))]:.2f} s"
           if latencies else f"mean {wall / n:.2f} s per act")
    return (f"{n / wall:5.2f} acts/s, {tokens / wall:6.1f} completion tokens/s, {valid:.0%} valid, {lat}")


def speed(name: str, n: int, threads: int) -> None:
    path = model_file(name)
    for in_flight in (1, 4):
        backend = make_backend(LLMSpec(provider="local", model=name, threads=threads, max_concurrency=in_flight,
                                       max_retries=1, backoff=0, cache=False, max_tokens=200, timeout=60,
                                       memory={"enabled": False}))
        backend.respond_many(post_requests(1))  # load and warm the model
        print(f"{name} in process, {in_flight} in flight: {timed_wave(backend, n, in_flight, 1)}", flush=True)
        backend.close()
    proc, url = start_server(path, name, threads)
    try:
        for in_flight in (1, 4):
            backend = make_backend(LLMSpec(provider="openai", base_url=url, model=name, max_concurrency=in_flight,
                                           max_retries=1, backoff=0, cache=False, max_tokens=200, timeout=60,
                                           memory={"enabled": False}))
            backend.respond_many(post_requests(1))
            print(f"{name} via llama_cpp.server, {in_flight} in flight: {timed_wave(backend, n, in_flight, 1)}",
                  flush=True)
            backend.close()
    finally:
        proc.terminate()
        proc.wait(10)


def whole_run(name: str, agents: int, steps: int, threads: int) -> None:
    from recagent.simulation import run_scenario

    data = yaml.safe_load((ROOT / "scenarios" / "quickstart_local_llm.yaml").read_text())
    data["dataset"].update(users=agents, items=max(120, 3 * agents))
    data["agents"]["count"] = agents
    data["llm"].update(model=name, threads=threads, memory={"enabled": True})
    data["simulation"]["steps"] = steps
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.yaml"
        path.write_text(yaml.safe_dump(data))
        busy = LocalPoster.total_busy_s
        started = time.perf_counter()
        result = run_scenario(path, out=Path(tmp) / "run", progress=False)
        wall = time.perf_counter() - started
        llm = result.info["llm"]
        status = json.loads((Path(tmp) / "run" / "run.json").read_text())["status"]
    generating = LocalPoster.total_busy_s - busy
    print(f"{agents} agents, {steps} steps, memory on, {name}: {status}, wall {wall:.1f} s, of which generating "
          f"in llama.cpp {generating:.1f} s ({generating / wall:.0%}); {llm['acts']} LLM acts, {llm['calls']} calls "
          f"by kind {json.dumps(llm['calls_by_kind'])}, fallbacks {llm['fallbacks']} "
          f"({llm['fallbacks'] / max(llm['acts'], 1):.1%})")


def rating_route(name: str, users: int, per_user: int, threads: int) -> None:
    import numpy as np

    from recagent.data import History
    from recagent.eval.fidelity import load_splits, score_metrics
    from recagent.feedback.bias import BiasFeedback
    from recagent.feedback.llm_rating import LLMRatingFeedback
    from recagent.feedback.mf import MatrixFactorization

    data = ROOT.parent / "shared" / "data" / "ml-100k"
    _, [split] = load_splits("ml100k", data, folds=[1])
    history = History.from_interactions(split.train, split.n_users)
    test = split.test
    rng = np.random.default_rng(0)
    chosen = rng.choice(np.unique(test.users), users, replace=False)
    rows = np.concatenate([rng.permutation(np.flatnonzero(test.users == u))[:per_user] for u in chosen])
    u, i, r = test.users[rows], test.items[rows], test.ratings[rows]
    backend = make_backend(LLMSpec(provider="local", model=name, threads=threads, max_retries=1, backoff=0,
                                   cache=False, max_tokens=200, timeout=60, memory={"enabled": False}))
    llm = LLMRatingFeedback().fit(split.catalog, split.train)
    llm.attach_backend(backend)
    started = time.perf_counter()
    pred = llm.predict_rating(u, i, history)
    wall = time.perf_counter() - started
    sources = [llm.sources[k] for k in zip(u.tolist(), i.tolist(), history.lengths(u).tolist())]
    backend.close()
    rows_out = {"llm_rating": score_metrics(r, pred, pred >= 3.5, pred)}
    for label, model in (("bias", BiasFeedback()), ("mf", MatrixFactorization(seed=0))):
        model.fit(split.catalog, split.train)
        p = model.predict_proba(u, i, history)
        rows_out[label] = score_metrics(r, p, p >= 0.5, model.predict_rating(u, i, history))
    print(f"ML-100K u1, {len(rows)} test ratings of {users} users ({per_user} each), {name}: "
          f"{wall:.0f} s, {sum(s == 'llm' for s in sources)}/{len(sources)} ratings from the model, "
          f"predicted ratings {dict(zip(*np.unique(pred.round(), return_counts=True)))}")
    for label, m in rows_out.items():
        print(f"  {label:10} AUC {m['auc']:.3f}  RMSE {m['rmse']:.3f}  MAE {m['mae']:.3f}")
    committed = ROOT / "benchmarks" / "results" / "feedback_ml100k.json"
    if committed.exists():
        u1 = json.loads(committed.read_text())["splits"][0]["models"]
        print(f"  ensemble (soft), whole fold u1, committed: AUC {u1['soft']['auc']:.3f}  RMSE {u1['soft']['rmse']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("quality", "speed", "run", "rating"))
    parser.add_argument("--models", default="smollm2-135m,gemma3-270m")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--per-user", type=int, default=5)
    args = parser.parse_args()
    from recagent.llm.local import default_threads

    args.threads = args.threads or default_threads()
    print(f"{os.cpu_count()} CPUs, {args.threads} llama.cpp threads, load average {os.getloadavg()[0]:.1f}")
    if args.what == "quality":
        quality(args.models.split(","), args.kinds.split(","), args.n, args.threads)
    elif args.what == "speed":
        speed(args.model, args.n, args.threads)
    elif args.what == "run":
        whole_run(args.model, args.agents, args.steps, args.threads)
    else:
        rating_route(args.model, args.users, args.per_user, args.threads)


if __name__ == "__main__":
    main()
