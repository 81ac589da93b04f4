"""The offline provider's entities, relations and reflections: phrase rules, not an LLM.

Entities: people after "my" (my wife, my coach) or named after with/and/for; places after
in/at/near when capitalized; events by a few nouns (marathon, wedding, interview, ...)
with up to two words before them; habits by "every day/morning/week" and "daily"; goals
from goal sentences. Entities named in one sentence are related as "mentioned with".
Reflections: the kind the user talks about most (a pattern), their goals and what they
committed to since (progress), and their newest goal or commitment as a next step; every
insight cites the contexts it counted, and its text starts with OFFLINE_LABEL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import combinations

from shared.memory.dates import MONTHS, WEEKDAYS
from shared.memory.strength import point_key
from shared.memory.text import terms
from shared.models import (
    ChatMessage,
    ContextNote,
    ContextPoint,
    EntityKind,
    ExtractedEntity,
    ExtractedRelation,
    Insight,
    KnownMemory,
    MemoryAction,
    ReflectionDraft,
)

OFFLINE_LABEL = "[offline coach]"
ROLES = (
    r"wife|husband|partner|friend|coach|boss|manager|mother|mom|father|dad|sister|brother|son|daughter|doctor|therapist|colleague"
)
EVENTS = r"half[- ]marathon|marathon|race|wedding|interview|exam|conference|trip|party|presentation|competition"
SKIP_BEFORE = {"a", "an", "the", "my", "our", "to", "run", "for", "in", "at", "do", "this", "that", "next", "i", "want", "will"}

PATTERNS: list[tuple[EntityKind, re.Pattern[str]]] = [
    ("person", re.compile(rf"\bmy ({ROLES})\b", re.I)),
    ("person", re.compile(r"\b(?:with|and|for|from) ([A-Z][a-z]+)\b")),
    ("place", re.compile(r"\b(?:in|at|near) ((?:the )?[A-Z]\w+(?: [A-Z]\w+)*)")),
    ("habit", re.compile(r"\bi ((?:\w+ ){0,3}?(?:every (?:day|morning|evening|night|week|weekend)|daily|weekly))\b", re.I)),
    ("goal", re.compile(r"\b(?:i want to|my goal is to|i plan to|i aim to|i hope to|i'd like to) ((?:[\w-]+ ?){1,5})", re.I)),
]
EVENT = re.compile(rf"\b((?:{EVENTS})(?: race)?)\b", re.I)
NOT_PLACES = {*MONTHS, *WEEKDAYS}  # capitalised, but not places
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def _events(sentence: str) -> list[str]:
    found = []
    for match in EVENT.finditer(sentence):
        before = sentence[: match.start()].split()[-2:]
        while before and before[0].lower() in SKIP_BEFORE:
            before = before[1:]
        found.append(" ".join([*before, match.group(1)]))
    return found


def sentence_entities(sentence: str) -> list[ExtractedEntity]:
    found = [ExtractedEntity(name=name, kind="event") for name in _events(sentence)]
    for kind, pattern in PATTERNS:
        for match in pattern.finditer(sentence):
            name = match.group(1).strip(" .,!?")
            if name and name.lower() != "i" and name.lower() not in NOT_PLACES:
                found.append(ExtractedEntity(name=name[:100], kind=kind))
    unique = {e.name.lower(): e for e in found}
    return list(unique.values())


def extract_graph(transcript: Sequence[ChatMessage]) -> tuple[list[ExtractedEntity], list[ExtractedRelation]]:
    entities: dict[str, ExtractedEntity] = {}
    relations: dict[tuple[str, str], ExtractedRelation] = {}
    for message in transcript:
        if message.role != "user":
            continue
        for sentence in SENTENCE_END.split(message.content):
            named = sentence_entities(sentence)
            for entity in named:
                entities.setdefault(entity.name.lower(), entity)
            for a, b in combinations(named, 2):
                relations.setdefault((a.name, b.name), ExtractedRelation(source=a.name, target=b.name, relation="mentioned with"))
    return list(entities.values())[:30], list(relations.values())[:30]


def reflect(notes: Sequence[ContextNote]) -> ReflectionDraft:
    by_kind: dict[str, list[str]] = {}
    for note in notes:
        for point in note.points:
            ids = by_kind.setdefault(point.kind, [])
            if note.id not in ids:
                ids.append(note.id)
    insights: list[Insight] = []
    if by_kind:
        kind, ids = max(by_kind.items(), key=lambda item: (len(item[1]), item[0]))
        insights.append(
            Insight(
                kind="pattern",
                text=f"{OFFLINE_LABEL} Your {kind}s come up most: in {len(ids)} of {len(notes)} sessions.",
                context_ids=ids[-10:],
            )
        )
    goals = [(n, p) for n in notes for p in n.points if p.kind == "goal"]
    steps = [(n, p) for n in notes for p in n.points if p.kind in ("commitment", "decision")]
    if goals:
        goal_note, goal = goals[0]
        later = [(n, p) for n, p in steps if n.created_at >= goal_note.created_at]
        text = f'{OFFLINE_LABEL} Goal "{goal.content}": {len(later)} commitments or decisions since.'
        insights.append(
            Insight(
                kind="progress", text=text[:500], context_ids=list(dict.fromkeys([goal_note.id, *(n.id for n, _ in later)]))[:10]
            )
        )
    newest = (steps or goals)[-1] if (steps or goals) else None
    if newest:
        text = f'{OFFLINE_LABEL} Next step: one small action toward "{newest[1].content}".'
        insights.append(Insight(kind="next_step", text=text[:500], context_ids=[newest[0].id]))
    elif notes:
        insights.append(
            Insight(kind="next_step", text=f"{OFFLINE_LABEL} Next step: name one goal to work on.", context_ids=[notes[-1].id])
        )
    return ReflectionDraft(
        insights=insights
        or [Insight(kind="pattern", text=f"{OFFLINE_LABEL} Nothing to reflect on yet.", context_ids=[notes[0].id])]
    )


# Consolidation by rules (shared/memory/consolidate.py applies what this decides).
NEGATIONS = (
    "no longer",
    "not anymore",
    "any more",
    "anymore",
    "quit",
    "stopped",
    "gave up",
    "moved away",
    "left my",
    "changed my mind",
)


def _overlap(a: str, b: str) -> float:
    x, y = set(terms(a)), set(terms(b))
    return len(x & y) / len(x | y) if x and y else 0.0


def decide_by_rules(point: ContextPoint, known: Sequence[KnownMemory]) -> tuple[MemoryAction, str | None]:
    """The offline provider's consolidation: same words -> none; a negation about the same
    subject -> supersede; the same kind about the same subject -> update; else add."""
    key = point_key(point.kind, point.content)
    best: tuple[float, KnownMemory] | None = None
    for memory in known:
        if point_key(memory.kind, memory.content) == key:
            return "none", memory.id
        score = _overlap(point.content, memory.content)
        if best is None or score > best[0]:
            best = (score, memory)
    if best is None:
        return "add", None
    score, memory = best
    subject = _subject(point.content)
    same_subject = next(
        (m for m in known if m.kind == point.kind and subject and _changes_the_same_thing(point.content, m.content)), None
    )
    if score < 0.5 and same_subject is not None:
        memory, score = same_subject, _overlap(point.content, same_subject.content)
    lowered = point.content.lower()
    # "I no longer train every morning" retires the morning routine, not "I train every
    # evening now": a negation supersedes only a memory that holds what it negates.
    if score >= 0.25 and any(n in lowered for n in NEGATIONS) and _negates(point.content, memory.content):
        return "supersede", memory.id
    if memory.kind == point.kind and (score >= 0.5 or _changes_the_same_thing(point.content, memory.content)):
        return "update", memory.id
    return "add", None


# Statements about one of the user's people are many facts, not one changing: "my sister is
# getting married" and "my sister called me" are both kept.
_PEOPLE = frozenset(
    terms(
        "wife husband partner sister brother mum mom mother dad father son daughter friend boss kid kids children family parents"
    )
)


_NEGATION_STEMS = frozenset(stem for phrase in NEGATIONS for stem in terms(phrase))


def _negates(new: str, old: str) -> bool:
    """Most of what the negation is about (its words less the negating ones) is in `old`."""
    about = set(terms(new)) - _NEGATION_STEMS
    return bool(about) and len(about & set(terms(old))) / len(about) >= 0.75


def _changes_the_same_thing(new: str, old: str) -> bool:
    subject = _subject(new)
    return subject != "" and subject not in _PEOPLE and subject == _subject(old)


# The words a statement opens with that say how the user stands, not what it is about.
_STANCE = frozenset(terms("want like prefer love enjoy hate plan hope decide decided will going try usually always often now"))


def _subject(text: str) -> str:
    """What a statement is about, roughly: its first content stem after the stance words
    ("I prefer to train in the evening" -> "train"). Two of the same kind about the same
    subject are one memory changing, by this rule."""
    return next((stem for stem in terms(text) if stem not in _STANCE), "")
