"""`python -m allinone`: the whole product in one process, no configuration needed.

Starts a private `redis-server` unless REDIS_URL is set, uses the in-memory MongoDB
stand-in unless MONGODB_URI is set, the offline LLM provider unless ANTHROPIC_API_KEY is
set, and runs the web service and the arq worker on one event loop, sharing one database
client (the in-memory database exists only inside this process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys

import uvicorn
from pydantic import SecretStr

from allinone.operators import check_dependencies, publish_for_operators
from allinone.redis_process import RedisProcess
from allinone.supervise import serve_beside_worker
from service.app import create_app
from shared.mongo import create_mongo_client
from shared.runtime_file import withdraw
from shared.settings import Settings, SettingsError, load_settings
from worker.resilient import create_worker

log = logging.getLogger("allinone")

WS_MAX_BYTES = 1024 * 1024


async def serve(settings: Settings) -> None:
    client = create_mongo_client(settings)
    app = create_app(settings, mongo_client=client)
    worker = create_worker(settings, ctx={"settings": settings, "mongo_client": client}, handle_signals=False)
    # Frames past 1 MiB are refused by the WebSocket layer itself (close code 1009).
    # Open requests and sockets get the workers' grace on shutdown, then are closed.
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="info", ws_max_size=WS_MAX_BYTES,
        timeout_graceful_shutdown=settings.worker_shutdown_grace_seconds,
    )
    server = uvicorn.Server(config)
    try:
        # Returns on Ctrl-C / SIGTERM (uvicorn owns the signals), or when the worker dies.
        code = await serve_beside_worker(server, worker)
    finally:
        client.close()
    if code:
        raise SystemExit(code)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # uvicorn catches SIGINT and SIGTERM while it serves and raises them again once the
    # service has stopped. Python's defaults would then kill us (SIGTERM) or cancel the
    # worker's shutdown (asyncio's SIGINT handler); an exit instead unwinds through
    # `serve`'s cleanup (the worker) and then the ExitStack's (redis-server last). The
    # same holds for a signal during start-up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    try:
        # memory:// works here, and only here: the service and the worker share one client.
        settings = load_settings(allow_in_memory_mongodb=True)
        check_dependencies(settings)
    except SettingsError as exc:
        sys.exit(str(exc))
    with contextlib.ExitStack() as stack:
        overrides: dict[str, object] = {}
        if "redis_url" not in settings.model_fields_set:
            redis = stack.enter_context(RedisProcess())
            overrides["redis_url"] = redis.url
            log.info("REDIS_URL not set: started a private redis-server on %s (pid %s)", redis.url, redis.process.pid)
        if settings.jwt_secret is None:
            overrides["jwt_secret"] = SecretStr(secrets.token_urlsafe(32))
            log.warning("JWT_SECRET not set: using a random one; tokens die with this process")
        settings = settings.model_copy(update=overrides)
        if publish_for_operators(settings) is not None:
            stack.callback(withdraw, settings, os.getpid())
        log.info("coach all-in-one: service and worker listening on http://%s:%s", settings.host, settings.port)
        asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
