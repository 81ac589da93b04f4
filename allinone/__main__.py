"""`python -m allinone`: the whole product in one process, no configuration needed.

Starts a private `redis-server` unless REDIS_URL is set, uses the in-memory MongoDB
stand-in unless MONGODB_URI is set, the offline LLM provider unless ANTHROPIC_API_KEY is
set, and runs the web service and the arq worker on one event loop, sharing one database
client (the in-memory database exists only inside this process).

`--admin EMAIL` gives that account the admin role at start (creating it if it does not
exist, with a random password shown once on the terminal, never logged): the local operator's way in, since
`python -m worker users grant-admin` cannot reach an in-memory database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import sys

import uvicorn
from pydantic import SecretStr, ValidationError

from allinone.admin import admin_notice, ensure_admin
from allinone.operators import check_dependencies, publish_for_operators
from allinone.redis_process import RedisProcess
from allinone.supervise import serve_beside_worker
from service.app import create_app
from service.header_timeout import protocol_for
from service.routes.auth_schemas import Credentials
from shared.process.log_format import configure_logging
from shared.process.runtime_file import withdraw
from shared.process.settings import Settings, exit_on_settings_error, load_settings
from shared.store.mongo import create_mongo_client, ensure_indexes, get_database
from worker.resilient import create_worker
from worker.shutdown_log import one_shutdown_line

log = logging.getLogger("allinone")

WS_MAX_BYTES = 1024 * 1024


class ListeningServer(uvicorn.Server):
    """uvicorn's server that tells the operator CLI about this process once its port is
    bound, not before: a second all-in-one on a busy port fails to bind and must leave the
    first one's `.run/allinone.json` alone. The file is withdrawn at exit only if this
    process wrote it (and only while it is still this process's)."""

    def __init__(self, config: uvicorn.Config, settings: Settings) -> None:
        super().__init__(config)
        self.settings = settings
        self.published = False

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)  # exits the process if the port is taken
        if self.started and not self.should_exit:
            self.published = publish_for_operators(self.settings) is not None
            log.info("coach all-in-one: service and worker listening on http://%s:%s", self.settings.host, self.settings.port)

    def withdraw(self) -> None:
        if self.published:
            withdraw(self.settings, os.getpid())


async def serve(settings: Settings, admin_email: str | None = None) -> None:
    client = create_mongo_client(settings)
    if admin_email:
        db = get_database(client, settings)
        await ensure_indexes(db)
        password = await ensure_admin(db, settings, admin_email)
        # Printed, not logged: it goes to the operator's console and never into log shipping.
        print(admin_notice(admin_email, password, settings.log_format), flush=True)
    app = create_app(settings, mongo_client=client)
    worker = create_worker(settings, ctx={"settings": settings, "mongo_client": client}, handle_signals=False)
    # Frames past 1 MiB are refused by the WebSocket layer itself (close code 1009).
    # Requests whose headers take longer than HTTP_HEADER_TIMEOUT_SECONDS are cut off; open
    # requests and sockets get the workers' grace on shutdown, then are closed.
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        ws_max_size=WS_MAX_BYTES,
        log_config=None,  # uvicorn's lines go through our handler: time, level, LOG_FORMAT
        http=protocol_for(settings),
        # X-Forwarded-For is the app's to trust (FORWARDED_ALLOW_IPS, service/app.py), never
        # uvicorn's, which would take it from any loopback client.
        proxy_headers=False,
        # uvicorn annotates int but waits with asyncio (any float works); fractions matter in tests.
        timeout_graceful_shutdown=settings.worker_shutdown_grace_seconds,  # type: ignore[arg-type]
    )
    server = ListeningServer(config, settings)
    try:
        # Returns on Ctrl-C / SIGTERM (uvicorn owns the signals), or when the worker dies.
        code = await serve_beside_worker(server, worker)
    finally:
        server.withdraw()
        client.close()
    if code:
        raise SystemExit(code)


def main() -> None:
    with exit_on_settings_error():  # the entry point: a bad setting is one line, exit 1
        _main()


def _main() -> None:
    parser = argparse.ArgumentParser(prog="python -m allinone", description="the whole product in one process")
    parser.add_argument(
        "--admin",
        metavar="EMAIL",
        help="give this account the admin role (if new, it is created and its generated password shown once)",
    )
    options = parser.parse_args()
    if options.admin:
        try:  # the same check the register endpoint makes, so the account can log in
            options.admin = Credentials(email=options.admin, password="placeholder").email
        except ValidationError:
            parser.error(f"--admin {options.admin!r} is not an email address the service accepts")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # uvicorn catches SIGINT and SIGTERM while it serves and raises them again once the
    # service has stopped. Python's defaults would then kill us (SIGTERM) or cancel the
    # worker's shutdown (asyncio's SIGINT handler); an exit instead unwinds through
    # `serve`'s cleanup (the worker) and then the ExitStack's (redis-server last). The
    # same holds for a signal during start-up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    # memory:// works here, and only here: the service and the worker share one client.
    settings = load_settings(allow_in_memory_mongodb=True)
    check_dependencies(settings)
    configure_logging(settings.log_format)
    one_shutdown_line()
    with contextlib.ExitStack() as stack:
        overrides: dict[str, object] = {}
        if "redis_url" not in settings.model_fields_set:
            # An append-only file in the runtime folder: a crash of redis-server alone loses
            # at most a second of the queue, not the jobs waiting for their retry.
            redis = stack.enter_context(RedisProcess.for_allinone(settings.runtime_dir))
            overrides["redis_url"] = redis.url
            assert redis.process is not None  # entering the context started it
            log.info("REDIS_URL not set: started a private redis-server on %s (pid %s)", redis.url, redis.process.pid)
            redis.restart_when_it_dies()
        if settings.jwt_secret is None:
            overrides["jwt_secret"] = SecretStr(secrets.token_urlsafe(32))
            log.warning("JWT_SECRET not set: using a random one; tokens die with this process")
        settings = settings.model_copy(update=overrides)
        asyncio.run(serve(settings, options.admin))


if __name__ == "__main__":
    main()
