"""Slowloris against the standalone service command: how many held connections are cut, and when.

    .venv/bin/python -m bench.slowloris --clients 500 --interval 5

Each client opens a connection, sends a request line, then one header line every
`--interval` seconds and never finishes. The service runs as the README runs it, with
`--http service.header_timeout:HttpProtocol` and the default HTTP_HEADER_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time

from bench.harness import Stack

LINES = 8


async def slow_client(port: int, interval: float) -> float | None:
    """Seconds until the server cut the connection, or None if it held all lines."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    answer = asyncio.create_task(reader.read())
    try:
        for line in range(LINES):
            done, _ = await asyncio.wait({answer}, timeout=interval)
            if done:
                return time.monotonic() - started
            writer.write(f"X-Slow-{line}: 1\r\n".encode())
        return None
    finally:
        answer.cancel()
        writer.close()


async def run(clients: int, interval: float) -> dict[str, float]:
    async with Stack() as stack:
        url, _ = await stack.service_process("--http", "service.header_timeout:HttpProtocol", LLM_PROVIDER="offline")
        port = int(url.rsplit(":", 1)[1])
        cut = [s for s in await asyncio.gather(*(slow_client(port, interval) for _ in range(clients))) if s is not None]
    return {
        "clients": clients,
        "interval_s": interval,
        "held_for_s": LINES * interval,
        "cut": len(cut),
        "cut_after_min_s": round(min(cut), 1) if cut else None,
        "cut_after_max_s": round(max(cut), 1) if cut else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.slowloris")
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between header lines")
    options = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, options.clients * 2 + 256)), hard))
    print(json.dumps(asyncio.run(run(options.clients, options.interval))))


if __name__ == "__main__":
    main()
