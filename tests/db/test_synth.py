"""`microcred synth`: a consistent benchmark dataset, written in bulk, loaded once per seed.

The command runs as an operator runs it (a real process against the test database); the
result is read back with SQL and held against the status rules and the stats recount, on
whichever backend MICROCRED_DATABASE_URL selects.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from cli.synth import Clock, Ids, SynthOptions, emit_chunk, plan_catalog, plan_district
from models.db import Database
from models.enums import CertificationStatus, EarnedBy, Level, PageState
from models.rules.status import PageInfo, all_pages_complete, derive_status, has_level
from models.services import stats
from models.tables import (
    Base,
    Certification,
    District,
    FeedItem,
    Module,
    PageProgress,
    User,
    UTCDateTime,
)

BIN = Path(sys.executable).parent / "microcred"
ARGS = ("--users", "600", "--districts", "2", "--modules", "8", "--seed", "7")


def _run_sync(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["MICROCRED_DATABASE_URL"] = database_url
    env["MICROCRED_LOG_LEVEL"] = "WARNING"
    return subprocess.run(
        [str(BIN), "synth", *args], env=env, capture_output=True, text=True, timeout=300
    )


async def _synth(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(_run_sync, database_url, *args)


def _json_line(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, f"stdout must hold the JSON line only: {done.stdout!r}"
    return json.loads(lines[-1])


async def _rows(db: Database, sql: str, **params: Any) -> list[Any]:
    async with db.read() as session:
        return list((await session.execute(text(sql), params)).all())


async def _count(db: Database, sql: str, **params: Any) -> int:
    return int((await _rows(db, sql, **params))[0][0])


async def _table_counts(db: Database) -> dict[str, int]:
    async with db.read() as session:
        return {
            t.name: (await session.execute(select(func.count()).select_from(t))).scalar_one()
            for t in Base.metadata.sorted_tables
        }


async def _check_rules(db: Database, district_id: int) -> dict[Level, set[CertificationStatus]]:
    """Every stored status, certification and submission of the district follows the rules;
    returns the statuses seen per level (NOT_STARTED included)."""
    d = {"d": district_id}
    visible = "(m.district_id IS NULL OR m.district_id = :d)"
    pages: dict[int, list[PageInfo]] = defaultdict(list)
    for pid, mid, level, review in await _rows(
        db,
        f"SELECT p.id, p.module_id, p.level, p.requires_review FROM pages p "
        f"JOIN modules m ON m.id = p.module_id WHERE {visible} ORDER BY p.position",
        **d,
    ):
        pages[mid].append(PageInfo(pid, Level(level), bool(review)))
    users = {
        uid: login
        for uid, login in await _rows(
            db, "SELECT id, first_login_at FROM users WHERE district_id = :d", **d
        )
    }
    progress: dict[tuple[int, int], dict[int, PageState]] = defaultdict(dict)
    for uid, mid, pid, state in await _rows(
        db,
        "SELECT user_id, module_id, page_id, state FROM page_progress WHERE district_id = :d",
        **d,
    ):
        progress[(uid, mid)][pid] = PageState(state)
    certs = {
        (uid, mid, Level(level)): EarnedBy(how)
        for uid, mid, level, how in await _rows(
            db,
            "SELECT user_id, module_id, level, earned_by FROM certifications "
            "WHERE district_id = :d",
            **d,
        )
    }
    passed = {
        (uid, mid)
        for uid, mid in await _rows(
            db,
            "SELECT user_id, module_id FROM pre_assessment_results "
            "WHERE district_id = :d AND passed AND score >= passing_score",
            **d,
        )
    }
    statuses = {
        (uid, mid, Level(level)): CertificationStatus(status)
        for uid, mid, level, status in await _rows(
            db,
            "SELECT user_id, module_id, level, status FROM module_statuses WHERE district_id = :d",
            **d,
        )
    }
    seen: dict[Level, set[CertificationStatus]] = defaultdict(set)
    checked = set()
    for uid in users:
        for mid, module_pages in pages.items():
            done = progress.get((uid, mid), {})
            assert set(done) <= {p.id for p in module_pages}
            for level in Level:
                if not has_level(module_pages, level):
                    continue
                key = (uid, mid, level)
                checked.add(key)
                expected = derive_status(module_pages, level, done, key in certs)
                assert statuses.get(key, CertificationStatus.NOT_STARTED) is expected, key
                seen[level].add(expected)
                how = certs.get(key)
                if how is EarnedBy.PAGES:
                    assert all_pages_complete(module_pages, level, done), key
                elif how is EarnedBy.PRE_ASSESSMENT:
                    assert level is Level.LITERACY and (uid, mid) in passed, key
    # No status or certification outside the district's visible modules and their levels.
    assert set(statuses) <= checked and set(certs) <= checked
    assert {(u, m) for u, m in progress} <= {(u, m) for u, m, _ in checked}

    # Review pages carry their submissions: pending while SUBMITTED, returned while RETURNED,
    # approved once COMPLETE.
    for state, status in (
        ("SUBMITTED", "PENDING"),
        ("RETURNED", "RETURNED"),
        ("COMPLETE", "APPROVED"),
    ):
        missing = await _count(
            db,
            "SELECT COUNT(*) FROM page_progress pp JOIN pages p ON p.id = pp.page_id "
            "WHERE pp.district_id = :d AND p.requires_review AND pp.state = :state "
            "AND NOT EXISTS (SELECT 1 FROM submissions s WHERE s.district_id = pp.district_id "
            "AND s.user_id = pp.user_id AND s.page_id = pp.page_id AND s.status = :status)",
            state=state,
            status=status,
            **d,
        )
        assert missing == 0, (state, status)
    pending = await _count(
        db, "SELECT COUNT(*) FROM submissions WHERE district_id = :d AND status = 'PENDING'", **d
    )
    submitted = await _count(
        db, "SELECT COUNT(*) FROM page_progress WHERE district_id = :d AND state = 'SUBMITTED'", **d
    )
    assert pending == submitted > 0
    # Reviewers are never the learner.
    assert (
        await _count(
            db,
            "SELECT COUNT(*) FROM submissions WHERE district_id = :d AND reviewed_by_id = user_id",
            **d,
        )
        == 0
    )
    return seen


async def test_synth_builds_a_consistent_dataset_once_per_seed(
    database_url: str, db: Database
) -> None:
    first = await _synth(database_url, *ARGS)
    out = _json_line(first)
    assert set(out) == {"district", "manager", "member", "users"}
    assert out["district"] == "syn7-d0"
    assert "synth:" in first.stderr  # progress goes to stderr

    districts = dict(await _rows(db, "SELECT key, id FROM districts"))
    assert set(districts) == {"syn7-d0", "syn7-d1"}
    did = districts[out["district"]]
    d = {"d": did}
    assert (
        await _count(db, "SELECT COUNT(*) FROM users WHERE district_id = :d", **d) == out["users"]
    )
    assert await _count(db, "SELECT COUNT(*) FROM users") == 600
    assert await _count(db, "SELECT COUNT(*) FROM modules WHERE district_id IS NULL") == 6
    assert await _count(db, "SELECT COUNT(*) FROM modules WHERE district_id = :d", **d) == 2

    # The named manager and member.
    [(manager_district, is_pl_manager)] = await _rows(
        db, "SELECT district_id, is_pl_manager FROM users WHERE key = :k", k=out["manager"]
    )
    assert manager_district == did and is_pl_manager
    assert (
        await _count(
            db,
            "SELECT COUNT(*) FROM memberships ms JOIN users u ON u.id = ms.user_id "
            "WHERE u.key = :k AND ms.district_id = :d AND ms.role = 'MEMBER'",
            k=out["member"],
            **d,
        )
        >= 1
    )

    # Roster: groups, managers, DCF, exclusions, never-logged-in users.
    where = "SELECT COUNT(*) FROM users WHERE district_id = :d AND "
    assert await _count(db, where + "dcf_access", **d) >= 5
    assert await _count(db, where + "dcf_access AND stats_inclusion = 'INCLUDE'", **d) >= 1
    assert await _count(db, where + "stats_inclusion = 'EXCLUDE'", **d) >= 1
    assert await _count(db, where + "first_login_at IS NULL", **d) >= 10
    assert await _count(db, where + "is_pl_manager", **d) == 2
    assert await _count(db, where + "is_users_manager", **d) == 1
    assert await _count(db, where + "NOT share_certifications_in_feed", **d) >= 1
    changes = "SELECT COUNT(*) FROM stats_inclusion_changes WHERE district_id = :d"
    assert await _count(db, changes, **d) == await _count(
        db, where + "stats_inclusion <> 'DEFAULT'", **d
    )
    for kind in ("SCHOOL", "COHORT"):
        groups = "SELECT COUNT(*) FROM groups WHERE district_id = :d AND kind = :kind"
        assert await _count(db, groups, kind=kind, **d) >= 1
    in_schools = await _rows(
        db,
        "SELECT u.id, COUNT(ms.group_id) FROM users u LEFT JOIN memberships ms "
        "ON ms.district_id = u.district_id AND ms.user_id = u.id AND ms.role = 'MEMBER' "
        "AND ms.group_id IN (SELECT id FROM groups WHERE kind = 'SCHOOL') "
        "WHERE u.district_id = :d GROUP BY u.id",
        **d,
    )
    assert {n for _, n in in_schools} == {1}  # every user is a member of one school
    unmanaged = (
        "SELECT COUNT(*) FROM groups g WHERE g.district_id = :d AND NOT EXISTS "
        "(SELECT 1 FROM memberships ms WHERE ms.group_id = g.id AND ms.role = 'MANAGER')"
    )
    assert await _count(db, unmanaged, **d) == 0

    # Never-logged-in users have no progress of any kind.
    for table in (
        "page_progress",
        "module_statuses",
        "certifications",
        "pre_assessment_results",
        "submissions",
    ):
        sql = (
            f"SELECT COUNT(*) FROM {table} t JOIN users u ON u.district_id = t.district_id "
            "AND u.id = t.user_id WHERE u.first_login_at IS NULL"
        )
        assert await _count(db, sql) == 0, table

    # Statuses, certifications and submissions follow the rules; every status at both levels.
    for district_id in districts.values():
        seen = await _check_rules(db, district_id)
        assert seen[Level.LITERACY] == set(CertificationStatus), district_id
        assert seen[Level.FLUENCY] == set(CertificationStatus), district_id
    complete_without_cert = (
        "SELECT COUNT(*) FROM module_statuses s WHERE s.status = 'COMPLETE' AND NOT EXISTS "
        "(SELECT 1 FROM certifications c WHERE c.district_id = s.district_id "
        "AND c.user_id = s.user_id AND c.module_id = s.module_id AND c.level = s.level)"
    )
    assert await _count(db, complete_without_cert) == 0
    by = "SELECT COUNT(*) FROM certifications WHERE district_id = :d AND earned_by = :how"
    assert await _count(db, by, how="PAGES", **d) >= 1
    assert await _count(db, by, how="PRE_ASSESSMENT", **d) >= 1
    failed_alone = (
        "SELECT COUNT(*) FROM pre_assessment_results r WHERE NOT r.passed AND NOT EXISTS "
        "(SELECT 1 FROM module_statuses s WHERE s.district_id = r.district_id "
        "AND s.user_id = r.user_id AND s.module_id = r.module_id)"
    )
    assert await _count(db, failed_alone) >= 1  # a failed pre-assessment alone is no progress

    # The feed: one item per certification of a user who shares them.
    feed = await _rows(
        db,
        "SELECT u.share_certifications_in_feed, COUNT(c.id), COUNT(f.id) FROM certifications c "
        "JOIN users u ON u.id = c.user_id LEFT JOIN feed_items f ON f.certification_id = c.id "
        "GROUP BY u.share_certifications_in_feed",
    )
    for share, certifications, items in feed:
        assert items == (certifications if share else 0)

    # Feed positions number each district's items 1..n in the order they were earned.
    positions = await _rows(
        db,
        "SELECT f.district_id, COUNT(*), MIN(f.seq), MAX(f.seq), COUNT(DISTINCT f.seq), "
        "MAX(s.last_seq) FROM feed_items f JOIN feed_sequences s ON s.district_id = f.district_id "
        "GROUP BY f.district_id",
    )
    assert len(positions) == 2
    for _, n, first_seq, last_seq, distinct, recorded in positions:
        assert (first_seq, last_seq, distinct, recorded) == (1, n, n, n)
    out_of_order = (
        "SELECT COUNT(*) FROM (SELECT created_at, LAG(created_at) OVER "
        "(PARTITION BY district_id ORDER BY seq) AS before FROM feed_items) AS x "
        "WHERE created_at < before"
    )
    assert await _count(db, out_of_order) == 0

    # Every reference resolves (on PostgreSQL synth skips the row-by-row foreign key checks).
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_key_constraints:
            pairs = [(e.parent.name, e.column.name) for e in fk.elements]
            parent = fk.referred_table.name
            sql = (
                f"SELECT COUNT(*) FROM {table.name} c WHERE "
                + " AND ".join(f"c.{child} IS NOT NULL" for child, _ in pairs)
                + f" AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE "
                + " AND ".join(f"p.{col} = c.{child}" for child, col in pairs)
                + ")"
            )
            assert await _count(db, sql) == 0, (table.name, pairs)

    # Timestamps read back through the mappings as aware datetimes on every backend.
    async with db.read() as session:
        for table in (District, Module, User, PageProgress, Certification, FeedItem):
            stamps = [
                getattr(row, column.key)
                for row in (await session.execute(select(table).limit(50))).scalars()
                for column in table.__table__.columns
                if isinstance(column.type, UTCDateTime)
            ]
            assert stamps and all(s is None or s.tzinfo is not None for s in stamps), table
    if db.is_sqlite:
        # ...and are stored as SQLAlchemy stores them, so they compare as text with its binds.
        stored_as = "'" + "-".join(["[0-9]" * 4, "[0-9]" * 2, "[0-9]" * 2]) + " "
        stored_as += ":".join(["[0-9]" * 2] * 3) + "." + "[0-9]" * 6 + "'"
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, UTCDateTime):
                    sql = f"SELECT COUNT(*) FROM {table.name} WHERE {column.name} NOT GLOB "
                    assert await _count(db, sql + stored_as) == 0, (table.name, column.name)

    # The stats counters are the recount.
    async with db.read() as session:
        for district_id in districts.values():
            recounted = await stats.recount(session, district_id)
            assert recounted.populations[0] > 0 and recounted.counts
            assert await stats.stored(session, district_id) == recounted

    # Same seed again: the same line, nothing written.
    before = await _table_counts(db)
    again = await _synth(database_url, *ARGS)
    assert _json_line(again) == out
    assert "loaded already" in again.stderr
    assert await _table_counts(db) == before


async def test_runs_with_other_seeds_share_a_database(database_url: str, db: Database) -> None:
    one = _json_line(await _synth(database_url, "--users", "60", "--modules", "3", "--seed", "1"))
    two = _json_line(
        await _synth(
            database_url, "--users", "45", "--districts", "2", "--modules", "4", "--seed", "2"
        )
    )
    assert (one["district"], one["users"]) == ("syn1-d0", 60)
    assert (two["district"], two["users"]) == ("syn2-d0", 23)
    assert two["manager"].startswith("syn2-d0-u") and two["member"].startswith("syn2-d0-u")
    keys = [k for (k,) in await _rows(db, "SELECT key FROM districts ORDER BY id")]
    assert keys == ["syn1-d0", "syn2-d0", "syn2-d1"]
    async with db.read() as session:
        for (district_id,) in await _rows(db, "SELECT id FROM districts"):
            assert await stats.stored(session, district_id) == await stats.recount(
                session, district_id
            )
    # The application's own inserts still get fresh ids (the sequences moved past synth's).
    async with db.write() as session:
        district = District(key="after-synth", name="After synth")
        session.add(district)
        await session.flush()
        session.add(User(district_id=district.id, key="after-synth-u", name="After"))
        await session.flush()


async def test_too_few_users_is_refused(database_url: str, db: Database) -> None:
    done = await _synth(database_url, "--users", "15", "--districts", "2")
    assert done.returncode == 1 and done.stdout == ""
    assert "at least 10 per district" in done.stderr
    assert await _count(db, "SELECT COUNT(*) FROM users") == 0


def test_a_seed_always_makes_the_same_rows() -> None:
    def rows(seed: int) -> list[Any]:
        opts = SynthOptions(users=300, modules=6, seed=seed)
        ids = Ids({t: 1 for t in ("districts", "groups", "users", "modules", "pages")})
        clock = Clock(sqlite=False)
        catalog, modules, pages = plan_catalog(opts, ids, clock.created)
        plan = plan_district(opts, 0, 300, ids, catalog)
        chunk = emit_chunk(plan, 0, 300, clock, seed)
        return [modules, pages, plan.group_rows, chunk.tables]

    assert rows(5) == rows(5)
    assert rows(5) != rows(6)
