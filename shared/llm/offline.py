"""The offline provider: deterministic, rule-based, no network and no API key.

It exists so the product runs end to end on a laptop. It is not an LLM and says so: every
reply starts with OFFLINE_LABEL (the page shows no label of its own) and the log warns when
it is chosen. Extraction finds goals, decisions, preferences and the like in the user's own
turns by phrase patterns; the reply echoes what it recognised and draws on stored memory, so
recall is visible. Its words stream OFFLINE_STREAM_DELAY_MS apart, at a reading pace, so
streaming, a reload mid-reply and Stop can be tried without an API key.
"""

from __future__ import annotations

import re
from asyncio import sleep
from collections.abc import AsyncGenerator, Sequence

from shared.llm.base import UsageCallback
from shared.llm.offline_memory import decide_by_rules, extract_graph, reflect
from shared.memory.text import terms
from shared.models import (
    ChatMessage,
    ContextExtraction,
    ContextKind,
    ContextNote,
    ContextPoint,
    ExtractionReply,
    KnownMemory,
    MemoryDigest,
    ReflectionReply,
    SessionDigest,
    SummaryDraft,
    SummaryReply,
    TokenUsage,
)

OFFLINE_MODEL = "offline-rules-v1"
OFFLINE_LABEL = "[offline coach]"

# First match wins, so the more specific phrasings come first.
RULES: list[tuple[ContextKind, float, re.Pattern[str]]] = [
    # A change of heart first: "I no longer want to ..." is not a goal but the end of one.
    ("decision", 0.8, re.compile(r"\b(i no longer|i don't want to|i quit|i stopped|i gave up|i changed my mind)\b")),
    ("goal", 0.9, re.compile(r"\b(my goal|i want to|i'd like to|i would like to|i hope to|i aim to|i plan to)\b")),
    ("decision", 0.8, re.compile(r"\b(i decided|i have decided|i've decided|i chose|i'm going with)\b")),
    ("commitment", 0.8, re.compile(r"\b(i will|i'll|i promise|i commit|i'm going to|i am going to)\b")),
    ("insight", 0.7, re.compile(r"\b(i realized|i realised|i learned|i learnt|i noticed|i see now)\b")),
    ("preference", 0.6, re.compile(r"\bi (?:now |really |still |also )?(prefer|like|love|enjoy|hate|dislike|don't like)\b")),
    ("fact", 0.4, re.compile(r"\b(i am|i'm|i work|i live|i moved|i have|my name is)\b")),
    # The people of the user's life: "My sister Maya is getting married in Lisbon".
    (
        "fact",
        0.5,
        re.compile(
            r"\bmy (wife|husband|partner|sister|brother|mum|mom|mother|dad|father|son|daughter|friend|best friend|boss|kids?|children|family)\b"
        ),
    ),
    # Routines: "I train every morning at 6", "I usually swim on Sundays".
    (
        "fact",
        0.5,
        re.compile(
            r"\b(every (day|morning|evening|night|week|weekend)|each (day|morning|week)|i usually|i always|i train|i run|i swim|i practi[cs]e)\b"
        ),
    ),
]

SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


def classify(sentence: str) -> tuple[ContextKind, float] | None:
    lowered = sentence.lower().replace("\u2019", "'")
    for kind, importance, pattern in RULES:
        if pattern.search(lowered):
            return kind, importance
    return None


def statement_kind(sentence: str) -> tuple[ContextKind, float] | None:
    """What a sentence states, as `classify` reads it; a question states nothing."""
    return None if sentence.rstrip().endswith("?") else classify(sentence)


def extract_points(transcript: Sequence[ChatMessage]) -> list[ContextPoint]:
    points: list[ContextPoint] = []
    seen: set[tuple[str, str]] = set()
    for message in transcript:
        if message.role != "user":
            continue
        for sentence in _sentences(message.content):
            found = statement_kind(sentence)
            if found is None:
                continue
            key = (found[0], sentence.lower())
            if key not in seen:
                seen.add(key)
                points.append(ContextPoint(kind=found[0], content=sentence[:1_000], importance=found[1]))
    return points


