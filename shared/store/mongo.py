"""MongoDB access: one client per process, the database handle, and the indexes.

`memory://` gives mongomock-motor, an in-process stand-in with Motor's interface, for the
all-in-one and the tests; anything else is a real server reached through Motor.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from shared.process.settings import Settings

if TYPE_CHECKING:
    from motor.motor_asyncio import AsyncIOMotorDatabase

    # The one name for "a database handle" in our signatures. mongomock-motor's stand-in has
    # the same interface but no types, so at run time either is passed.
    Database = AsyncIOMotorDatabase[Any]
else:
    Database = Any

log = logging.getLogger(__name__)

USERS = "users"
SESSIONS = "sessions"
CHAT_MESSAGES = "chat_messages"
SESSION_CONTEXTS = "session_contexts"
CONTEXT_COUNTERS = "context_counters"  # per user: unsummarized contexts (shared/store/contexts.py)
SUMMARIES = "summaries"
FAILED_JOBS = "failed_jobs"
OUTBOX = "outbox"
EMPTY_EXTRACTIONS = "empty_extractions"
REFLECTIONS = "reflections"
ENTITIES = "entities"
RELATIONS = "relations"
COMMUNITIES = "communities"
ENTITY_MERGES = "entity_merges"  # why two names are one entity, reversible (shared/store/entity_merges.py)
MEMORIES = "memories"  # one record per remembered fact, with its versions (shared/store/memories.py)
MEMORY_VECTORS = "memory_vectors"  # embeddings of recall documents, with a provider (shared/store/memory_vectors.py)
REPLIES = "replies"  # the coach's replies as jobs: status, text, usage (shared/store/replies.py)
CONVERSATIONS = "conversations"  # a user's conversations (shared/store/conversations.py)
LLM_USAGE = "llm_usage"  # one record per LLM call (shared/store/llm_usage.py)
LIMIT_CHANGES = "limit_changes"  # who changed a run-time limit, when, old and new (shared/store/limit_changes.py)
JOB_OWNERS = "job_owners"  # who was handed a job id (shared/store/job_owners.py)
JOB_OWNERS_KEEP_SECONDS = 7 * 24 * 3600  # longer than arq keeps a result: past it the job is unknown anyway


def create_mongo_client(settings: Settings) -> Any:
    if settings.uses_in_memory_mongodb:
        from mongomock_motor import AsyncMongoMockClient

        log.warning("MongoDB: in-memory stand-in (mongomock); nothing survives a restart")
        return AsyncMongoMockClient(tz_aware=True)
    from motor.motor_asyncio import AsyncIOMotorClient

    # A short server-selection timeout turns "MongoDB is down" into an error within
    # seconds instead of a request that hangs for pymongo's default 30 s.
    return AsyncIOMotorClient(settings.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=5_000)


def get_database(client: Any, settings: Settings) -> Database:
    db: Database = client[settings.mongodb_db_name]
    return db


async def ensure_indexes(db: Database) -> None:
    """Every index, in one place; idempotent; every process runs it at start so a fresh
    database is ready. docs/architecture.md ("Hot-path queries and their indexes") lists
    which query of the chat, the reply and the extraction each one serves; a query by `_id`
    needs none of its own."""
    await db[USERS].create_index("email", unique=True)
    await db[SESSIONS].create_index("user_id")
    # Revocation records expire on their own once the token could not be used anyway.
    await db[SESSIONS].create_index("expires_at", expireAfterSeconds=0)
    # A session's newest messages, newest first (replies, extractions): _id breaks timestamp ties.
    await db[CHAT_MESSAGES].create_index([("session_id", 1), ("timestamp", 1), ("_id", 1)])
    await db[CHAT_MESSAGES].create_index([("user_id", 1), ("timestamp", -1)])
    await db[CHAT_MESSAGES].create_index("timestamp")  # the session sweep reads a recent window
    await db[CHAT_MESSAGES].create_index("reply_id", sparse=True)  # a retried reply finds its stored text
    await db[SESSION_CONTEXTS].create_index([("user_id", 1), ("session_id", 1)], unique=True)
    await db[SESSION_CONTEXTS].create_index([("user_id", 1), ("updated_at", -1)])
    await db[SUMMARIES].create_index([("user_id", 1), ("created_at", -1)])
    await db[OUTBOX].create_index("created_at")
    await db[EMPTY_EXTRACTIONS].create_index([("user_id", 1), ("session_id", 1)], unique=True)
    await db[EMPTY_EXTRACTIONS].create_index("expires_at", expireAfterSeconds=0)
    await db[FAILED_JOBS].create_index([("resolved_at", 1), ("failed_at", -1)])
    await db[SESSION_CONTEXTS].create_index([("reflected_at", 1), ("user_id", 1)])  # contexts awaiting reflection
    await db[REFLECTIONS].create_index([("user_id", 1), ("created_at", -1)])
    # Entity resolution upserts by the key a name was first seen under, so two extractions
    # naming a new entity at once make one document, not two.
    await db[ENTITIES].create_index([("user_id", 1), ("key", 1)], unique=True)
    await db[RELATIONS].create_index([("user_id", 1), ("source_id", 1), ("target_id", 1), ("relation", 1)], unique=True)
    await db[COMMUNITIES].create_index("user_id", unique=True)
    await db[COMMUNITIES].create_index("stale")
    await db[ENTITY_MERGES].create_index([("user_id", 1), ("merged_at", -1)])
    await db[MEMORIES].create_index([("user_id", 1), ("status", 1), ("_id", -1)])  # recall, consolidation, the list
    await db[MEMORIES].create_index([("user_id", 1), ("sources.context_id", 1)])  # forgetting a context's points
    await db[MEMORIES].create_index("expires_at", sparse=True)
    await db[MEMORY_VECTORS].create_index([("user_id", 1), ("model", 1), ("doc_id", 1)], unique=True)
    await db[REPLIES].create_index([("user_id", 1), ("status", 1)])  # a user's active replies
    await db[REPLIES].create_index([("status", 1), ("started_at", 1)])  # the cleanup finds stuck ones
    await db[LLM_USAGE].create_index([("user_id", 1), ("at", 1)])  # a user's usage today (the daily budget)
    await db[LLM_USAGE].create_index([("at", 1)])
    await db[JOB_OWNERS].create_index("created_at", expireAfterSeconds=JOB_OWNERS_KEEP_SECONDS)
    await db[LIMIT_CHANGES].create_index([("changed_at", -1)])  # the admin's limit history, newest first
    await db[CHAT_MESSAGES].create_index([("user_id", 1), ("conversation_id", 1), ("timestamp", -1)])
    from shared.store.conversations import ensure_conversation_indexes

    await ensure_conversation_indexes(db)
