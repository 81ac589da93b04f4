"""Entity resolution: which stored entity, if any, a name from an extraction means.

Two steps. Normalization turns a name into a matching key: lowercase, punctuation and
hyphens to spaces, leading articles and possessive pronouns dropped ("the", "my"), a
generic trailing noun dropped ("race", "event"), and a proper-name qualifier dropped when a
name of two or more words remains ("Riverside half marathon race" -> "half marathon").
Then fuzzy matching (rapidfuzz's normalized Indel similarity, `fuzz.ratio`) against the
keys of the user's entities, accepting the best at or above the threshold: it absorbs
typos and plurals ("half marathons", "half marathn") but not a different word ("marathon"
against "half marathon" scores 76).

A qualifier is dropped only when what remains has two or more words: "Boston marathon" and
"marathon" stay apart, because a one-word remainder is too generic to be sure of. Names
must keep common words lowercase for the proper-name rule to hold; the extraction prompt
asks for that.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler

LEADING_WORDS = frozenset({"the", "a", "an", "my", "our", "your", "his", "her", "their", "this", "that"})
GENERIC_TAIL = frozenset({"race", "event", "competition", "challenge"})
_SEPARATORS = re.compile(r"[^\w]+|_")
_POSSESSIVE = re.compile(r"['\u2019]s\b")


def _tokens(name: str) -> list[str]:
    """The name's words in their original case, punctuation gone."""
    return _SEPARATORS.sub(" ", _POSSESSIVE.sub("", name)).split()


def _is_proper(word: str) -> bool:
    return word[:1].isupper()


def match_key(name: str) -> str:
    """The key a name is matched by (see the module docstring); never empty for a non-blank name."""
    words = _tokens(name)
    while len(words) > 1 and words[0].lower() in LEADING_WORDS:
        words = words[1:]
    if len(words) > 1 and words[-1].lower() in GENERIC_TAIL:
        words = words[:-1]
    common = [w for w in words if not _is_proper(w)]
    if len(common) >= 2:
        words = common
    key = " ".join(w.lower() for w in words)
    return key or name.strip().lower()


def best_match(key: str, candidates: Mapping[int, str], threshold: float) -> int | None:
    """The candidate (by its index) whose key is most similar to `key`, if any reaches `threshold` (0-100)."""
    if not candidates:
        return None
    found = process.extractOne(key, candidates, scorer=fuzz.ratio, score_cutoff=threshold)
    return found[2] if found else None


# Names that mean the same place or person whatever their spelling: what spelling alone
# cannot see. The LLM provider's extraction is asked to name entities as the user does;
# this table is the offline floor under both.
ALIASES = {
    "nyc": "new york",
    "new york city": "new york",
    "ny": "new york",
    "la": "los angeles",
    "sf": "san francisco",
    "uk": "united kingdom",
    "britain": "united kingdom",
    "us": "united states",
    "usa": "united states",
    "mum": "mother",
    "mom": "mother",
    "mommy": "mother",
    "dad": "father",
    "daddy": "father",
}
PERSON_SIMILARITY = 0.9  # Jaro-Winkler: Sara/Sarah 0.96, Jon/John 0.93, Tom/Tim 0.80, Mark/Mike 0.67


def canonical_key(key: str) -> str:
    return ALIASES.get(key, key)


def resolve_name(key: str, kind: str, candidates: Mapping[int, tuple[str, str]], threshold: float) -> tuple[int, str] | None:
    """Which candidate (index -> (key, kind)) a name with `key` and `kind` means, and why; None: a new entity.

    In order: the same key (or the same through the alias table: "NYC" is "New York");
    spelling (`best_match` at `threshold`, any kind: typos and plurals); and for a person's
    one-word name, a close spelling among people only ("Sara" is "Sarah"), because short
    names sit below the spelling threshold while a kind and a first letter in common make
    the match safe."""
    # The same key first, before the alias table: after a user split "New York" from "NYC",
    # "New York" is the entity of its own name, not NYC's again through the table.
    for index, (other, _) in candidates.items():
        if other == key:
            return index, "the same name"
    wanted = canonical_key(key)
    for index, (other, _) in candidates.items():
        if canonical_key(other) == wanted:
            return index, f"known alias ({key} = {other})"
    spelled = best_match(key, {i: k for i, (k, _) in candidates.items()}, threshold)
    if spelled is not None:
        return spelled, f"spelling {fuzz.ratio(key, candidates[spelled][0]):.0f} >= {threshold:.0f}"
    if kind == "person" and " " not in key:
        people = [
            (JaroWinkler.similarity(key, k), i)
            for i, (k, other_kind) in candidates.items()
            if other_kind == "person" and " " not in k and k[:1] == key[:1]
        ]
        if people and (best := max(people))[0] >= PERSON_SIMILARITY:
            return best[1], f"a person's name spelled alike (Jaro-Winkler {best[0]:.2f})"
    return None
