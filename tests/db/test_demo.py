"""`microcred demo`: the demo district is believable, covers every status, and loads once.

`load_demo` writes through the importer and the real progress services; these tests only read
the result back with SQL, on whichever backend MICROCRED_DATABASE_URL selects.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from cli.demo import DEMO_DISTRICT_KEY, load_demo
from models.db import Database
from models.tables import Base


async def _scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.read() as session:
        return (await session.execute(text(sql), params)).scalar_one()


async def _count(db: Database, sql: str, **params: Any) -> int:
    return int(await _scalar(db, sql, **params))


async def _table_counts(db: Database) -> dict[str, int]:
    return {
        t.name: await _count(db, f'SELECT COUNT(*) FROM "{t.name}"')
        for t in Base.metadata.sorted_tables
    }


# Users of the demo district, and the modules it can see (the vendor catalog and its own).
DEMO = "(SELECT id FROM districts WHERE key = :d)"
VISIBLE = f"(m.district_id IS NULL OR m.district_id = {DEMO})"


async def test_demo_district_is_believable_and_covers_every_status(
    database_url: str, db: Database
) -> None:
    messages: list[str] = []
    help_text = await load_demo(database_url, echo=messages.append)
    d = DEMO_DISTRICT_KEY

    # Roster.
    assert await _count(db, f"SELECT COUNT(*) FROM users WHERE district_id = {DEMO}", d=d) >= 60
    schools = "SELECT COUNT(*) FROM groups WHERE district_id = " + DEMO + " AND kind = :k"
    assert await _count(db, schools, d=d, k="SCHOOL") >= 3
    assert await _count(db, schools, d=d, k="COHORT") >= 2
    user_where = f"SELECT COUNT(*) FROM users WHERE district_id = {DEMO} AND "
    assert await _count(db, user_where + "dcf_access", d=d) >= 3
    assert await _count(db, user_where + "stats_inclusion = 'EXCLUDE'", d=d) >= 1
    assert await _count(db, user_where + "dcf_access AND stats_inclusion = 'INCLUDE'", d=d) >= 1
    assert await _count(db, user_where + "first_login_at IS NULL", d=d) >= 3
    assert await _count(db, user_where + "is_pl_manager", d=d) >= 1
    assert await _count(db, user_where + "is_users_manager", d=d) >= 1
    assert await _count(db, user_where + "NOT share_certifications_in_feed", d=d) >= 1

    # Memberships: managers and members, people in several groups, someone holding both roles.
    in_demo = f"WHERE district_id = {DEMO}"
    for role in ("MEMBER", "MANAGER"):
        sql = f"SELECT COUNT(*) FROM memberships {in_demo} AND role = :r"
        assert await _count(db, sql, d=d, r=role) >= 3
    several = (
        f"SELECT COUNT(*) FROM (SELECT user_id FROM memberships {in_demo} "
        "GROUP BY user_id HAVING COUNT(DISTINCT group_id) > 1) AS x"
    )
    assert await _count(db, several, d=d) >= 3
    both = (
        f"SELECT COUNT(*) FROM (SELECT user_id, group_id FROM memberships {in_demo} "
        "GROUP BY user_id, group_id HAVING COUNT(DISTINCT role) = 2) AS x"
    )
    assert await _count(db, both, d=d) >= 1

    # Catalog: both catalogs, with and without Fluency, review pages, pre-assessments, goals.
    modules = f"SELECT COUNT(*) FROM modules m WHERE {VISIBLE}"
    assert await _count(db, modules, d=d) >= 8
    assert await _count(db, modules + " AND m.catalog = 'MODERN_TEACHER'", d=d) >= 3
    assert await _count(db, modules + " AND m.catalog = 'DISTRICT'", d=d) >= 2
    no_fluency = (
        modules + " AND NOT EXISTS (SELECT 1 FROM pages p WHERE p.module_id = m.id "
        "AND p.level = 'FLUENCY')"
    )
    assert await _count(db, no_fluency, d=d) >= 1
    assert await _count(db, modules + " AND m.pre_assessment_passing_score IS NOT NULL", d=d) >= 1
    review_pages = (
        "SELECT COUNT(*) FROM pages p JOIN modules m ON m.id = p.module_id "
        f"WHERE {VISIBLE} AND p.requires_review"
    )
    assert await _count(db, review_pages, d=d) >= 2
    assert await _count(db, f"SELECT COUNT(*) FROM district_goals {in_demo}", d=d) >= 2

    # Every status at both levels. COMPLETE and IN_PROGRESS are rows; NOT_STARTED is the
    # absence of a row, for a signed-in learner and a module that has that level.
    for level in ("LITERACY", "FLUENCY"):
        for status in ("COMPLETE", "IN_PROGRESS"):
            sql = f"SELECT COUNT(*) FROM module_statuses {in_demo} AND level = :l AND status = :s"
            assert await _count(db, sql, d=d, l=level, s=status) >= 3, (level, status)
        not_started = (
            f"SELECT COUNT(*) FROM users u CROSS JOIN modules m "
            f"WHERE u.district_id = {DEMO} AND u.first_login_at IS NOT NULL AND {VISIBLE} "
            "AND EXISTS (SELECT 1 FROM pages p WHERE p.module_id = m.id AND p.level = :l) "
            "AND NOT EXISTS (SELECT 1 FROM module_statuses s WHERE s.user_id = u.id "
            "AND s.module_id = m.id AND s.level = :l)"
        )
        assert await _count(db, not_started, d=d, l=level) >= 3, level

    # Certifications by pages and by pre-assessment; passed and failed pre-assessments.
    certs = f"SELECT COUNT(*) FROM certifications {in_demo} AND level = :l AND earned_by = :b"
    assert await _count(db, certs, d=d, l="LITERACY", b="PAGES") >= 3
    assert await _count(db, certs, d=d, l="LITERACY", b="PRE_ASSESSMENT") >= 3
    assert await _count(db, certs, d=d, l="FLUENCY", b="PAGES") >= 3
    results = f"SELECT COUNT(*) FROM pre_assessment_results {in_demo} AND passed = :p"
    assert await _count(db, results, d=d, p=True) >= 3
    assert await _count(db, results, d=d, p=False) >= 3
    recorded_by = await _scalar(
        db, f"SELECT MIN(recorded_by) FROM pre_assessment_results {in_demo}", d=d
    )
    assert recorded_by == "integration:assessment-engine"

    # The review queue: pending, approved and returned-with-feedback submissions.
    subs = f"SELECT COUNT(*) FROM submissions {in_demo} AND status = :s"
    assert await _count(db, subs, d=d, s="PENDING") >= 3
    assert await _count(db, subs, d=d, s="APPROVED") >= 3
    assert await _count(db, subs + " AND feedback IS NOT NULL", d=d, s="RETURNED") >= 1
    self_reviewed = f"SELECT COUNT(*) FROM submissions {in_demo} AND reviewed_by_id = user_id"
    assert await _count(db, self_reviewed, d=d) == 0

    # Nobody who never signed in has progress; the feed respects the opt-out.
    ghosts = (
        "SELECT COUNT(*) FROM page_progress pp JOIN users u ON u.id = pp.user_id "
        "WHERE u.first_login_at IS NULL"
    )
    assert await _count(db, ghosts) == 0
    assert await _count(db, f"SELECT COUNT(*) FROM feed_items {in_demo}", d=d) >= 10
    opted_out = (
        "SELECT COUNT(*) FROM certifications c JOIN users u ON u.id = c.user_id "
        f"WHERE u.district_id = {DEMO} AND NOT u.share_certifications_in_feed"
    )
    assert await _count(db, opted_out, d=d) >= 1
    opted_out_items = (
        "SELECT COUNT(*) FROM feed_items f JOIN users u ON u.id = f.user_id "
        "WHERE NOT u.share_certifications_in_feed"
    )
    assert await _count(db, opted_out_items) == 0

    # The help text names real keys of the roles it advertises, and how to mint tokens.
    assert "microcred token " in help_text
    assert "--integration assessment-engine --district demo-district" in help_text
    for role_sql in (
        user_where + "is_pl_manager AND key = :k",
        f"SELECT COUNT(*) FROM memberships ms JOIN users u ON u.id = ms.user_id "
        f"WHERE u.district_id = {DEMO} AND ms.role = 'MANAGER' AND u.key = :k",
    ):
        keys = [w for w in help_text.split() if w.startswith("demo-") and w != d]
        assert any([await _count(db, role_sql, d=d, k=k) for k in keys])
    assert messages, "load_demo reports progress through echo"

    # A second run finds the district and changes nothing.
    before = await _table_counts(db)
    again = await load_demo(database_url, echo=messages.append)
    assert await _table_counts(db) == before
    assert "already loaded" in again
    assert "microcred token " in again
