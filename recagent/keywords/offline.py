"""The offline keyword route: D_pos / D_neg extracted from the item's own text, no LLM.

How pros and cons are derived (also in the README):

1. Candidates. The item's title (year and article suffix removed) and free text (TMDB tagline and
   overview for MovieLens) are lower-cased and tokenised; English stop words split phrases;
   candidates are the remaining unigrams and adjacent bigrams, plurals folded by `fold`
   ("friends" -> "friend", "stories" -> "story", "witches" -> "witch"; "james", "series",
   "news", "boss", "physics" stay as they are). Only candidates that occur in at least
   `min_items` items and in at most `max_candidate_fraction` of them are kept: a keyword held by
   one item can never match another item's, and one held by everything tells nothing apart.
2. Ranking. Each candidate phrase (embedded once with the bundled MiniLM) is scored by cosine to
   the embedding of the whole item description (title, genres, text), KeyBERT style; the `top_k`
   best become the item's salient aspects.
3. Pros. D_pos = the salient aspects plus the item's genres: what the item offers and what
   draws its audience.
4. Cons. D_neg = the item's genres plus the salient aspects with negative valence: a phrase's
   valence is its cosine to a set of appealing anchor phrases minus its cosine to a set of
   off-putting anchor phrases (violence, gore, grief, boredom...), so "serial killer" or "war"
   is a con while "friendship" is not. Genres are in both sets because a genre is a reason to
   watch for its fans and a reason to skip for everyone else; whether it counts as a pro or a
   con for a user is decided by f_mat / f_sim from that user's liked and disliked history.
5. The paper's frequency filter runs last over the union (keywords held by fewer than
   `min_items` items or more than `max_fraction` of items are dropped).

If the dataset carries user tags or reviews they would feed D_pos (from users who rated the item
>= 3) and D_neg (from users who rated it lower); ML-100K has none, so this route uses item text.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Callable

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from ..data import Catalog
from .base import ItemKeywords, assign_categories, frequency_filter

# Part of every cache key over offline keywords: bump it whenever the extraction changes, so
# caches prepared by an older recagent are not served (2: the plural fold keeps "james", "series").
VERSION = 2

POSITIVE_ANCHORS = [
    "heartwarming", "funny comedy", "inspiring triumph", "beautiful romance", "exciting adventure",
    "friendship", "charming family fun", "uplifting", "clever and witty", "magical wonder",
]
NEGATIVE_ANCHORS = [
    "graphic violence", "gory horror", "disturbing", "depressing tragedy", "brutal murder",
    "war atrocities", "crude humour", "boring and slow", "drug addiction", "death and grief",
]
EXTRA_STOP = {"film", "movie", "story", "life", "man", "woman", "new", "year", "years", "time", "way",
              "world", "day", "make", "take", "find", "finds", "help", "begin", "begins", "get", "gets",
              "come", "comes", "tries", "try", "goes", "go", "just", "soon", "old", "young", "lives",
              "live", "turn", "turns", "discover", "discovers", "set", "end", "ends", "tell", "tells",
              "decide", "decides", "nan", "don", "doesn", "isn", "won", "ll", "ve", "does", "yes", "unless"}
STOP = set(ENGLISH_STOP_WORDS) | EXTRA_STOP
TOKEN = re.compile(r"[a-z][a-z'\-]*[a-z]|[a-z]")


def clean_title(title: str) -> str:
    """'Usual Suspects, The (1995)' -> 'usual suspects'."""
    t = re.sub(r"\(\d{4}\)\s*$", "", title).strip()
    t = re.sub(r",\s*(the|a|an|les|la|le|il|das|der|die)$", "", t, flags=re.I)
    return t.lower()


# Words ending in "s" that are not plurals (names, places, fields, mass nouns): left as they are.
NOT_PLURAL = frozenset("""
    james charles jones moses hughes holmes hermes hades achilles hercules socrates xerxes ramses andes wales
    rhodes mercedes agnes dolores angeles thomas douglas nicholas lucas midas judas jonas silas tobias elias
    texas vegas kansas arkansas dallas athens mars christmas atlas canvas alias bias alas pampas chaos cosmos
    pathos ethos eros kudos asbestos rhinoceros carlos marcos los series species rabies scabies diabetes herpes
    measles mumps news lens odds means clothes pants jeans trousers pajamas pyjamas whereabouts headquarters
    crossroads barracks gallows billiards nowadays backwards forwards upstairs downstairs indoors outdoors
    overseas sideways regardless corps summons microcosmos orleans jacques versailles flanders athos porthos
    pocahontas poppins dickens keats jules hobbes giles evans hayes keyes myers vargas addams hawkins simmons
    robbins buenos aires salinas phileas mohandas tomas amos cronos lars delores
