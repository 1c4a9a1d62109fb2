"""Turn a verified token into the viewer the services authorize against."""

from __future__ import annotations

from sqlalchemy import select

from auth.tokens import IntegrationClaims, InvalidToken, decode_token
from models.db import Database
from models.rules.permissions import IntegrationViewer, UserViewer, Viewer
from models.tables import District, User


async def viewer_for_token(db: Database, secret: str, token: str) -> tuple[Viewer, User | None]:
    """The viewer and, for a user token, the user's row (read once per request).

    Raises InvalidToken when the token is bad or names nobody we know."""
    claims = decode_token(secret, token)
    async with db.read() as session:
        if isinstance(claims, IntegrationClaims):
            district_id = (
                await session.execute(
                    select(District.id).where(District.key == claims.district_key)
                )
            ).scalar_one_or_none()
            if district_id is None:
                raise InvalidToken("The integration token names an unknown district.")
            viewer = IntegrationViewer(
                name=claims.name, district_id=district_id, scopes=claims.scopes
            )
            return viewer, None
        user = (
            await session.execute(select(User).where(User.key == claims.user_key))
        ).scalar_one_or_none()
    if user is None:
        raise InvalidToken("The access token names an unknown user.")
    viewer = UserViewer(
        user_id=user.id,
        district_id=user.district_id,
        key=user.key,
        is_pl_manager=user.is_pl_manager,
        is_users_manager=user.is_users_manager,
    )
    return viewer, user
