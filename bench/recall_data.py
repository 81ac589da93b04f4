"""A multi-session data set for the recall benchmark, generated from a seed.

Each user has `SESSIONS` sessions of user messages: small talk, with facts planted in the
early sessions (most 15 or more sessions before the questions), distractors that share
words with the facts ("my colleague got married too"), and questions worded unlike the
fact they need: about names, places, dates and things, and some that need two facts. The
stub LLM's way of storing memory is modelled: each user message is one point.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

SESSIONS = 25
MESSAGES_PER_SESSION = 10

NAMES = ["Maya", "Tomas", "Ines", "Priya", "Jonah", "Leila", "Oskar", "Hana", "Rafael", "Noor", "Ewan", "Sofia"]
CITIES = ["Lisbon", "Denver", "Osaka", "Krakow", "Nairobi", "Halifax", "Porto", "Seville", "Tallinn", "Perth"]
MONTHS = ["January", "March", "April", "June", "August", "October", "November"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
PETS = [("beagle", "dog"), ("tabby", "cat"), ("cockatiel", "bird"), ("rabbit", "rabbit")]
LANGUAGES = ["Portuguese", "Japanese", "Polish", "Swahili", "Korean"]
INSTRUMENTS = ["cello", "violin", "piano", "drums", "trumpet"]
FOODS = ["peanuts", "shellfish", "sesame", "gluten"]
JOBS = [("nurse", "hospital"), ("architect", "design studio"), ("teacher", "primary school"), ("engineer", "wind farm")]
PARKS = ["Riverside Park", "Hillcrest Trail", "Lakeshore Path", "Old Mill Loop"]

# (fact, question) templates. Questions share a name, place or thing with their fact, never its wording.
FACTS = [
    ("My sister {name} is getting married in {city} in {month}", "Which city is {name}'s wedding in?"),
    ("I adopted a {pet} puppy and called him {name2}", "What breed is {name2}?"),
    (
        "My son {name3} has {instrument} lessons every {day} after school",
        "On which day does {name3} practise music with a teacher?",
    ),
    ("I work as a {job} at the {place}", "What is my profession these days?"),
    ("I found out I am allergic to {food}", "Which food gives me an allergic reaction?"),
    ("Booked my flight to {city2} for the {date}th of {month2}", "When do I fly out to {city2}?"),
    ("I started learning {language} with a tutor called {name4}", "Who helps me with my {language}?"),
    ("My best friend {name5} moved to {city3} last spring", "Where does {name5} live now?"),
    ("I ran {km} kilometres at {park} on Saturday morning", "How far did I manage at {park}?"),
    ("My mum's birthday is on the {date2}th of {month3}", "When should I celebrate my mother's birthday?"),
]
# Questions that need two facts: the evidence is both.
PAIRS = [
    ("Will {name5} be in the same city as my sister's wedding?", (7, 0)),
    ("Can I fit my {language} tutoring around my flight to {city2}?", (6, 5)),
]
DISTRACTORS = [
    "My colleague {other} got married last year in a small ceremony",
    "The {instrument} in the shop window looked beautiful but expensive",
    "A friend of mine visited {city} and loved the food",
    "Someone at work said {language} grammar is hard",
    "The park near the office was busy at lunchtime",
    "I watched a documentary about flights and airports",
    "We talked about birthdays and which ones we forget",
    "My neighbour's dog barked all night again",
]
SMALL_TALK = [
    "Work was busy today, lots of meetings",
    "I had pasta for dinner and watched a show",
    "The weather turned cold so I stayed in",
    "My commute took forever because of roadworks",
    "I cleaned the apartment this afternoon",
    "I slept badly and felt tired all day",
    "Coffee with the team was nice",
    "I need to answer a pile of emails",
    "The train was late again this morning",
    "I tried a new recipe with lentils",
    "I am thinking about repainting the kitchen",
    "The gym was crowded so I left early",
]


@dataclass
class Question:
    text: str
    evidence: list[str]  # point ids that must be in the prompt
    kind: str  # "single" or "pair"
    age: int  # sessions between the (oldest) evidence and the question


@dataclass
class UserData:
    user_id: str
    sessions: list[list[tuple[str, str]]] = field(default_factory=list)  # per session: (point id, text)
    questions: list[Question] = field(default_factory=list)


def generate(user_id: str, seed: int) -> UserData:
    rng = random.Random(seed)
    names = rng.sample(NAMES, 6)
    slots = {
        "name": names[0],
        "name2": names[1],
        "name3": names[2],
        "name4": names[3],
        "name5": names[4],
        "other": names[5],
        "city": (cities := rng.sample(CITIES, 3))[0],
        "city2": cities[1],
        "city3": cities[2],
        "month": (months := rng.sample(MONTHS, 3))[0],
        "month2": months[1],
        "month3": months[2],
        "pet": rng.choice(PETS)[0],
        "day": rng.choice(DAYS),
        "instrument": rng.choice(INSTRUMENTS),
        "food": rng.choice(FOODS),
        "language": rng.choice(LANGUAGES),
        "km": str(rng.randint(5, 30)),
        "park": rng.choice(PARKS),
        "date": str(rng.randint(2, 28)),
        "date2": str(rng.randint(2, 28)),
    }
    slots["job"], slots["place"] = rng.choice(JOBS)
    data = UserData(user_id)
    texts = [[rng.choice(SMALL_TALK) + f" ({s}.{m})" for m in range(MESSAGES_PER_SESSION)] for s in range(SESSIONS)]
    where: dict[int, tuple[int, int]] = {}
    for n, (fact, _) in enumerate(FACTS):
        session = rng.randint(0, 9)  # 15 or more sessions before the questions
        slot = rng.randrange(MESSAGES_PER_SESSION)
        while any(w == (session, slot) for w in where.values()):
            slot = rng.randrange(MESSAGES_PER_SESSION)
        texts[session][slot] = fact.format(**slots)
        where[n] = (session, slot)
    for distractor in DISTRACTORS:
        session, slot = rng.randrange(SESSIONS), rng.randrange(MESSAGES_PER_SESSION)
        if (session, slot) not in where.values():
            texts[session][slot] = distractor.format(**slots)
    data.sessions = [[(f"{user_id}:{s}:{m}", text) for m, text in enumerate(msgs)] for s, msgs in enumerate(texts)]
    pid = lambda n: data.sessions[where[n][0]][where[n][1]][0]  # noqa: E731
    for n, (_, question) in enumerate(FACTS):
        data.questions.append(Question(question.format(**slots), [pid(n)], "single", SESSIONS - where[n][0]))
    for question, (a, b) in PAIRS:
        age = SESSIONS - min(where[a][0], where[b][0])
        data.questions.append(Question(question.format(**slots), [pid(a), pid(b)], "pair", age))
    return data