""".split())
# Fields of study and the like: "physics" is not the plural of "physic"; other -ics words are plurals
# ("critics", "comics", "topics").
ICS_NOT_PLURAL = frozenset("""
    physics politics mathematics economics ethics athletics gymnastics aerobics aesthetics linguistics genetics
    electronics acoustics dynamics logistics robotics semantics ceramics graphics dramatics histrionics theatrics
    hysterics olympics heroics antics forensics tactics eugenics phonetics
""".split())
# Nouns ending in -ie: "movies" -> "movie" (not "movy").
IE_NOUNS = frozenset("""
    movie zombie cookie rookie calorie brownie prairie hoodie selfie auntie pixie genie goalie sortie hippie
    yuppie groupie boogie collie junkie newbie smoothie veggie bookie budgie indie beastie
""".split())
# Nouns ending in -i, whose plural ends in -is like a non-plural: "nazis" -> "nazi" (but "tennis" stays).
I_NOUNS = frozenset("nazi taxi israeli iraqi pakistani yeti martini bikini ski safari alibi kiwi".split())
# Nouns ending in -che: "headaches" -> "headache" (other -ches drop "es": "witches" -> "witch").
CHE_NOUNS = frozenset("ache headache heartache toothache backache niche cache moustache mustache avalanche "
                      "psyche cliche quiche creche panache".split())
# Nouns whose plural adds -es where the ending alone does not say so: "viruses" -> "virus", "heroes" -> "hero".
ES_NOUNS = frozenset("""
    virus bonus circus genius chorus campus octopus walrus bus census status fetus sinus apparatus hiatus
    syllabus platypus gas lens bias atlas canvas alias iris hero potato tomato echo volcano torpedo veto
    mosquito tornado domino buffalo cargo motto embargo desperado focus zero undergo forgo outdo
