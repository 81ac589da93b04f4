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
