"""Which conversation a chat request is in: the one it names, else the user's newest (one is
made for a user who has none). The chat routes and the socket's frames share this."""

from __future__ import annotations

from service.errors import ApiError
from shared.store.conversations import Conversation, create_conversation, newest_conversation, owned_conversation
from shared.store.mongo import Database

NOT_YOURS = "no conversation with that id"


class ConversationArchived(ApiError):
    def __init__(self) -> None:
        super().__init__(409, "that conversation is archived; start a new one or pick another")


async def conversation_to_write(db: Database, user_id: str, conversation_id: str | None) -> Conversation:
    """Raises 404 for another user's conversation or none, 409 for an archived one."""
    if conversation_id is None:
        return await newest_conversation(db, user_id) or await create_conversation(db, user_id, None)
    found = await owned_conversation(db, conversation_id, user_id)
    if found is None:
        raise ApiError(404, NOT_YOURS)
    if found.archived_at is not None:
        raise ConversationArchived()
    return found


async def conversation_to_read(db: Database, user_id: str, conversation_id: str | None) -> Conversation | None:
    """The named one (archived ones can be read; 404 for another user's), else the newest;
    None when the user has none yet."""
    if conversation_id is None:
        return await newest_conversation(db, user_id)
    found = await owned_conversation(db, conversation_id, user_id)
    if found is None:
        raise ApiError(404, NOT_YOURS)
    return found
