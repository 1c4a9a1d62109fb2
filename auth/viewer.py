"""Turn a verified token into the viewer the services authorize against."""

from __future__ import annotations

from sqlalchemy import select

from auth.tokens import IntegrationClaims, InvalidToken, decode_token
from models.db import Database
from models.rules.permissions import IntegrationViewer, UserViewer, Viewer
from models.tables import District, User


async def viewer_for_token(db: Database, secret: str, token: str) -> Viewer:
    """Raises InvalidToken when the token is bad or names nobody we know."""
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
            return IntegrationViewer(
                name=claims.name, district_id=district_id, scopes=claims.scopes
            )
        row = (
            await session.execute(
                select(
                    User.id, User.district_id, User.key, User.is_pl_manager, User.is_users_manager
                ).where(User.key == claims.user_key)
            )
        ).one_or_none()
    if row is None:
        raise InvalidToken("The access token names an unknown user.")
    return UserViewer(
        user_id=row.id,
        district_id=row.district_id,
        key=row.key,
        is_pl_manager=row.is_pl_manager,
        is_users_manager=row.is_users_manager,
    )