""".split())
IRREGULAR = {
    "wolves": "wolf", "werewolves": "werewolf", "elves": "elf", "dwarves": "dwarf", "knives": "knife",
    "wives": "wife", "housewives": "housewife", "thieves": "thief", "halves": "half", "shelves": "shelf",
    "loaves": "loaf", "hooves": "hoof", "scarves": "scarf", "calves": "calf", "quizzes": "quiz",
    **{w[:-2] + "es": w for w in "crisis analysis thesis hypothesis diagnosis oasis synopsis neurosis psychosis "
                                  "metamorphosis".split()},
}


def fold(word: str) -> str:
    """A plural fold so that 'friends' and 'friend' are one keyword, without mangling non-plurals.

    Rules, in order: a possessive 's is dropped; words of 3 letters or fewer and the NOT_PLURAL
    list ("james", "series", "news", "lens") stay; a few irregular plurals ("wolves" -> "wolf",
    "crises" -> "crisis"); a hyphenated word folds its last part ("b-movies" -> "b-movie"); -is
    after an -i noun drops the s ("nazis"), other -ss, -us, -is endings stay ("boss", "virus",
    "tennis"); -ics stays for fields ("physics"), else drops the s ("critics"); -ies becomes -ie
    for -ie nouns ("movies"), else -y ("stories"; 4 letters: "lies" -> "lie"); -ches drops "es"
    ("witches") unless the noun ends in -che ("headaches"); -sses, -xes, -shes, -zzes and -es
    after an ES_NOUNS base drop "es" ("classes", "boxes", "heroes", "viruses"); any other final
    s is dropped ("games" -> "game", "houses" -> "house").
    """
    word = word.strip("'-").removesuffix("'s")
    if len(word) <= 3 or not word.endswith("s") or word in NOT_PLURAL:
        return word
    if word in IRREGULAR:
        return IRREGULAR[word]
    head, hyphen, tail = word.rpartition("-")
    if hyphen and head:
        return f"{head}-{fold(tail)}"
    if word.endswith("is") and word[:-1] in I_NOUNS:
        return word[:-1]
    if word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ics"):
        return word if word in ICS_NOT_PLURAL else word[:-1]
    if word.endswith("ies"):
        if word[:-1] in IE_NOUNS or len(word) <= 4:
            return word[:-1]
        return word[:-3] + "y"
    if word.endswith("ches"):
        return word[:-1] if word[:-1] in CHE_NOUNS else word[:-2]
    if word.endswith(("sses", "xes", "shes", "zzes")) or (word.endswith("es") and word[:-2] in ES_NOUNS):
        return word[:-2]
    return word[:-1]


def candidates(text: str) -> list[str]:
    """Unigrams and adjacent bigrams of non-stop-word tokens, in order of appearance."""
    out: list[str] = []
    run: list[str] = []
    for raw in TOKEN.findall(text.lower()) + ["."]:
        word = fold(raw) if raw != "." else "."
        if word == "." or raw in STOP or word in STOP or len(word) < 3:
            run = []
            continue
        out.append(word)
        if run:
            out.append(f"{run[-1]} {word}")
        run.append(word)
    return out


def _item_document(catalog: Catalog, i: int) -> str:
    genres = ", ".join(catalog.item_genres(i))
    text = catalog.texts[i]
    return f"{clean_title(catalog.titles[i])}. {genres}. {text}".strip()


def extract_offline(catalog: Catalog, top_k: int = 8, min_items: int = 2, max_candidate_fraction: float = 0.05,
                    max_fraction: float = 0.25, embed_fn: Callable[[list[str]], np.ndarray] | None = None,
                    progress: Callable[[str, float], None] | None = None) -> tuple[ItemKeywords, dict[str, np.ndarray]]:
    """Distil every catalog item offline. Returns the keywords and the embedding of each keyword.

    `progress(stage, fraction)` is called as work advances (for the CLI's progress bar).
    """
    if embed_fn is None:
        from ..embeddings import embed as embed_fn
    report = progress or (lambda stage, frac: None)
    n = len(catalog)
    per_item = [list(dict.fromkeys(candidates(clean_title(catalog.titles[i]) + " . " + catalog.texts[i])))
                for i in range(n)]
    df = Counter(c for cs in per_item for c in cs)
    pool = sorted(c for c, k in df.items() if k >= min_items and k <= max(max_candidate_fraction * n, min_items))
    report("embedding candidate phrases", 0.1)
    pool_index = {c: k for k, c in enumerate(pool)}
    pool_vecs = embed_fn(pool) if pool else np.zeros((0, 384), dtype=np.float32)
    report("embedding item descriptions", 0.4)
    docs = embed_fn([_item_document(catalog, i) for i in range(n)])
    report("ranking key phrases", 0.8)
    anchors = embed_fn(POSITIVE_ANCHORS + NEGATIVE_ANCHORS)
    pos_anchor = anchors[: len(POSITIVE_ANCHORS)]
    neg_anchor = anchors[len(POSITIVE_ANCHORS):]
    valence = (pool_vecs @ pos_anchor.T).max(1) - (pool_vecs @ neg_anchor.T).max(1) if pool else np.zeros(0)

    genre_words = [g.lower() for g in catalog.genre_names]
    pos_lists, neg_lists = [], []
    for i in range(n):
        own = [pool_index[c] for c in per_item[i] if c in pool_index]
        genres = [genre_words[g] for g in np.flatnonzero(catalog.genres[i])] if catalog.genres.shape[1] else []
        if own:
            own_arr = np.array(own)
            scores = pool_vecs[own_arr] @ docs[i]
            best = own_arr[np.argsort(-scores, kind="stable")[:top_k]]
        else:
            best = np.zeros(0, dtype=np.int64)
        salient = [pool[k] for k in best]
        cons = [pool[k] for k in best if valence[k] < 0]
        pos_lists.append(list(dict.fromkeys(genres + salient)))
        neg_lists.append(list(dict.fromkeys(genres + cons)))
    pos_lists, neg_lists = frequency_filter(pos_lists, neg_lists, min_items=min_items, max_fraction=max_fraction)
    keywords = ItemKeywords(assign_categories(catalog), pos_lists, neg_lists, route="offline", meta={
        "top_k": top_k, "min_items": min_items, "max_candidate_fraction": max_candidate_fraction,
        "max_fraction": max_fraction, "candidate_pool": len(pool),
    })
    vocab = keywords.vocabulary()
    known = {c: pool_vecs[pool_index[c]] for c in vocab if c in pool_index}
    missing = [k for k in vocab if k not in known]
    if missing:
        known.update(zip(missing, embed_fn(missing)))
    report("done", 1.0)
    return keywords, known
