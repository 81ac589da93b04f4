"""One user floods a chat socket; does anyone else notice? The figures issue 9 asks for.

    .venv/bin/python -m bench.flood                  # 20 s flood, writes its section of docs/benchmarks.md
    .venv/bin/python -m bench.flood --seconds 2 --out /tmp/x   # the smoke test

Real processes on loopback (bench/harness.py): redis-server, the stub Messages API
streaming each reply slowly (100 words, 50 ms apart: 5 s), and the service under uvicorn
with the product's default limits. The flooder is its own process (so its sending does not
steal the measuring process's event loop): it sends message frames as fast as its socket
takes them, and reads whatever comes back. Meanwhile a second user calls
`GET /api/v1/auth/me` back to back. Figures:

- the bystander's latency before the flood (baseline) and during it: p50, p99, max;
- after the flood, the flooder waits for a reply to be streaming, then disconnects: the
  time from its disconnect to the service closing that reply's LLM stream (its last work),
  and how many messages the service stored for it after the disconnect (should be none).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench import sections
from bench.harness import PY, ROOT, Stack, machine, percentiles

REPLY_WORDS, WORD_PAUSE = 100, 0.05
BEGIN, END = "<!-- flood: written by python -m bench.flood -->", "<!-- /flood -->"


# --- the flooder, run as `python -m bench.flood --flooder URL TOKEN SECONDS` --------------


async def flood(ws_url: str, seconds: float) -> dict[str, Any]:
    frame = json.dumps({"type": "message", "content": "flood"})
    received: dict[str, int] = {}
    sent = 0
    flood_over = asyncio.Event()
    reply_streaming = asyncio.Event()
    async with websockets.connect(ws_url, close_timeout=1) as ws:

        async def send_forever() -> None:
            nonlocal sent
            while True:
                await ws.send(frame)
                sent += 1
                await asyncio.sleep(0)  # let the reader in; sending never waits otherwise

        async def read_forever() -> None:
            async for raw in ws:
                kind = json.loads(raw)
                key = kind.get("code", kind["type"])
                received[key] = received.get(key, 0) + 1
                if kind["type"] == "chunk" and flood_over.is_set():
                    reply_streaming.set()

        tasks = [asyncio.create_task(send_forever()), asyncio.create_task(read_forever())]
        await asyncio.sleep(seconds)
        flood_over.set()
        # Leave while a reply is being written (one is, most of the time), so there is work to stop.
        try:
            await asyncio.wait_for(reply_streaming.wait(), 30)
        except TimeoutError:
            pass
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # The client leaves the way a closed tab or a killed process does: the connection is
        # dropped, with no close handshake. (A polite close frame would wait behind every
        # frame already sent, which the service reads at its refusal pace.)
        disconnected_at = time.time()
        ws.transport.abort()
    return {"sent": sent, "received": received, "disconnected_at": disconnected_at, "left_mid_reply": reply_streaming.is_set()}


# --- the measurement ------------------------------------------------------------------------


async def new_user(http: httpx.AsyncClient) -> str:
    email, password = f"flood-{uuid.uuid4().hex[:12]}@example.com", "bench-password"
    (await http.post("/api/v1/auth/register", json={"email": email, "password": password})).raise_for_status()
    response = await http.post("/api/v1/auth/login", json={"email": email, "password": password})
    response.raise_for_status()
    return response.json()["access_token"]


async def call_me_until(http: httpx.AsyncClient, token: str, stop: asyncio.Event | float) -> list[float]:
    """`GET /api/v1/auth/me` back to back until `stop` is set (or the deadline passes); ms each."""
    headers = {"Authorization": f"Bearer {token}"}
    samples = []
    deadline = stop if isinstance(stop, float) else None
    while not (deadline and time.monotonic() >= deadline) and not (isinstance(stop, asyncio.Event) and stop.is_set()):
        started = time.perf_counter()
        (await http.get("/api/v1/auth/me", headers=headers)).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.005)  # a busy client, not a load generator
    return samples


async def stored_messages(http: httpx.AsyncClient, token: str) -> int:
    response = await http.get("/api/v1/chat/messages", params={"limit": 200}, headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return len(response.json()["messages"])


async def run(seconds: float, baseline_seconds: float) -> dict[str, Any]:
    async with Stack() as stack:
        stub = await stack.stub_llm(0.0)
        async with httpx.AsyncClient(timeout=30) as plain:
            reply = " ".join(f"w{i}" for i in range(REPLY_WORDS))
            (await plain.post(f"{stub}/_stub/config", json={"chunk_delay": WORD_PAUSE, "reply_text": reply})).raise_for_status()
        url = await stack.service(ANTHROPIC_BASE_URL=stub)
        async with httpx.AsyncClient(base_url=url, timeout=60) as http, httpx.AsyncClient(timeout=10) as plain:
            flooder_token, bystander_token = await new_user(http), await new_user(http)
            baseline = await call_me_until(http, bystander_token, time.monotonic() + baseline_seconds)

            ws_url = url.replace("http://", "ws://") + f"/ws/chat?token={flooder_token}"
            flooder = await asyncio.create_subprocess_exec(
                PY,
                "-m",
                "bench.flood",
                "--flooder",
                ws_url,
                str(seconds),
                cwd=ROOT,
                env=stack.env(),
                stdout=asyncio.subprocess.PIPE,
            )
            flood_done = asyncio.Event()
            during_task = asyncio.create_task(call_me_until(http, bystander_token, flood_done))
            out, _ = await flooder.communicate()
            flood_done.set()
            during = await during_task
            result = json.loads(out)

            # The reply being written at the disconnect: when did the service close its stream?
            deadline = time.monotonic() + 30
            stats = (await plain.get(f"{stub}/_stub/stats")).json()
            while stats["streams_open"] and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
                stats = (await plain.get(f"{stub}/_stub/stats")).json()
            stopped_after = stats["last_stream_end"] - result["disconnected_at"]
            stored_at_stop = await stored_messages(http, flooder_token)
            await asyncio.sleep(3)
            stored_later = await stored_messages(http, flooder_token)
    return {
        "seconds": seconds,
        "baseline_me_ms": percentiles(baseline),
        "flood_me_ms": percentiles(during),
        "flooder": {k: v for k, v in result.items() if k != "disconnected_at"},
        "llm_streams_abandoned": stats["streams_abandoned"],
        "work_stopped_after_disconnect_s": stopped_after,
        "messages_stored_for_flooder": stored_at_stop,
        "messages_stored_3s_after_stop": stored_later - stored_at_stop,
    }


def section(r: dict[str, Any]) -> str:
    b, f, fl = r["baseline_me_ms"], r["flood_me_ms"], r["flooder"]
    m = machine()
    received = ", ".join(f"{k} {v:,}" for k, v in sorted(fl["received"].items()))
    return f"""{BEGIN}
