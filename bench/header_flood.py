"""Connections that send nothing but header bytes: what the service's memory does (issue 25, item 2).

    .venv/bin/python -m bench.header_flood            # 32 connections for 12 s; writes its section of docs/benchmarks.md
    .venv/bin/python -m bench.header_flood --seconds 2 --out /tmp/x

The service runs as the Dockerfile runs it (uvicorn with `--http
service.header_timeout:HttpProtocol`, httptools). Each flooding connection sends a request
line and then one endless header line as fast as the socket takes it; when the server cuts
it (431), it connects again. Meanwhile `/healthz` is asked back to back. Figures: header
bytes sent, connections cut, the service's resident memory before and at its peak, and the
`/healthz` latency during the flood. Before issue 25: 1 GB sent in 12 s, RSS 1,163 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx

from bench import sections
from bench.harness import ROOT, Stack, machine, percentiles

BEGIN, END = "<!-- header-flood: written by python -m bench.header_flood -->", "<!-- /header-flood -->"
FILL = b"a" * 65_536


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def flood(port: int, until: float, totals: dict[str, int]) -> None:
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        answer = asyncio.create_task(reader.read())
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Flood: ")
            while time.monotonic() < until and not answer.done() and not writer.transport.is_closing():
                writer.write(FILL)
                await writer.drain()
                totals["bytes"] += len(FILL)
            if answer.done() and b" 431 " in (answer.result() or b"")[:20]:
                totals["cut_431"] += 1
        except (ConnectionError, asyncio.IncompleteReadError):
            totals["reset"] += 1
        finally:
            answer.cancel()
            writer.close()


async def run(connections: int, seconds: float) -> dict[str, Any]:
    async with Stack() as stack:
        url, proc = await stack.service_process("--http", "service.header_timeout:HttpProtocol", LLM_PROVIDER="offline")
        port = int(url.rsplit(":", 1)[1])
        before = rss_mb(proc.pid)
        totals = {"bytes": 0, "cut_431": 0, "reset": 0}
        until = time.monotonic() + seconds
        floods = [asyncio.create_task(flood(port, until, totals)) for _ in range(connections)]
        peak, health = before, []
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            while time.monotonic() < until:
                started = time.perf_counter()
                await http.get("/healthz")
                health.append((time.perf_counter() - started) * 1000)
                peak = max(peak, rss_mb(proc.pid))
                await asyncio.sleep(0.05)
        await asyncio.gather(*floods)
        after = rss_mb(proc.pid)
    return {
        "connections": connections,
        "seconds": seconds,
        "header_mb_sent": round(totals["bytes"] / 1e6, 1),
        "cut_with_431": totals["cut_431"],
        "reset": totals["reset"],
        "rss_mb": {"before": round(before, 1), "peak": round(peak, 1), "after": round(after, 1)},
        "healthz_ms": percentiles(health),
    }


def section(result: dict[str, Any]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rss, health = result["rss_mb"], result["healthz_ms"]
    return "\n".join(
        [
            BEGIN,
            f"## Header flood (`python -m bench.header_flood --connections {result['connections']} "
            f"--seconds {result['seconds']:g}`, {when})",
            "",
            f"{machine()['cpu']}. The standalone service command with the header protocol, its defaults",
            "(HTTP_MAX_HEADER_LINE_BYTES 16 KiB, HTTP_MAX_HEADER_BYTES 64 KiB).",
            "",
            "| figure | value |",
            "| --- | --- |",
            f"| header bytes the clients wrote (most into socket buffers the server never read) | {result['header_mb_sent']} MB |",
            f"| connections cut with 431 (then reconnected) | {result['cut_with_431']} (reset instead: {result['reset']}) |",
            f"| service RSS before / peak / after | {rss['before']} / {rss['peak']} / {rss['after']} MB |",
            f"| `/healthz` during, p50 / max | {health['p50']:.1f} / {health['max']:.1f} ms |",
            "",
            "Before issue 25: 32 connections for 12 s sent 1 GB of headers; RSS 85 → 1,163 MB; `/healthz` max 492 ms.",
            END,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.header_flood")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    options = parser.parse_args()
    result = asyncio.run(run(options.connections, options.seconds))
    print(json.dumps(result))
    sections.write_section(options.out, section(result), BEGIN, END)


if __name__ == "__main__":
    main()
