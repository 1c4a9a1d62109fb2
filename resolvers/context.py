"""The per-request context: who is asking, the database, and fresh loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auth.tokens import InvalidToken, bearer_token
from auth.viewer import viewer_for_token
from dataloaders.loaders import Loaders, build_loaders
from feed.outbox import FeedPublisher
from models.db import Database
from models.errors import Unauthenticated
from models.rules.permissions import Viewer
from models.tables import User
from settings import Settings


@dataclass
class Context:
    db: Database
    settings: Settings
    viewer: Viewer | None
    loaders: Loaders
    # Why authentication failed, kept to tell the client once a field needs a viewer.
    auth_problem: str | None = None
    # The signed-in user's row as read at authentication (None for integrations).
    viewer_row: User | None = None
    # Announces committed feed items (None where nobody listens, e.g. a CLI).
    publisher: FeedPublisher | None = None
    # Strawberry sets request/response/websocket attributes on the context it is given.
    extra: dict[str, Any] = field(default_factory=dict)

    def require_viewer(self) -> Viewer:
        if self.viewer is None:
            raise Unauthenticated(
                self.auth_problem
                or 'Send an access token in the header "Authorization: Bearer <token>".'
            )
        return self.viewer


async def build_context(
    db: Database,
    settings: Settings,
    authorization: str | None,
    publisher: FeedPublisher | None = None,
) -> Context:
    viewer: Viewer | None = None
    row: User | None = None
    problem: str | None = None
    try:
        token = bearer_token(authorization)
        if token is not None:
            viewer, row = await viewer_for_token(db, settings.jwt_secret, token)
    except InvalidToken as exc:
        problem = str(exc)
    # Loaders cache for one request (a websocket builds a context per operation).
    loaders = build_loaders(db, viewer.district_id if viewer else None)
    if row is not None:
        loaders.user_by_id.prime(row.id, row)
    return Context(
        db=db,
        settings=settings,
        viewer=viewer,
        loaders=loaders,
        auth_problem=problem,
        viewer_row=row,
        publisher=publisher,
    )