## One user flooding a chat socket (`python -m bench.flood`, {time.strftime("%Y-%m-%d %H:%M", time.gmtime())} UTC)
{m["cores"]} cores, everything on loopback; product defaults (`CHAT_MESSAGES_PER_MINUTE` 20,
`MAX_SOCKETS_PER_USER` 5); the stub LLM streams each reply as {REPLY_WORDS} words {WORD_PAUSE * 1000:.0f} ms apart.
One socket sent message frames as fast as it could for {r["seconds"]:.0f} s while another user called
`GET /api/v1/auth/me` back to back.

| measure | goal | figure |
| --- | --- | --- |
| another user's `/auth/me` p99 during the flood | <= 50 ms | **{f["p99"]:.1f} ms** (p50 {f["p50"]:.1f}, max {f["max"]:.1f}, n {f["n"]:,}) |
| the same with no flood (baseline) | | p99 {b["p99"]:.1f} ms (p50 {b["p50"]:.1f}, max {b["max"]:.1f}, n {b["n"]:,}) |
| flooder's disconnect to its work stopping (its LLM stream closed) | <= 1 s | **{r["work_stopped_after_disconnect_s"] * 1000:.0f} ms** (left mid-reply: {fl["left_mid_reply"]}; streams cut short: {r["llm_streams_abandoned"]}) |
| messages stored for the flooder after its work stopped (3 s later) | 0 | {r["messages_stored_3s_after_stop"]} |

The flooder handed {fl["sent"]:,} frames to its socket; most were still queued in socket buffers when it left, since
the service reads a refused client's frames at most 100 a second. It got back: {received}.
The service stored {r["messages_stored_for_flooder"]} messages for it (its own and the coach's replies), all within the rate limit.
Before issue 9, on the same kind of flood of 3,000 frames, another user's `/auth/me` timed out
at 30 s and the service went on working for the gone client for about 98 s.
{END}"""


def write_section(path: Path, text: str) -> None:
    sections.write_section(path, text, BEGIN, END)


def carry_over(path: Path, text: str) -> str:
    """For `python -m bench`, which rewrites benchmarks.md: keep this benchmark's last section."""
    return sections.carry_over(path, text, BEGIN, END)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--flooder":
        print(json.dumps(asyncio.run(flood(sys.argv[2], float(sys.argv[3])))))
        return
    parser = argparse.ArgumentParser(prog="python -m bench.flood", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the flood lasts")
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=Path("docs"), help="benchmarks.md there gets this benchmark's section")
    args = parser.parse_args()
    result = asyncio.run(run(args.seconds, args.baseline_seconds))
    text = section(result)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    write_section(args.out / "benchmarks.md", text)
    (args.out / "benchmarks-flood.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
