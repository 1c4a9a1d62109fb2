"""The command line as an operator uses it: real processes against a real database."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from models.db import Database
from models.tables import Base, User
from tests.support import world

BIN = Path(sys.executable).parent / "microcred"


def _env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["MICROCRED_DATABASE_URL"] = database_url
    env["MICROCRED_JWT_SECRET"] = "cli-test-secret-0123456789abcdef0123"
    env["MICROCRED_LOG_LEVEL"] = "WARNING"
    return env


def _run_sync(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *args], env=_env(database_url), capture_output=True, text=True, timeout=120
    )


async def _run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(_run_sync, database_url, *args)


async def _row_counts(db: Database) -> dict[str, int]:
    async with db.read() as s:
        return {
            t.name: (await s.execute(select(func.count()).select_from(t))).scalar_one()
            for t in Base.metadata.sorted_tables
        }


async def test_import_applies_a_file_and_a_repeat_changes_nothing(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "roster.json"
    path.write_text(json.dumps(world()))
    first = await _run(database_url, "import", str(path))
    assert first.returncode == 0, first.stderr
    counts = await _row_counts(db)
    assert counts["users"] == 9 and counts["pages"] == 8
    again = await _run(database_url, "import", str(path))
    assert again.returncode == 0, again.stderr
    assert await _row_counts(db) == counts
    assert "nothing changed" in again.stdout.lower()


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (
            lambda d: d["memberships"].append({"user": "nobody", "group": "s1", "role": "MEMBER"}),
            "memberships[7]",
        ),
        (lambda d: d["users"][0].pop("name"), "users[0]"),
        (lambda d: d["users"][1].update(statsInclusion="SOMETIMES"), "users[1]"),
    ],
    ids=["unknown-reference", "missing-field", "wrong-enum"],
)
async def test_a_bad_file_exits_non_zero_names_the_record_and_writes_nothing(
    database_url: str, db: Database, tmp_path: Path, mutate, named: str
) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(world()))
    assert (await _run(database_url, "import", str(good))).returncode == 0
    before = await _row_counts(db)
    data = world()
    data["users"].append({"key": "new-teacher", "district": "d1", "name": "New Teacher"})
    mutate(data)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    result = await _run(database_url, "import", str(bad))
    assert result.returncode != 0
    assert named in result.stderr and "nothing changed" in result.stderr
    assert "Traceback" not in result.stderr
    assert await _row_counts(db) == before
    async with db.read() as s:
        assert (await s.execute(select(User).where(User.key == "new-teacher"))).first() is None


async def test_import_refuses_a_file_that_is_not_json(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"districts": [')
    result = await _run(database_url, "import", str(bad))
    assert result.returncode != 0 and "not valid JSON" in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_then_serve_answers_graphql_over_http(tmp_path: Path, backend: str) -> None:
    """What the README's run command does, on a fresh SQLite file: migrate, load the demo,
    serve, and answer a teacher's dashboard query with a minted token."""
    if backend != "sqlite":
        pytest.skip("the README's run command uses the embedded default")
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    demo = _run_sync(url, "demo")
    assert demo.returncode == 0, demo.stderr
    # The demo names a teacher to sign in as: "  <key>  teacher (<name>, ...)".
    teacher = next(line.split()[0] for line in demo.stdout.splitlines() if " teacher (" in line)
    token = _run_sync(url, "token", teacher)
    assert token.returncode == 0, token.stderr
    port = _free_port()
    server = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port)],
        env=_env(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(100):
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            else:
                pytest.fail("microcred serve did not become ready")
            graphiql = client.get("/graphql", headers={"Accept": "text/html"})
            assert graphiql.status_code == 200 and "graphiql" in graphiql.text.lower()
            reply = client.post(
                "/graphql",
                json={"query": "{ me { key badges { module { key } literacy fluency } } }"},
                headers={"Authorization": f"Bearer {token.stdout.strip()}"},
            )
        body = reply.json()
        assert "errors" not in body, body
        assert body["data"]["me"]["key"] == teacher
        assert len(body["data"]["me"]["badges"]) >= 8
    finally:
        server.terminate()
        server.wait(timeout=30)


async def test_stats_verify_reports_drift_and_repair_fixes_it(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    from sqlalchemy import update

    from models.services import stats as stats_service
    from models.tables import District, StatsPopulation

    path = tmp_path / "roster.json"
    path.write_text(json.dumps(world()))
    assert (await _run(database_url, "import", str(path))).returncode == 0
    clean = await _run(database_url, "stats", "verify")
    assert clean.returncode == 0, clean.stderr
    assert "no drift" in clean.stdout
    async with db.write() as s:
        await s.execute(update(StatsPopulation).values(counted=StatsPopulation.counted + 3))
    found = await _run(database_url, "stats", "verify")
    assert found.returncode == 1
    assert "counted users: stored" in found.stdout and "drift in 2 district(s)" in found.stdout
    repaired = await _run(database_url, "stats", "verify", "--repair")
    assert repaired.returncode == 0 and "repaired" in repaired.stdout
    async with db.read() as s:
        for district_id in (await s.execute(select(District.id))).scalars():
            assert (
                stats_service.compare(
                    await stats_service.stored(s, district_id),
                    await stats_service.recount(s, district_id),
                )
                == []
            )
    assert (await _run(database_url, "stats", "verify")).returncode == 0