def _quoted(text: str) -> str:
    """A sentence quoted inside one of ours, its own end mark dropped: ours ends it."""
    return '"' + text.strip().rstrip(".!?;:,").strip() + '"'


def _ended(text: str) -> str:
    """A sentence that ends with an end mark (a full stop unless it has one)."""
    text = text.strip()
    return text if text.endswith((".", "!", "?", '."', '!"', '?"')) else text + "."


def write_reply(user_text: str, memory: MemoryDigest) -> str:
    parts = [OFFLINE_LABEL]
    recognised = [(found[0], s) for s in _sentences(user_text) if (found := statement_kind(s)) is not None]
    if recognised:
        kind, sentence = recognised[0]
        parts.append(f"I noted that as a {kind}: {_quoted(sentence)}.")
    else:
        parts.append("I hear you.")
    if memory.points:
        # The memory nearest to what was just said (recall ranked it in), else the strongest.
        said = set(terms(user_text))
        earlier = max(memory.points, key=lambda p: len(said & set(terms(p.content))))
        parts.append(f"From an earlier session I remember your {earlier.kind}: {_quoted(earlier.content)}.")
    if memory.summary:
        parts.append(_ended(f"In short, so far: {memory.summary.removeprefix(OFFLINE_LABEL).strip()}"))
    if memory.reflections:
        parts.append(_ended(f"Looking back: {memory.reflections[0].text.removeprefix(OFFLINE_LABEL).strip()}"))
    parts.append("What is one small step you could take next?")
    return " ".join(parts)


KIND_ORDER = ["goal", "commitment", "decision", "preference", "insight", "fact"]


def write_summary(sessions: Sequence[SessionDigest]) -> SummaryDraft:
    """The latest wording of each point wins; key points are listed by kind, goals first."""
    latest: dict[str, tuple[str, str]] = {}
    for session in sessions:
        for point in session.points:
            latest[f"{point.kind}:{point.content.lower()}"] = (point.kind, point.content)
    ordered = sorted(latest.values(), key=lambda kp: KIND_ORDER.index(kp[0]))
    key_points = [f"{kind}: {content}" for kind, content in ordered][:20]
    start, end = sessions[0].created_at.date(), sessions[-1].created_at.date()
    text = f"{OFFLINE_LABEL} {len(sessions)} sessions from {start} to {end}; {len(key_points)} points worth keeping."
    return SummaryDraft(text=text, key_points=key_points)


class OfflineProvider:
    name = "offline"
    model = OFFLINE_MODEL

    def __init__(self, word_delay_seconds: float = 0.0) -> None:
        self.word_delay_seconds = word_delay_seconds

    async def extract_context(self, transcript: Sequence[ChatMessage], known: Sequence[KnownMemory] = ()) -> ExtractionReply:
        entities, relations = extract_graph(transcript)
        points = []
        for point in extract_points(transcript):
            action, memory_id = decide_by_rules(point, known)
            points.append(point.model_copy(update={"action": action, "memory_id": memory_id}))
        extraction = ContextExtraction(points=points, entities=entities, relations=relations)
        return ExtractionReply(extraction=extraction, model=OFFLINE_MODEL, usage=TokenUsage())

    async def summarize(self, sessions: Sequence[SessionDigest]) -> SummaryReply:
        return SummaryReply(draft=write_summary(sessions), model=OFFLINE_MODEL, usage=TokenUsage())

    async def reflect(self, notes: Sequence[ContextNote]) -> ReflectionReply:
        return ReflectionReply(draft=reflect(notes), model=OFFLINE_MODEL, usage=TokenUsage())

    async def stream_reply(
        self, history: Sequence[ChatMessage], memory: MemoryDigest, on_usage: UsageCallback | None = None
    ) -> AsyncGenerator[str, None]:
        last_user = next((m.content for m in reversed(history) if m.role == "user"), "")
        for number, word in enumerate(write_reply(last_user, memory).split(" ")):
            if number and self.word_delay_seconds:
                await sleep(self.word_delay_seconds)  # a reading pace, not an LLM's latency
            yield word + " "
        if on_usage is not None:
            on_usage(OFFLINE_MODEL, TokenUsage())  # no LLM, no tokens: the call is still counted

    async def aclose(self) -> None:
        return None
