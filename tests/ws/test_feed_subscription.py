"""Subscription.newsFeed over real websockets (graphql-transport-ws)."""

from __future__ import annotations

import asyncio

from tests.support import Api, world
from tests.ws.support import feed_client

COMPLETE = "mutation($p: ID!) { completePage(pageId: $p) { earned { level } } }"


async def _earn(api: Api, user: str, page: str) -> None:
    await api.ok(COMPLETE, {"p": await api.id("Page", page)}, as_user=user)


async def test_live_items_arrive_once_in_order(api: Api) -> None:
    await api.seed(world())
    async with feed_client(api.server.base_url) as client:
        assert (await client.init(api.token("t3")))["type"] == "connection_ack"
        await client.subscribe()
        await asyncio.sleep(0.2)
        await _earn(api, "t1", "m2-l1")
        await _earn(api, "t2", "m2-l1")
        await _earn(api, "t2", "m1-l1")
        await _earn(api, "t2", "m1-l2")
        items = await client.items(3)
        assert [(i["user"]["key"], i["certification"]["module"]["key"]) for i in items] == [
            ("t1", "m2"),
            ("t2", "m2"),
            ("t2", "m1"),
        ]
        await client.nothing_more()


async def test_resume_replays_what_was_missed_then_goes_live(api: Api) -> None:
    await api.seed(world())
    async with feed_client(api.server.base_url) as client:
        await client.init(api.token("t3"))
        await client.subscribe()
        await asyncio.sleep(0.2)
        await _earn(api, "t1", "m2-l1")
        last = (await client.items(1))[0]["cursor"]
    await _earn(api, "t2", "m2-l1")
    await _earn(api, "cm", "m2-l1")
    async with feed_client(api.server.base_url) as client:
        await client.init(api.token("t3"))
        await client.subscribe(after=last)
        replayed = await client.items(2)
        assert [i["user"]["key"] for i in replayed] == ["t2", "cm"]
        await _earn(api, "sm", "m2-l1")
        assert [i["user"]["key"] for i in await client.items(1)] == ["sm"]
        await client.nothing_more()


async def test_each_district_gets_only_its_own_items(api: Api) -> None:
    await api.seed(world())
    async with feed_client(api.server.base_url) as d1, feed_client(api.server.base_url) as d2:
        await d1.init(api.token("t3"))
        await d2.init(api.token("x1"))
        await d1.subscribe()
        await d2.subscribe()
        await asyncio.sleep(0.2)
        await _earn(api, "x1", "m9-l1")
        await _earn(api, "t1", "m2-l1")
        assert [i["user"]["key"] for i in await d1.items(1)] == ["t1"]
        assert [i["user"]["key"] for i in await d2.items(1)] == ["x1"]
        await d1.nothing_more()
        await d2.nothing_more()


async def test_opting_out_hides_items_live_and_in_replays_until_opting_back_in(
    api: Api,
) -> None:
    await api.seed(world())
    share = """mutation($s: Boolean!) {
      updatePreferences(input: {shareCertificationsInFeed: $s}) { key } }"""
    async with feed_client(api.server.base_url) as client:
        await client.init(api.token("t3"))
        await client.subscribe()
        await asyncio.sleep(0.2)
        await _earn(api, "t1", "m2-l1")
        first = (await client.items(1))[0]
    await api.ok(share, {"s": False}, as_user="t1")
    async with feed_client(api.server.base_url) as client:
        await client.init(api.token("t3"))
        start = "WyJmZWVkIiwxLDBd"  # position 0 of district 1: replay everything
        await client.subscribe(after=start)
        await client.nothing_more()  # t1's earlier item is hidden from the replay
        await api.ok(share, {"s": True}, as_user="t1")
    async with feed_client(api.server.base_url) as client:
        await client.init(api.token("t3"))
        await client.subscribe(after=start)
        assert (await client.items(1))[0]["id"] == first["id"]


async def test_protocol_errors_close_with_the_documented_codes(api: Api) -> None:
    await api.seed(world())
    base = api.server.base_url
    async with feed_client(base) as client:
        await client.send({"type": "connection_init", "payload": {"authorization": "Bearer x"}})
        assert await client.closed_with() == 4403
    async with feed_client(base) as client:
        await client.send({"type": "connection_init", "payload": {}})
        assert await client.closed_with() == 4403
    async with feed_client(base) as client:  # expired
        await client.init(api.token("t1", ttl=-10)) if False else await client.send(
            {
                "type": "connection_init",
                "payload": {"authorization": f"Bearer {api.token('t1', ttl=-10)}"},
            }
        )
        assert await client.closed_with() == 4403
    async with feed_client(base) as client:
        assert await client.closed_with(within=5) == 4408  # never sent connection_init
    async with feed_client(base) as client:
        await client.init(api.token("t1"))
        await client.send({"type": "connection_init", "payload": {}})
        assert await client.closed_with() == 4429
    async with feed_client(base) as client:
        await client.init(api.token("t1"))
        await client.subscribe("same")
        await client.subscribe("same")
        assert await client.closed_with() == 4409


async def test_a_cursor_the_server_cannot_serve_is_resync_required(api: Api) -> None:
    await api.seed(world())
    async with feed_client(api.server.base_url) as client:
        await client.init(api.token("t1"))
        await client.subscribe(after="WyJmZWVkIiwxLDk5OV0")  # position 999: ahead of the feed
        message = await client.receive()
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == "RESYNC_REQUIRED"
        await client.subscribe("2", after="WyJmZWVkIiwyLDBd")  # another district's cursor
        message = await client.receive()
        assert message["payload"][0]["extensions"]["code"] == "RESYNC_REQUIRED"
        assert not api.server.app.state.hub.groups  # a refused resume leaves nothing behind


async def test_ping_pong_and_queries_over_the_socket(api: Api) -> None:
    await api.seed(world())
    async with feed_client(api.server.base_url) as client:
        await client.init(api.token("t1"))
        await client.send({"type": "ping", "payload": {"n": 1}})
        assert await client.receive() == {"type": "pong", "payload": {"n": 1}}
        await client.send({"id": "q", "type": "subscribe", "payload": {"query": "{ me { key } }"}})
        assert (await client.receive())["payload"] == {"data": {"me": {"key": "t1"}}}
        assert (await client.receive()) == {"id": "q", "type": "complete"}


async def test_a_subscription_without_arguments_and_with_aliases_and_fragments(api: Api) -> None:
    await api.seed(world())
    bare = "subscription { newsFeed { user { key } } }"
    fancy = """subscription Watch { item: newsFeed { ...Bits } }
      fragment Bits on FeedItem { kind certification { level } }"""
    async with feed_client(api.server.base_url) as client:
        await client.init(api.token("t3"))
        await client.subscribe("bare", query=bare)
        await client.subscribe("fancy", query=fancy)
        await asyncio.sleep(0.2)
        await _earn(api, "t1", "m2-l1")
        got = {}
        for _ in range(2):
            message = await client.receive()
            got[message["id"]] = message["payload"]["data"]
        assert got == {
            "bare": {"newsFeed": {"user": {"key": "t1"}}},
            "fancy": {
                "item": {"kind": "CERTIFICATION_EARNED", "certification": {"level": "LITERACY"}}
            },
        }
