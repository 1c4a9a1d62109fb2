"""Helpers for API tests: a GraphQL client, tokens, IDs by key, and a seeded world."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import event, select
from starlette.applications import Starlette

from auth.tokens import mint_integration_token, mint_user_token
from models.db import Database
from models.services.importer import apply_import, parse_import
from models.tables import District, Group, Module, Page, Submission, User
from resolvers.ids import encode_id
from settings import Settings

_TABLES: dict[str, Any] = {
    "User": User,
    "Module": Module,
    "Page": Page,
    "District": District,
    "School": Group,
    "Cohort": Group,
}


@dataclass
class RunningServer:
    app: Starlette
    settings: Settings
    base_url: str


@dataclass
class Api:
    client: httpx.AsyncClient
    server: RunningServer
    db: Database

    def token(self, user_key: str, ttl: int = 3600) -> str:
        return mint_user_token(self.server.settings.jwt_secret, user_key, ttl)

    def integration(self, district_key: str, *scopes: str, name: str = "test-tool") -> str:
        return mint_integration_token(self.server.settings.jwt_secret, name, district_key, scopes)

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code in (200, 400), response.text
        return response.json()

    async def ok(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        as_user: str | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Run an operation that must succeed and return its data."""
        body = await self.post(query, variables, token=token or (as_user and self.token(as_user)))
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def error(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        as_user: str | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Run an operation that must fail; return its first error."""
        body = await self.post(query, variables, token=token or (as_user and self.token(as_user)))
        assert body.get("errors"), f"expected an error, got {body}"
        return body["errors"][0]

    async def id(self, type_name: str, key: str) -> str:
        table = _TABLES[type_name]
        async with self.db.read() as session:
            pk = (await session.execute(select(table.id).where(table.key == key))).scalar_one()
        return encode_id(type_name, pk)

    async def submission_id(self, user_key: str, page_key: str) -> str:
        async with self.db.read() as session:
            pk = (
                await session.execute(
                    select(Submission.id)
                    .join(User, User.id == Submission.user_id)
                    .join(Page, Page.id == Submission.page_id)
                    .where(User.key == user_key, Page.key == page_key)
                    .order_by(Submission.id.desc())
                    .limit(1)
                )
            ).scalar_one()
        return encode_id("Submission", pk)

    async def seed(self, data: dict[str, Any]) -> None:
        await seed(self.db, data)


async def seed(db: Database, data: dict[str, Any]) -> None:
    async with db.write() as session:
        await apply_import(session, parse_import(data))


def world() -> dict[str, Any]:
    """Two districts. In d1: a PL manager, a users manager, a school manager, a cohort
    manager, teachers, a DCF admin; modules of both catalogs, with and without Fluency,
    review pages and a pre-assessment. In d2: one teacher and a district module."""
    t = "2026-09-01T12:00:00Z"
    return copy.deepcopy(
        {
            "districts": [
                {"key": "d1", "name": "Springfield"},
                {"key": "d2", "name": "Shelbyville"},
            ],
            "schools": [
                {"key": "s1", "district": "d1", "name": "Lincoln Elementary"},
                {"key": "s2", "district": "d1", "name": "Roosevelt Middle"},
                {"key": "s9", "district": "d2", "name": "Shelbyville High"},
            ],
            "cohorts": [{"key": "c1", "district": "d1", "name": "New Teachers 2026"}],
            "users": [
                {
                    "key": "plm",
                    "district": "d1",
                    "name": "Ada Park",
                    "roles": ["PL_MANAGER"],
                    "firstLoginAt": t,
                },
                {
                    "key": "um",
                    "district": "d1",
                    "name": "Uma Mills",
                    "roles": ["USERS_MANAGER"],
                    "firstLoginAt": t,
                },
                {"key": "sm", "district": "d1", "name": "Sam Mendez", "firstLoginAt": t},
                {"key": "cm", "district": "d1", "name": "Cora Ng", "firstLoginAt": t},
                {"key": "t1", "district": "d1", "name": "Tia Brown", "firstLoginAt": t},
                {"key": "t2", "district": "d1", "name": "Tom Gray", "firstLoginAt": t},
                {"key": "t3", "district": "d1", "name": "Tess Hill"},
                {
                    "key": "adm",
                    "district": "d1",
                    "name": "Al Dean",
                    "dcfAccess": True,
                    "firstLoginAt": t,
                },
                {
                    "key": "x1",
                    "district": "d2",
                    "name": "Xena Cole",
                    "firstLoginAt": t,
                    "roles": ["PL_MANAGER"],
                },
            ],
            "memberships": [
                {"user": "sm", "group": "s1", "role": "MANAGER"},
                {"user": "cm", "group": "c1", "role": "MANAGER"},
                {"user": "t1", "group": "s1", "role": "MEMBER"},
                {"user": "t1", "group": "c1", "role": "MEMBER"},
                {"user": "t2", "group": "s2", "role": "MEMBER"},
                {"user": "t3", "group": "s1", "role": "MEMBER"},
                {"user": "x1", "group": "s9", "role": "MEMBER"},
            ],
            "modules": [
                {
                    "key": "m1",
                    "title": "Blended Learning 101",
                    "catalog": "MODERN_TEACHER",
                    "preAssessmentPassingScore": 80,
                    "pages": [
                        {"key": "m1-l1", "level": "LITERACY", "title": "Why blend?"},
                        {"key": "m1-l2", "level": "LITERACY", "title": "Station rotation"},
                        {"key": "m1-f1", "level": "FLUENCY", "title": "Plan a lesson"},
                        {
                            "key": "m1-f2",
                            "level": "FLUENCY",
                            "title": "Teach it",
                            "requiresReview": True,
                        },
                    ],
                },
                {
                    "key": "m2",
                    "title": "Digital Citizenship",
                    "catalog": "MODERN_TEACHER",
                    "pages": [{"key": "m2-l1", "level": "LITERACY", "title": "Footprints"}],
                },
                {
                    "key": "m3",
                    "title": "Springfield Literacy Goals",
                    "catalog": "DISTRICT",
                    "district": "d1",
                    "pages": [
                        {"key": "m3-l1", "level": "LITERACY", "title": "Our goals"},
                        {
                            "key": "m3-f1",
                            "level": "FLUENCY",
                            "title": "Apply",
                            "requiresReview": True,
                        },
                    ],
                },
                {
                    "key": "m9",
                    "title": "Shelbyville Onboarding",
                    "catalog": "DISTRICT",
                    "district": "d2",
                    "pages": [{"key": "m9-l1", "level": "LITERACY", "title": "Welcome"}],
                },
            ],
            "goals": [{"district": "d1", "module": "m2"}],
        }
    )


@contextmanager
def counting_statements(api: Api) -> Iterator[list[str]]:
    """The statements the server runs for the requests made inside the block. The server's
    background tasks (the feed relay, the hub's sweeper) use the same engine at their own
    pace; they were started before the block, so statements of those tasks are left out."""
    statements: list[str] = []
    engine = api.server.app.state.db.engine.sync_engine
    background = asyncio.all_tasks()

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if asyncio.current_task() in background:
            return
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
