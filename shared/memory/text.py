"""Words as recall compares them: a message and a memory match when they share stems.

NFKC first (fullwidth letters and ligatures become plain ones), then case folding, then
the letters-and-digits runs of the text. Stop words go (they match everything), the rest
are reduced to their Snowball (Porter 2) stems, so "running", "runs" and "ran"... at least
the first two meet, and "weddings" meets "wedding". Stemming is what a lexical ranker can
do for meaning without a model; embeddings (shared/memory/embeddings.py) are the option
that goes further.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[^\W_]+")
_STEMMER = snowballstemmer.stemmer("english")

# English function words: they carry no topic, and a question is full of them.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing done down during each even ever
    few for from further get gets got had has have having he her here hers herself him himself his
    how i if in into is it its itself just let like ll me mine more most much must my myself no nor
    not now of off on once only or other ought our ours ourselves out over own re really s same
    shall she should so some still such t than that the their theirs them themselves then there these
    they this those through to too under until up us ve very was we were what when where which while
    who whom whose why will with would yes yet you your yours yourself yourselves
    anything something thing things tell told say said remember recall mention mentioned know""".split()
)


# Bump when `terms` changes (the stop words, the stemmer, the word pattern): memories keep
# the stems of their words with the version that made them (shared/store/memories.py), and
# stems of another version are computed again rather than trusted.
TERMS_VERSION = 1


def words(text: str) -> list[str]:
    """The text's words, normalised (NFKC, case-folded), in order, stop words kept."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


def terms(text: str) -> list[str]:
    """The stems recall indexes and queries by, in order, repeats kept (BM25 counts them)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


def term_counts(text: str) -> Counter[str]:
    return Counter(terms(text))


def phrases(text: str, longest: int = 3) -> set[str]:
    """Every run of 1 to `longest` words, as entity names are looked up by ("new york")."""
    ws = words(text)
    return {" ".join(ws[i : i + n]) for n in range(1, longest + 1) for i in range(len(ws) - n + 1)}


def name_key(name: str) -> str:
    """How an entity's name or alias is looked up: its words, normalised, one space apart."""
    return " ".join(words(name))
