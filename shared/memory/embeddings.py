"""Embeddings: an optional provider that lets recall match meaning beyond shared stems.

`EMBEDDINGS_PROVIDER=none` (the default) uses none: nothing is downloaded, nothing leaves
the machine, and recall is lexical plus the entity graph. `http` calls an embeddings API of
the shape Voyage AI serves (Anthropic's pointer for embeddings; OpenAI's `/v1/embeddings` is
the same request and answer): `POST {EMBEDDINGS_BASE_URL}/embeddings` with
`{"input": [...], "model": ..., "input_type": "query"|"document"}`, answered
`{"data": [{"index": i, "embedding": [...]}]}`.

Document vectors are computed by the recall index rebuild (a worker job), stored in
MongoDB with the memory (shared/store/memory_vectors.py) and copied into the Redis index.
A reply embeds only its own message (one call, `EMBEDDINGS_TIMEOUT_SECONDS`; on failure it
ranks lexically and says so in the log) and compares it with the vectors of its candidates.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Sequence
from typing import Literal, Protocol

import httpx

from shared.process.settings import Settings

log = logging.getLogger(__name__)

InputType = Literal["query", "document"]
BATCH = 64


class Embedder(Protocol):
    model: str

    async def embed(self, texts: Sequence[str], input_type: InputType) -> list[list[float]]: ...


class VectorSource(Protocol):
    async def vectors(self, ids: Sequence[str]) -> dict[str, bytes]: ...


class HttpEmbedder:
    def __init__(self, base_url: str, api_key: str, model: str, timeout: float) -> None:
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.AsyncClient(base_url=base_url.rstrip("/") + "/", headers=headers, timeout=timeout)

    async def embed(self, texts: Sequence[str], input_type: InputType) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            batch = list(texts[start : start + BATCH])
            response = await self.client.post("embeddings", json={"input": batch, "model": self.model, "input_type": input_type})
            response.raise_for_status()
            data = sorted(response.json()["data"], key=lambda d: d["index"])
            if len(data) != len(batch):
                raise ValueError(f"embeddings API answered {len(data)} vectors for {len(batch)} texts")
            out += [[float(x) for x in d["embedding"]] for d in data]
        return out

    async def aclose(self) -> None:
        await self.client.aclose()


def create_embedder(settings: Settings) -> HttpEmbedder | None:
    if settings.embeddings_provider == "none":
        return None
    return HttpEmbedder(
        settings.embeddings_base_url,
        settings.embeddings_api_key.get_secret_value() if settings.embeddings_api_key else "",
        settings.embeddings_model,
        settings.embeddings_timeout_seconds,
    )


def pack(vector: Sequence[float]) -> bytes:
    """Unit-length float32 bytes: a dot product of two packed vectors is their cosine."""
    norm = sum(x * x for x in vector) ** 0.5 or 1.0
    return array("f", (x / norm for x in vector)).tobytes()


def unpack(raw: bytes) -> array[float]:
    vector = array("f")
    vector.frombytes(raw)
    return vector


async def dense_scores(embedder: Embedder, source: VectorSource, text: str, ids: Sequence[str]) -> dict[str, float] | None:
    """Cosine of the message with each candidate that has a vector; None when the provider
    fails (the reply then ranks lexically) or the index keeps no vectors."""
    if not ids:
        return None
    try:
        [query] = await embedder.embed([text], "query")
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        log.warning("embeddings provider failed, recall ranks lexically: %s", exc)
        return None
    stored = await source.vectors(ids)
    if not stored:
        return None
    q = unpack(pack(query))
    return {i: sum(a * b for a, b in zip(q, unpack(v), strict=False)) for i, v in stored.items()}
