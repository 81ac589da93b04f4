"""An arq Worker that rides out Redis outages and publishes heartbeats.

arq's own Worker dies on the first Redis error of its poll loop: a Redis restart of a few
seconds ends every worker, and in the all-in-one nothing notices. This subclass changes
only what happens around Redis errors:

- start-up waits for Redis (capped backoff) instead of giving up after one retry, up to
  its first poll (arq reads Redis's INFO in between);
- a poll that cannot reach Redis logs ONE warning, stops taking jobs, probes Redis with
  backoff capped at WORKER_REDIS_RETRY_CAP_SECONDS, and logs once more when it is back;
- jobs already running carry on; recording a finished job waits for Redis rather than
  failing (a job whose result is lost would run again);
- a job picked up just as Redis went away, before it started, has its in-progress mark
  cleared when Redis returns, so it runs at once rather than after JOB_TIMEOUT_SECONDS;
- a cron whose enqueue failed keeps its due time and is enqueued when Redis returns;
- every WORKER_HEARTBEAT_SECONDS the poll loop writes a heartbeat (shared/queue/heartbeats.py).

Two more that are about cost: arq's per-job log lines are left out (job_lines.py), the job
wrapper writes one line per job; and the abort check each poll makes is one command, not four.

And one thing that is not about outages: wake on enqueue. arq sleeps `poll_delay` between
polls, so a job waits half a poll on average before it starts. Here an idle worker blocks
on its queue's nudge list instead (BLPOP, up to NUDGE_WAIT_POLLS poll delays), and every
enqueue through the adapter pushes a nudge (enqueue.py): the job starts one round trip after
its enqueue. The queue's sorted set stays the record; a nudge lost or taken by another
worker costs at most one wait. Per idle cycle the worker now sends one BLPOP more and waits
twice as long: fewer commands a second than arq's plain poll (docs/benchmarks.md).

Errors that are not about reaching Redis (say WRONGTYPE: QUEUE_NAME names a key of another
type) still end the worker, loudly: retrying cannot fix them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

from arq import Worker
from arq.connections import create_pool, log_redis_info
from arq.constants import abort_jobs_ss
from arq.utils import poll, timestamp_ms
from arq.worker import logger as arq_log
from redis.exceptions import ResponseError

from shared.queue.arq_adapter.claim import claim
from shared.queue.arq_adapter.job_lines import leave_out_per_job_lines
from shared.queue.arq_adapter.keys import in_progress_key, nudge_key
from shared.queue.arq_adapter.stop import stop_worker
from shared.queue.heartbeats import (
    WorkerHeartbeat,
    new_worker_id,
    remove_heartbeat,
    write_heartbeat,
)
from shared.redis_structures.unavailable import REDIS_DOWN

log = logging.getLogger("worker.redis")

# Redis gone, restarting, failing over, out of memory: shared/redis_structures/unavailable.py.
REDIS_UNREACHABLE = REDIS_DOWN

FIRST_RETRY_SECONDS = 0.1
# An idle worker waits this many poll delays for a nudge before it polls anyway: deferred
# jobs (retries) and enqueues that sent no nudge start within that.
NUDGE_WAIT_POLLS = 2


class ResilientWorker(Worker):
    def __init__(
        self,
        *args: Any,
        heartbeat_seconds: float = 5.0,
        redis_retry_cap_seconds: float = 5.0,
        follow_up_queue: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if self.burst:
            raise ValueError("ResilientWorker runs until stopped; burst mode is arq's Worker's")
        leave_out_per_job_lines()  # our job wrapper writes one line per job instead
        # Where jobs enqueued by this worker's jobs go (`ctx["redis"].enqueue_job`): the chat
        # worker's follow-ups (recall cache rebuilds, extractions) are background work.
        self.follow_up_queue = follow_up_queue or self.queue_name
        self.worker_id = new_worker_id()
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.started_at = datetime.now(UTC)
        self.heartbeat_seconds = heartbeat_seconds
        self.redis_retry_cap_seconds = redis_retry_cap_seconds
        self.redis_outages = 0
        self._last_heartbeat = 0.0
        # arq's poll loop sleeps poll_delay_s between polls; ours waits for a nudge instead.
        self.nudge_wait_seconds = self.poll_delay_s * NUDGE_WAIT_POLLS
        self.idle_poll_seconds, self.poll_delay_s = self.poll_delay_s, 0
        self._not_started: dict[str, float] = {}  # job id -> when its start failed
        # The chat queue's worker when this process drains both queues (worker/resilient.py),
        # made from this worker's ctx once on_startup has filled it.
        self.make_companion: Callable[[dict[str, Any]], ResilientWorker] | None = None
        self.companion: ResilientWorker | None = None
        self._companion_task: asyncio.Task[None] | None = None
        self._companion_died: str | None = None

    # -- connecting and reconnecting -------------------------------------------------

    async def main(self) -> None:
        """arq's main less burst mode, with Redis errors ridden out up to the first poll (and
        from there by _poll_iteration): a Redis that went away between connecting and the
        first poll ended arq's worker."""
        if self._pool is None:
            self._pool = await self._connect()
        arq_log.info("Starting worker for %d functions: %s", len(self.functions), ", ".join(self.functions))
        await self._until_redis_answers(lambda: log_redis_info(self.pool, arq_log.info))
        self.ctx["redis"] = self.pool
        if self.on_startup:
            await self.on_startup(self.ctx)  # it opens clients; it sends Redis nothing
        async for _ in poll(self.poll_delay_s):
            await self._poll_iteration()

    async def _connect(self) -> Any:
        settings = self.redis_settings
        assert settings is not None
        delay, warned = FIRST_RETRY_SECONDS, False
        while True:
            try:
                # retry=conn_retries: arq makes one attempt; the waiting and the log are ours.
                return await create_pool(
                    settings,
                    retry=settings.conn_retries,
                    job_serializer=self.job_serializer,
                    job_deserializer=self.job_deserializer,
                    default_queue_name=self.follow_up_queue,
                    expires_extra_ms=self.expires_extra_ms,
                )
            except REDIS_UNREACHABLE as exc:
                if not warned:
                    log.warning(
                        "worker %s: Redis at %s:%s not reachable at start (%s); retrying every %g s at most",
                        self.worker_id,
                        settings.host,
                        settings.port,
                        describe(exc),
                        self.redis_retry_cap_seconds,
                    )
                    warned = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.redis_retry_cap_seconds)

    async def _poll_iteration(self) -> None:
        if self.make_companion is not None and self.companion is None:
            self._start_companion()  # here: on_startup has run, the resources it shares exist
        if self._companion_died is not None:
            # A process whose chat worker is gone would take no replies while looking alive.
            raise CompanionDied(f"the chat queue's worker stopped ({self._companion_died}); stopping this worker too")
        try:
            await self._release_jobs_not_started()
            await super()._poll_iteration()
            await self._wait_for_nudge()
        except REDIS_UNREACHABLE as exc:
            await self._wait_for_redis(exc)

    async def _wait_for_nudge(self) -> None:
        if not self.allow_pick_jobs or self.job_counter >= self.max_jobs:
            # No slot to start a job in: a nudge is better left to a worker that has one.
            await asyncio.sleep(self.idle_poll_seconds)
            return
        # redis-py types the timeout as int; Redis takes fractions of a second since 6.0.
        timeout = cast(int, self.nudge_wait_seconds)
        try:
            await cast(Awaitable[Any], self.pool.blpop([nudge_key(self.queue_name)], timeout=timeout))
        except ResponseError as exc:
            # Redis ends a blocked pop with UNBLOCKED when it turns replica (a failover):
            # poll at once, where the write that now fails is an outage like any other.
            if not str(exc).startswith("UNBLOCKED"):
                raise

    async def _wait_for_redis(self, exc: BaseException) -> None:
        self.redis_outages += 1
        lost_at = time.monotonic()
        log.warning(
            "worker %s lost Redis (%s): taking no new jobs, running ones carry on; retrying every %g s at most",
            self.worker_id,
            describe(exc),
            self.redis_retry_cap_seconds,
        )
        delay = FIRST_RETRY_SECONDS
        while True:
            await asyncio.sleep(delay)
            try:
                # The probe is a write (a replica still read-only after a failover answers
                # PING but not this), and a useful one: /readyz sees us at once. A Redis that
                # accepts connections but never answers must not hang it.
                async with asyncio.timeout(max(1.0, self.redis_retry_cap_seconds)):
                    await write_heartbeat(self.pool, self.heartbeat())
                self._last_heartbeat = time.monotonic()
            except REDIS_UNREACHABLE:
                delay = min(delay * 2, self.redis_retry_cap_seconds)
                continue
            log.warning("worker %s: Redis is back after %.1f s; consuming again", self.worker_id, time.monotonic() - lost_at)
            return

    async def _until_redis_answers(self, call: Callable[[], Awaitable[None]]) -> None:
        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                return await call()
            except REDIS_UNREACHABLE:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.redis_retry_cap_seconds)

    # -- jobs across an outage -------------------------------------------------------

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """arq's pickup with its four round trips made one (claim.py), and a count that does
        not leak: arq counts a job (counter and semaphore) before its Redis calls, and if those
        failed, enough outages would leave the worker taking no jobs at all."""
        for job_id_b in job_ids:
            running = self.tasks.get(job_id_b.decode())
            if running is not None and not running.done():
                continue  # ours and running: it stays queued until it ends, no claim can succeed
            await self.sem.acquire()
            if self.job_counter >= self.max_jobs:
                self.sem.release()
                return
            self.job_counter += 1
            job_id = job_id_b.decode()
            try:
                score = await claim(self.pool, self.queue_name, job_id, int(self.in_progress_timeout_s * 1000), timestamp_ms())
            except BaseException:
                self._release_sem_dec_counter_on_complete()
                raise
            if score is None:  # running elsewhere, gone, or not due yet: as arq skips it
                self._release_sem_dec_counter_on_complete()
                continue
            task = self.loop.create_task(self.run_job(job_id, score))
            task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
            self.tasks[job_id] = task

    async def _cancel_aborted_jobs(self) -> None:
        """arq's abort check, once per poll, as one command instead of four: arq wraps a ZRANGE
        of the abort set in MULTI/EXEC beside a ZREMRANGEBYSCORE whose range (scores from
        now + abort_job_max_age up) holds only entries dated in the future, i.e. nothing
        unless clocks disagree by a minute. Entries leave as arq's do: when the job they
        name is cancelled here, starts, or ends."""
        abort_job_ids: list[bytes] = await self.pool.zrange(abort_jobs_ss, 0, -1)
        aborted = {job_id.decode() for job_id in abort_job_ids} & self.job_tasks.keys()
        for job_id in aborted:
            self.job_tasks[job_id].cancel()
        if aborted:
            self.aborting_tasks.update(aborted)
            await self.pool.zrem(abort_jobs_ss, *aborted)

    async def run_job(self, job_id: str, score: int) -> None:
        try:
            await super().run_job(job_id, score)
        except REDIS_UNREACHABLE as exc:
            # Only arq's reads before the job starts can get here (finishing waits for
            # Redis, below): the job did not run. Its in-progress mark would keep it from
            # everyone until it expires; clear it as soon as Redis answers.
            self._not_started[job_id] = time.monotonic()
            log.info("job %s not started, Redis went away (%s); it runs once Redis is back", job_id, describe(exc))

    async def _release_jobs_not_started(self) -> None:
        if not self._not_started:
            return
        # Only marks still ours: past its expiry another worker may hold the job now.
        now = time.monotonic()
        ours = [job_id for job_id, failed_at in self._not_started.items() if now - failed_at < self.in_progress_timeout_s - 1]
        if ours:
            await self.pool.delete(*(in_progress_key(job_id) for job_id in ours))
        self._not_started.clear()

    async def finish_job(self, *args: Any, **kwargs: Any) -> None:
        await self._until_redis_answers(lambda: super(ResilientWorker, self).finish_job(*args, **kwargs))

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        await self._until_redis_answers(lambda: super(ResilientWorker, self).finish_failed_job(job_id, result_data))

    async def run_cron(self, n: datetime, delay: float, num_windows: int = 2) -> None:
        # arq moves each cron to its next time before the enqueue is known to have worked.
        due = [(job, job.next_run) for job in self.cron_jobs]
        try:
            await super().run_cron(n, delay, num_windows)
        except REDIS_UNREACHABLE:
            for job, next_run in due:
                job.next_run = next_run  # `unique` job ids keep a repeat from running twice
            raise

    # -- the chat queue's worker, beside this one -------------------------------------

    def _start_companion(self) -> None:
        assert self.make_companion is not None
        self.companion = self.make_companion(self.ctx)
        self._companion_task = asyncio.create_task(self.companion.async_run(), name="chat-worker")
        self._companion_task.add_done_callback(self._companion_stopped)

    def _companion_stopped(self, task: asyncio.Task[None]) -> None:
        if not self.allow_pick_jobs:
            return  # we are stopping it
        error = None if task.cancelled() else task.exception()
        self._companion_died = describe(error) if error else "it was cancelled" if task.cancelled() else "it returned"
        log.error("worker %s: %s", self.worker_id, self._companion_died, exc_info=error)

    def handle_sig_wait_for_completion(self, signum: Any) -> None:
        super().handle_sig_wait_for_completion(signum)
        if self.companion is not None and self._companion_task is not None and not self._companion_task.done():
            self.companion.handle_sig_wait_for_completion(signum)  # both drain within the one grace

    async def _stop_companion(self) -> None:
        if self.companion is not None and self._companion_task is not None:
            self.allow_pick_jobs = False
            await stop_worker(self.companion, self._companion_task)
            self.companion = None

    # -- heartbeat and shutdown ------------------------------------------------------

    async def heart_beat(self) -> None:
        await super().heart_beat()
        if time.monotonic() - self._last_heartbeat >= self.heartbeat_seconds:
            await write_heartbeat(self.pool, self.heartbeat())
            self._last_heartbeat = time.monotonic()

    def heartbeat(self) -> WorkerHeartbeat:
        return WorkerHeartbeat(
            worker_id=self.worker_id,
            host=self.host,
            pid=self.pid,
            queue_name=self.queue_name,
            started_at=self.started_at,
            last_seen=datetime.now(UTC),
            interval_seconds=self.heartbeat_seconds,
            jobs_complete=self.jobs_complete,
            jobs_failed=self.jobs_failed,
            jobs_retried=self.jobs_retried,
            jobs_in_flight=sum(not t.done() for t in self.tasks.values()),
        )

    async def close(self) -> None:
        await self._stop_companion()  # first: it shares the resources on_shutdown closes
        if self._pool is not None:
            try:
                async with asyncio.timeout(1):
                    await remove_heartbeat(self.pool, self.queue_name, self.worker_id)
            except REDIS_UNREACHABLE:
                pass  # it expires by itself
        try:
            await super().close()
        except REDIS_UNREACHABLE as exc:
            # arq's close stops at its first Redis call; the rest must still happen.
            log.warning("worker %s stopping without Redis (%s)", self.worker_id, describe(exc))
            if self.on_shutdown:
                await self.on_shutdown(self.ctx)
            if self._pool is not None:
                await self._pool.aclose(close_connection_pool=True)
                self._pool = None


def describe(exc: BaseException, limit: int = 300) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class CompanionDied(RuntimeError):
    """The chat queue's worker in this process stopped on an error."""
