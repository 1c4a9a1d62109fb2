"""graphql-transport-ws at /graphql, served by us rather than per subscriber by Strawberry.

Strawberry would execute a subscription's selection and serialize its result once per
subscriber per event. Here a pushed feed item is rendered once per distinct selection (the
`render_key`), and every subscriber of that selection gets the same payload spliced into its
own frame. Queries and mutations sent over the socket run through the schema as usual.

Close codes (graphql-transport-ws): 4400 bad message, 4401 subscribe before ack,
4403 bad or missing token, 4406 wrong subprotocol, 4408 no connection_init in time,
4409 duplicate subscription id, 4429 second connection_init, 4500 internal error. Ours: 4499
a subscriber fell too
far behind (resume from the last cursor you received).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt
import structlog
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    parse,
    print_ast,
    validate,
    visit,
)
from graphql import execute as graphql_execute
from graphql.language import Visitor
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from auth.tokens import InvalidToken, bearer_token
from auth.viewer import viewer_for_token
from dataloaders.loaders import build_loaders
from feed.hub import FeedHub, ResyncNeeded
from feed.store import FeedEntry
from models.errors import DomainError
from models.rules import permissions
from models.rules.permissions import IntegrationScope, IntegrationViewer, UserViewer
from resolvers.context import Context, build_context
from resolvers.feed import ResyncRequired, position_of
from schema import schema
from schema.errors import shape_error
from schema.feed import FeedItem

log = structlog.get_logger("microcred.ws")

PROTOCOL = "graphql-transport-ws"
SLOW_SUBSCRIBER = 4499


@lru_cache(maxsize=512)
def _parse_and_validate(query: str) -> tuple[DocumentNode | None, tuple[GraphQLError, ...]]:
    try:
        document = parse(query)
    except GraphQLError as exc:
        return None, (exc,)
    return document, tuple(validate(schema._schema, document))


def _errors(errors: Sequence[GraphQLError]) -> list[dict[str, Any]]:
    return [shape_error(e).formatted for e in errors]


class _Variables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.names.add(node.name.value)


@dataclass(frozen=True)
class RenderKey:
    """What makes two subscribers receive the same bytes for an item: the district (modules
    resolve per district) and the selection with the variables it uses (not the cursor)."""

    district_id: int
    document: str
    variables: str


def render_key(
    district_id: int, document: DocumentNode, field: FieldNode, variables: dict[str, Any]
) -> RenderKey:
    assert field.selection_set is not None
    fragments = [d for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
    alias = f"{field.alias.value}: " if field.alias else ""
    text = " ".join(
        [
            f"subscription {{ {alias}newsFeed {print_ast(field.selection_set)} }}",
            *(print_ast(f) for f in fragments),
        ]
    )
    used = _Variables()
    visit(field.selection_set, used)
    for fragment in fragments:
        visit(fragment, used)
    kept = {k: variables[k] for k in sorted(used.names) if k in variables}
    declared = ""
    if kept:
        # Re-declare the variables the selection uses, with the original types.
        op = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        decls = [
            print_ast(v) for v in op.variable_definitions or () if v.variable.name.value in kept
        ]
        declared = f"({', '.join(decls)})"
        text = text.replace("subscription {", f"subscription{declared} {{", 1)
    return RenderKey(district_id, text, json.dumps(kept, sort_keys=True, default=str))


class Renderer:
    """Renders feed items for a selection: one execution and one serialization per item."""

    def __init__(self, app_state: Any) -> None:
        self.state = app_state

    async def __call__(self, key: Hashable, entries: Sequence[FeedEntry]) -> list[str]:
        assert isinstance(key, RenderKey)
        document, _ = _parse_and_validate(key.document)
        assert document is not None
        variables = json.loads(key.variables)
        # Rendering reads only what any reader of this district's feed may see.
        viewer = IntegrationViewer(
            "feed-renderer", key.district_id, frozenset({IntegrationScope.STATS_READ})
        )
        context = Context(
            db=self.state.db,
            settings=self.state.settings,
            viewer=viewer,
            loaders=build_loaders(self.state.db, key.district_id),
        )
        payloads = []
        for entry in entries:
            result = graphql_execute(
                schema._schema,
                document,
                root_value=FeedItem.from_entry(entry),
                context_value=context,
                variable_values=variables,
            )
            if asyncio.iscoroutine(result):
                result = await result
            body: dict[str, Any] = {"data": result.data}
            if result.errors:
                body["errors"] = _errors(result.errors)
            payloads.append(json.dumps(body, separators=(",", ":")))
        return payloads


class Subscription:
    """One live newsFeed subscription of one socket (the hub's Subscriber)."""

    def __init__(self, conn: Connection, sub_id: str, key: RenderKey) -> None:
        self.conn = conn
        self.id = sub_id
        self.district_id = key.district_id
        self.user_id = conn.viewer.user_id if isinstance(conn.viewer, UserViewer) else None
        self.cursor = 0
        self.render_key = key
        self.prefix = '{"id":' + json.dumps(sub_id) + ',"type":"next","payload":'

    def still_authorized(self) -> bool:
        return self.conn.expires_at is None or time.time() < self.conn.expires_at

    def deliver(self, entry: FeedEntry, payload: str) -> bool:
        return self.conn.offer(self.prefix + payload + "}")

    def revoke(self, reason: str) -> None:
        self.conn.offer(
            json.dumps(
                {
                    "id": self.id,
                    "type": "error",
                    "payload": [
                        {
                            "message": f"The subscription ended: {reason}.",
                            "extensions": {"code": "UNAUTHENTICATED"},
                        }
                    ],
                }
            )
        )
        self.conn.subscriptions.pop(self.id, None)


class Connection:
    """One socket. Kept small: thousands stay open, mostly idle (no loaders, no parked
    writer task; a drain task exists only while frames are waiting)."""

    __slots__ = (
        "closing",
        "drain",
        "expires_at",
        "hub",
        "outbox",
        "state",
        "subscriptions",
        "tasks",
        "token",
        "viewer",
        "ws",
    )

    def __init__(self, websocket: WebSocket, hub: FeedHub, state: Any) -> None:
        self.ws = websocket
        self.hub = hub
        self.state = state
        self.viewer: UserViewer | IntegrationViewer | None = None
        self.expires_at: float | None = None
        self.token = ""
        self.subscriptions: dict[str, Subscription] = {}
        self.outbox: deque[str] = deque()
        self.drain: asyncio.Task[None] | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.closing = False

    def offer(self, frame: str) -> bool:
        """Queue a frame; a subscriber too far behind is closed so it slows nobody else."""
        if self.closing:
            return False
        if len(self.outbox) >= self.state.settings.ws_queue_limit:
            self._close_soon(SLOW_SUBSCRIBER, "Too far behind; resume from your last cursor")
            return False
        self.outbox.append(frame)
        if self.drain is None:
            self.drain = asyncio.ensure_future(self._drain())
        return True

    async def _drain(self) -> None:
        try:
            while self.outbox and not self.closing:
                await self.ws.send_text(self.outbox.popleft())
        except Exception:  # the socket went away; serve() cleans up
            self.closing = True
        finally:
            self.drain = None

    def _close_soon(self, code: int, reason: str) -> None:
        if not self.closing:
            self.closing = True
            self._spawn(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        self.closing = True
        with contextlib.suppress(Exception):
            if self.ws.application_state is WebSocketState.CONNECTED:
                await self.ws.close(code, reason)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def serve(self) -> None:
        offered = self.ws.scope.get("subprotocols") or []
        if PROTOCOL not in offered:
            await self.ws.close(4406, "Subprotocol not acceptable")
            return
        await self.ws.accept(subprotocol=PROTOCOL)
        try:
            await self._handshake()
            while not self.closing:
                raw = await self.ws.receive_text()
                await self._handle(raw)
        except WebSocketDisconnect:
            pass
        except Exception:
            # Whatever went wrong, the client gets a close code, not a dropped connection.
            log.exception("A websocket connection failed")
            await self._close(4500, "Internal server error")
        finally:
            self.closing = True
            for sub in self.subscriptions.values():
                self.hub.unsubscribe(sub)
            self.subscriptions.clear()
            pending = [*self.tasks, *([self.drain] if self.drain else [])]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _handshake(self) -> None:
        timeout = self.state.settings.ws_init_timeout
        try:
            raw = await asyncio.wait_for(self.ws.receive_text(), timeout)
        except TimeoutError:
            await self._close(4408, "Connection initialisation timeout")
            raise WebSocketDisconnect(4408) from None
        message = self._decode(raw)
        if message is None or message.get("type") != "connection_init":
            await self._close(4400, "Expected connection_init")
            raise WebSocketDisconnect(4400)
        payload = message.get("payload") or {}
        try:
            header = payload.get("authorization") if isinstance(payload, dict) else None
            token = bearer_token(header)
            if token is None:
                raise InvalidToken("no token")
            self.viewer, _ = await viewer_for_token(
                self.state.db, self.state.settings.jwt_secret, token
            )
            self.expires_at = _expiry(token)
            self.token = token
        except InvalidToken:
            await self._close(4403, "Forbidden")
            raise WebSocketDisconnect(4403) from None
        self.offer(json.dumps({"type": "connection_ack"}))

    def _decode(self, raw: str) -> dict[str, Any] | None:
        try:
            message = json.loads(raw)
        except ValueError:
            return None
        return message if isinstance(message, dict) else None

    async def _handle(self, raw: str) -> None:
        message = self._decode(raw)
        kind = message.get("type") if message else None
        if message is None or not isinstance(kind, str):
            await self._close(4400, "Invalid message")
            return
        if kind == "ping":
            pong = {"type": "pong"}
            if "payload" in message:
                pong["payload"] = message["payload"]
            self.offer(json.dumps(pong))
        elif kind == "pong":
            return
        elif kind == "connection_init":
            await self._close(4429, "Too many initialisation requests")
        elif kind == "subscribe":
            await self._subscribe(message)
        elif kind == "complete":
            sub = self.subscriptions.pop(str(message.get("id")), None)
            if sub is not None:
                self.hub.unsubscribe(sub)
        else:
            await self._close(4400, f"Unknown message type {kind!r}")

    async def _subscribe(self, message: dict[str, Any]) -> None:
        sub_id, payload = message.get("id"), message.get("payload")
        if not isinstance(sub_id, str) or not isinstance(payload, dict):
            await self._close(4400, "subscribe needs an id and a payload")
            return
        if sub_id in self.subscriptions:
            await self._close(4409, f"Subscriber for {sub_id} already exists")
            return
        query = payload.get("query")
        variables = payload.get("variables") or {}
        if not isinstance(query, str) or not isinstance(variables, dict):
            await self._close(4400, "payload.query must be a string, variables an object")
            return
        document, errors = _parse_and_validate(query)
        if errors or document is None:
            self._error(sub_id, _errors(errors))
            return
        operation = _operation(document, payload.get("operationName"))
        if operation is None:
            self._error(
                sub_id,
                [
                    {
                        "message": "Name the operation to run (operationName).",
                        "extensions": {"code": "BAD_USER_INPUT"},
                    }
                ],
            )
            return
        if operation.operation is not OperationType.SUBSCRIPTION:
            self._spawn(self._execute_once(sub_id, query, variables, payload))
            return
        await self._start_feed(sub_id, document, operation, variables)

    async def _start_feed(
        self,
        sub_id: str,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: dict[str, Any],
    ) -> None:
        assert self.viewer is not None
        field = operation.selection_set.selections[0]
        assert isinstance(field, FieldNode)
        if not permissions.can_read_feed(self.viewer):
            self._error(
                sub_id,
                [
                    {
                        "message": "This token may not read the news feed.",
                        "extensions": {"code": "FORBIDDEN"},
                    }
                ],
            )
            return
        try:
            after = _argument(field, "after", variables)
            position = position_of(after, self.viewer.district_id)
        except DomainError as exc:
            self._error(sub_id, [{"message": exc.message, "extensions": {"code": exc.code}}])
            return
        sub = Subscription(
            self, sub_id, render_key(self.viewer.district_id, document, field, variables)
        )
        self.subscriptions[sub_id] = sub
        try:
            await self.hub.subscribe(sub, position)
        except ResyncNeeded as exc:
            self.subscriptions.pop(sub_id, None)
            resync = ResyncRequired(f"Start again without `after`: {exc}.")
            self._error(sub_id, [{"message": resync.message, "extensions": {"code": resync.code}}])

    async def _execute_once(
        self, sub_id: str, query: str, variables: dict[str, Any], payload: dict[str, Any]
    ) -> None:
        try:
            # A context per operation, as over HTTP: fresh loaders, the viewer re-read.
            context = await build_context(
                self.state.db, self.state.settings, f"Bearer {self.token}", self.state.publisher
            )
            result = await schema.execute(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=payload.get("operationName"),
            )
        except Exception:  # this runs in its own task: say what failed, never drop it
            log.exception("An operation over the websocket failed")
            self._error(
                sub_id, [{"message": "Internal server error.", "extensions": {"code": "INTERNAL"}}]
            )
            return
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [e.formatted for e in result.errors]
        self.offer(json.dumps({"id": sub_id, "type": "next", "payload": body}))
        self.offer(json.dumps({"id": sub_id, "type": "complete"}))

    def _error(self, sub_id: str, errors: list[dict[str, Any]]) -> None:
        self.offer(json.dumps({"id": sub_id, "type": "error", "payload": errors}))


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)


def _argument(field: FieldNode, name: str, variables: dict[str, Any]) -> Any:
    for arg in field.arguments or ():
        if arg.name.value == name:
            value = arg.value
            if isinstance(value, VariableNode):
                return variables.get(value.name.value)
            return getattr(value, "value", None)
    return None


def _expiry(token: str) -> float | None:
    exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    return float(exp) if exp is not None else None


async def websocket_endpoint(websocket: WebSocket) -> None:
    state = websocket.app.state
    await Connection(websocket, state.hub, state).serve()
