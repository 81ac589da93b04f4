"""Which of the other names the LLM gives an entity are taken as its aliases.

The extraction tool lets the model list, per entity, the other names the user used for it
in the session ("NYC" for New York, "Jen" for Jennifer): what spelling and the offline
alias table cannot see. What the model says is a claim to check, not a fact: a model can
be wrong, a user's words can try to steer it, and a schema-following stub fills any string
list with whatever the request holds. So an alias is taken only when

- it looks like a name: at most `MAX_WORDS` words and `MAX_CHARS` characters, not only
  function words ("him", "that one");
- it differs from the entity's own name (by matching key: "the Sarah" is "Sarah");
- the user said it: its words occur, in order and whole, in the user's lines of the session;
- the answer does not contradict itself: the alias is not another entity of the same
  answer, nor claimed by two of its entities;

and at most `MAX_PER_ENTITY` of them per entity. What the user's graph already holds is
checked where the aliases are resolved (shared/store/entities.py): an alias that already
names another of the user's entities, of any kind, never joins it to this one, so two
entities the user has stay two, and a name the user split off stays apart.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.memory.entity_resolution import match_key
from shared.memory.text import name_key, terms
from shared.models import ExtractedEntity

MAX_WORDS = 4  # "New York City", "Aunt Mary Ellen": a name, not a sentence
MAX_CHARS = 40
MAX_PER_ENTITY = 3


def looks_like_a_name(alias: str) -> bool:
    """Short, and more than function words: "him" or "that one" would link every message that says them."""
    words = alias.split()
    return 0 < len(words) <= MAX_WORDS and len(alias) <= MAX_CHARS and bool(terms(alias))


def said_in(alias: str, spoken: str) -> bool:
    """Whether the alias's words occur, in order and as whole words, in `spoken` (`spoken_words` of
    the text: any case, any punctuation)."""
    wanted = name_key(alias)
    return bool(wanted) and f" {wanted} " in spoken


def spoken_words(user_text: str) -> str:
    return f" {name_key(user_text)} "


def accepted(named: Sequence[ExtractedEntity], user_text: str) -> dict[str, list[str]]:
    """Entity name -> the aliases the model gave it that pass every check above (see the module docstring)."""
    own_names = {match_key(e.name) for e in named}
    spoken = spoken_words(user_text)
    offered = [
        (entity.name, alias.strip(), match_key(alias))
        for entity in named
        for alias in dict.fromkeys(a.strip() for a in entity.aliases)
        if looks_like_a_name(alias.strip())
    ]
    claimants: dict[str, set[str]] = {}
    for name, _, key in offered:
        claimants.setdefault(key, set()).add(name)
    taken: dict[str, list[str]] = {}
    for name, alias, key in offered:
        kept = taken.setdefault(name, [])
        if (
            key in own_names  # the entity itself, or another entity of this answer
            or len(claimants[key]) > 1  # two entities claim it
            or key in (match_key(a) for a in kept)
            or len(kept) >= MAX_PER_ENTITY
            or not said_in(alias, spoken)
        ):
            continue
        kept.append(alias)
    return {name: aliases for name, aliases in taken.items() if aliases}
