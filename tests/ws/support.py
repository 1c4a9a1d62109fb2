"""A small graphql-transport-ws client over real websockets, for tests."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

FEED = """subscription($after: String) { newsFeed(after: $after) {
  id cursor kind user { key } certification { module { key } level earnedBy } } }"""


class FeedClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, within: float = 10) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), within))

    async def init(self, token: str | None) -> dict[str, Any]:
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await self.send({"type": "connection_init", "payload": payload})
        return await self.receive()

    async def subscribe(self, sub_id: str = "1", after: str | None = None, query: str = FEED):
        await self.send(
            {
                "id": sub_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": {"after": after}},
            }
        )

    async def items(self, n: int, within: float = 10) -> list[dict[str, Any]]:
        """The next n feed items pushed (fails on anything else)."""
        got = []
        while len(got) < n:
            message = await self.receive(within)
            assert message["type"] == "next", message
            got.append(message["payload"]["data"]["newsFeed"])
        return got

    async def nothing_more(self, wait: float = 0.5) -> None:
        try:
            message = await asyncio.wait_for(self.ws.recv(), wait)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message: {message}")

    async def closed_with(self, within: float = 5) -> int | None:
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), within)
        except Exception:  # the close arrives as an exception carrying the code
            pass
        return self.ws.close_code


@asynccontextmanager
async def feed_client(base_url: str):
    url = base_url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"], compression=None) as ws:
        yield FeedClient(ws)
