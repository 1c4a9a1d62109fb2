"""News-feed fan-out, measured side by side in one run.

    .venv/bin/python -m bench.feed.run                      # 1,000 and 5,000 subscribers
    .venv/bin/python -m bench.feed.run --subscribers 1000 --rounds 3

For N subscribers of one `microcred serve` process (SQLite + memory://, compression off):
  - fan-out: the time from the mutation's commit (the item's createdAt, taken just before
    commit) to the moment the LAST subscriber has the item, median over rounds;
  - beside it, a raw `websockets` server process broadcasting a frame of the same size to the
    same number of clients, timed from the broadcast call to the last receipt;
  - memory per idle subscriber: the server's RSS growth divided by N once all are subscribed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.common import free_port, fresh_database, rss_kib, run, say, serve

FEED = (
    "subscription { newsFeed { id cursor kind createdAt user { key name } "
    "certification { module { key } level earnedBy } } }"
)
EARN = "mutation($p: ID!, $u: ID) { completePage(pageId: $p, userId: $u) { earned { level } } }"

RAW_SERVER = r"""
import asyncio, sys, time, json
from websockets.asyncio.server import serve, broadcast
clients = set()
async def handler(ws):
    clients.add(ws)
    try:
        async for message in ws:
            if message.startswith("BROADCAST "):
                frame = message[len("BROADCAST "):]
                started = time.time()
                broadcast([c for c in clients if c is not ws], frame)
                await ws.send(json.dumps({"started": started}))
    finally:
        clients.discard(ws)
async def main():
    async with serve(handler, "127.0.0.1", int(sys.argv[1]), compression=None, max_queue=None):
        print("ready", flush=True)
        await asyncio.Future()
asyncio.run(main())
"""


async def _open(
    url: str, n: int, subprotocols: list[str] | None, token: str | None = None
) -> list[ClientConnection]:
    """n connections, opened in waves so the listen backlog never overflows; with a token,
    each one also initialises and subscribes to the feed right away."""

    async def one() -> ClientConnection:
        c = await connect(
            url,
            subprotocols=subprotocols,
            compression=None,
            max_queue=None,
            open_timeout=60,
            ping_interval=None,
        )
        if token is not None:
            await c.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
                )
            )
            assert json.loads(await c.recv())["type"] == "connection_ack"
            await c.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": FEED}}))
        return c

    conns: list[ClientConnection] = []
    for start in range(0, n, 200):
        conns.extend(await asyncio.gather(*(one() for _ in range(start, min(n, start + 200)))))
    return conns


async def _last_receipt(conns: list[ClientConnection], expect: str) -> float:
    """Wait until every connection got a message containing `expect`; the last time seen."""

    async def one(c: ClientConnection) -> float:
        while True:
            message = await c.recv()
            if expect in message:
                return time.time()

    return max(await asyncio.gather(*(one(c) for c in conns)))


async def bench_microcred(n: int, rounds: int) -> dict[str, Any]:
    with fresh_database("sqlite", f"feed{n}") as url:
        run(url, "migrate")
        world = _world(rounds)
        path = f"/tmp/microcred-feed-world-{n}.json"
        await asyncio.to_thread(Path(path).write_text, json.dumps(world))
        run(url, "import", path)
        viewer = run(url, "token", "watcher").strip()
        tool = run(
            url, "token", "--integration", "bench", "--district", "d1", "--scope", "progress:write"
        ).strip()
        with serve(url) as server:
            ws_url = server.base_url.replace("http", "ws") + "/graphql"
            await asyncio.sleep(1.0)
            idle_before = rss_kib(server.pid)
            say(f"  connecting {n} subscribers")
            conns = await _open(ws_url, n, ["graphql-transport-ws"], viewer)
            await asyncio.sleep(2.0)
            idle_after = rss_kib(server.pid)
            ids = await _ids(url)
            samples = []
            async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
                for r in range(rounds):
                    waiter = asyncio.ensure_future(_last_receipt(conns, f"learner{r}"))
                    await asyncio.sleep(0.2)
                    reply = await client.post(
                        "/graphql",
                        json={
                            "query": EARN,
                            "variables": {"p": ids["page"], "u": ids[f"learner{r}"]},
                        },
                        headers={"Authorization": f"Bearer {tool}"},
                    )
                    assert reply.json()["data"]["completePage"]["earned"], reply.text
                    last = await waiter
                    created = await _created_at(server.base_url, viewer)
                    samples.append(last - created)
            for c in conns:
                await c.close()
    return {
        "subscribers": n,
        "fanout_ms": [round(s * 1000, 1) for s in samples],
        "fanout_median_ms": round(statistics.median(samples) * 1000, 1),
        "idle_kib_per_subscriber": round((idle_after - idle_before) / n, 1),
    }


async def _created_at(base: str, token: str) -> float:
    """The newest item's createdAt: taken in the transaction, just before its commit."""
    async with httpx.AsyncClient(base_url=base) as client:
        reply = await client.post(
            "/graphql",
            json={"query": "{ newsFeed(first: 1) { edges { node { createdAt } } } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
    stamp = reply.json()["data"]["newsFeed"]["edges"][0]["node"]["createdAt"]
    return datetime.fromisoformat(stamp).timestamp()


async def _ids(url: str) -> dict[str, str]:
    import aiosqlite

    from resolvers.ids import encode_id

    async with aiosqlite.connect(url.split("///", 1)[1]) as conn:
        rows = await (await conn.execute("SELECT key, id FROM users")).fetchall()
        page = await (await conn.execute("SELECT id FROM pages WHERE key = 'p1'")).fetchone()
    ids = {key: encode_id("User", pk) for key, pk in rows}
    ids["page"] = encode_id("Page", page[0])
    return ids


def _world(rounds: int) -> dict[str, Any]:
    return {
        "districts": [{"key": "d1", "name": "Bench District"}],
        "users": [
            {
                "key": "watcher",
                "district": "d1",
                "name": "Watcher",
                "firstLoginAt": "2026-09-01T12:00:00Z",
            }
        ]
        + [
            {
                "key": f"learner{r}",
                "district": "d1",
                "name": f"Learner {r}",
                "firstLoginAt": "2026-09-01T12:00:00Z",
            }
            for r in range(rounds)
        ],
        "modules": [
            {
                "key": "m1",
                "title": "Bench Module",
                "catalog": "MODERN_TEACHER",
                "pages": [{"key": "p1", "level": "LITERACY", "title": "Only page"}],
            }
        ],
    }


async def bench_raw(n: int, rounds: int, frame_size: int) -> dict[str, Any]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", RAW_SERVER, str(port), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        assert (await process.stdout.readline()).strip() == b"ready"
        url = f"ws://127.0.0.1:{port}"
        await asyncio.sleep(0.5)
        idle_before = rss_kib(process.pid)
        conns = await _open(url, n, None)
        await asyncio.sleep(2.0)
        idle_after = rss_kib(process.pid)
        control = await connect(url, compression=None)
        samples = []
        for r in range(rounds):
            marker = f"learner{r}"
            frame = json.dumps({"marker": marker, "pad": "x" * max(0, frame_size - 40)})
            waiter = asyncio.ensure_future(_last_receipt(conns, marker))
            await asyncio.sleep(0.2)
            await control.send("BROADCAST " + frame)
            started = json.loads(await control.recv())["started"]
            samples.append(await waiter - started)
        for c in [*conns, control]:
            await c.close()
    finally:
        process.terminate()
        await process.wait()
    return {
        "fanout_ms": [round(s * 1000, 1) for s in samples],
        "fanout_median_ms": round(statistics.median(samples) * 1000, 1),
        "idle_kib_per_connection": round((idle_after - idle_before) / n, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", default="1000,5000")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    lines = [
        "| subscribers | microcred commit to last delivery, median ms | raw websockets "
        "broadcast, median ms | ratio (target <= 1.5) | idle KiB per subscriber "
        "(target <= 25) | raw websockets server, idle KiB per connection |",
        "|---|---|---|---|---|---|",
    ]
    for n in (int(x) for x in args.subscribers.split(",")):
        say(f"== {n} subscribers ==")
        ours = asyncio.run(bench_microcred(n, args.rounds))
        say(json.dumps(ours))
        raw = asyncio.run(bench_raw(n, args.rounds, frame_size=330))
        say(json.dumps(raw))
        ratio = ours["fanout_median_ms"] / raw["fanout_median_ms"]
        lines.append(
            f"| {n:,} | {ours['fanout_median_ms']} | {raw['fanout_median_ms']} | "
            f"{ratio:.2f} | {ours['idle_kib_per_subscriber']} | "
            f"{raw['idle_kib_per_connection']} |"
        )
    print("\n".join(lines))
    print(f"\n(command: .venv/bin/python -m bench.feed.run {' '.join(sys.argv[1:])})")


if __name__ == "__main__":
    main()
