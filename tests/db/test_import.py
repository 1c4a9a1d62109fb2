"""API.md "Import file" and `microcred import`: upsert by key, idempotent, all-or-nothing.

- The API.md example imports; importing the same file again changes nothing and says so.
- A record whose key exists is updated in place; omitted optional fields keep stored values.
- firstLoginAt only ever moves earlier.
- A bad file (structure or references) raises ImportRejected naming the record and leaves
  every table exactly as it was, even when the rest of the file is valid.
- Large files go through in chunks, reporting progress.
- Content changes that can move a status (page added, level or review changed) re-derive the
  statuses of learners with progress on those modules.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

import models.services.importer as importer_module
from models.db import Database
from models.enums import (
    Catalog,
    CertificationStatus,
    GroupKind,
    Level,
    MembershipRole,
    PageState,
    StatsInclusion,
)
from models.services.importer import (
    CHUNK,
    ImportRejected,
    ImportReport,
    apply_import,
    parse_import,
)
from models.tables import (
    Base,
    Certification,
    District,
    DistrictGoal,
    Group,
    Membership,
    Module,
    ModuleStatus,
    Page,
    PageProgress,
    User,
)

# The example of API.md, verbatim.
EXAMPLE: dict[str, Any] = {
    "districts": [{"key": "d1", "name": "Springfield"}],
    "schools": [{"key": "s1", "district": "d1", "name": "Lincoln Elementary"}],
    "cohorts": [{"key": "c1", "district": "d1", "name": "New Teachers 2026"}],
    "users": [
        {
            "key": "u1",
            "district": "d1",
            "name": "Ada Park",
            "email": "ada@example.org",
            "roles": ["PL_MANAGER", "USERS_MANAGER"],
            "dcfAccess": False,
            "statsInclusion": "DEFAULT",
            "firstLoginAt": "2026-09-01T12:00:00Z",
            "shareCertificationsInFeed": True,
        }
    ],
    "memberships": [{"user": "u1", "group": "s1", "role": "MEMBER"}],
    "modules": [
        {
            "key": "m1",
            "title": "Blended Learning 101",
            "catalog": "MODERN_TEACHER",
            "district": None,
            "preAssessmentPassingScore": 80,
            "pages": [
                {"key": "m1-l1", "level": "LITERACY", "title": "Why blend?"},
                {"key": "m1-f1", "level": "FLUENCY", "title": "Try it", "requiresReview": True},
            ],
        }
    ],
    "goals": [{"district": "d1", "module": "m1"}],
}

# A second district with its own school, user and DISTRICT module, for cross-tenant cases.
SECOND_DISTRICT: dict[str, Any] = {
    "districts": [{"key": "d2", "name": "Shelbyville"}],
    "schools": [{"key": "s2", "district": "d2", "name": "Shelbyville High"}],
    "users": [{"key": "u2", "district": "d2", "name": "Bo Reyes"}],
    "modules": [
        {
            "key": "m2",
            "title": "Shelbyville Onboarding",
            "catalog": "DISTRICT",
            "district": "d2",
            "pages": [{"key": "m2-l1", "level": "LITERACY", "title": "Welcome"}],
        }
    ],
}


def example() -> dict[str, Any]:
    return copy.deepcopy(EXAMPLE)


async def run_import(
    db: Database, raw: Any, on_progress: Callable[[str, int, int], None] | None = None
) -> ImportReport:
    async with db.write() as session:
        return await apply_import(session, parse_import(raw), on_progress=on_progress)


async def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order: 'changes nothing' means equal snapshots."""
    async with db.read() as session:
        tables = {}
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).all()
            tables[table.name] = sorted((tuple(r) for r in rows), key=repr)
        return tables


async def row_counts(db: Database) -> dict[str, int]:
    async with db.read() as session:
        return {
            table.name: (
                await session.execute(select(func.count()).select_from(table))
            ).scalar_one()
            for table in Base.metadata.sorted_tables
        }


async def one(db: Database, model: Any, key: str) -> Any:
    async with db.read() as session:
        return (await session.execute(select(model).where(model.key == key))).scalar_one()


# --- The happy path ----------------------------------------------------------------------


async def test_api_example_imports(db: Database) -> None:
    report = await run_import(db, example())

    created = {kind: c.created for kind, c in report.counts.items()}
    assert created == {
        "districts": 1,
        "schools": 1,
        "cohorts": 1,
        "users": 1,
        "memberships": 1,
        "modules": 1,
        "pages": 2,
        "goals": 1,
    }
    assert report.changed
    assert report.summary().startswith("Imported 9 records: 9 created, 0 updated, 0 unchanged")

    district = await one(db, District, "d1")
    school, cohort = await one(db, Group, "s1"), await one(db, Group, "c1")
    assert (school.kind, school.district_id, school.name) == (
        GroupKind.SCHOOL,
        district.id,
        "Lincoln Elementary",
    )
    assert (cohort.kind, cohort.district_id) == (GroupKind.COHORT, district.id)

    user = await one(db, User, "u1")
    assert user.district_id == district.id
    assert (user.name, user.email) == ("Ada Park", "ada@example.org")
    assert user.is_pl_manager and user.is_users_manager and not user.dcf_access
    assert user.stats_inclusion is StatsInclusion.DEFAULT
    assert user.first_login_at == datetime(2026, 9, 1, 12, tzinfo=UTC)
    assert user.share_certifications_in_feed

    module = await one(db, Module, "m1")
    assert (module.catalog, module.district_id) == (Catalog.MODERN_TEACHER, None)
    assert module.pre_assessment_passing_score == 80
    async with db.read() as session:
        pages = (
            (
                await session.execute(
                    select(Page).where(Page.module_id == module.id).order_by(Page.position)
                )
            )
            .scalars()
            .all()
        )
        memberships = (await session.execute(select(Membership))).scalars().all()
        goals = (await session.execute(select(DistrictGoal))).scalars().all()
    assert [(p.key, p.level, p.requires_review, p.position) for p in pages] == [
        ("m1-l1", Level.LITERACY, False, 0),
        ("m1-f1", Level.FLUENCY, True, 1),
    ]
    assert [(m.district_id, m.user_id, m.group_id, m.role) for m in memberships] == [
        (district.id, user.id, school.id, MembershipRole.MEMBER)
    ]
    assert [(g.district_id, g.module_id) for g in goals] == [(district.id, module.id)]


async def test_minimal_records_take_the_domain_defaults(db: Database) -> None:
    await run_import(
        db,
        {
            "districts": [{"key": "d1", "name": "Springfield"}],
            "users": [{"key": "u1", "district": "d1", "name": "Ada Park"}],
            "modules": [
                {
                    "key": "m9",
                    "title": "Own PL",
                    "catalog": "DISTRICT",
                    "district": "d1",
                    "pages": [{"key": "m9-f1", "level": "FLUENCY", "title": "Do it"}],
                }
            ],
        },
    )
    user = await one(db, User, "u1")
    assert (user.email, user.is_pl_manager, user.is_users_manager, user.dcf_access) == (
        None,
        False,
        False,
        False,
    )
    assert user.stats_inclusion is StatsInclusion.DEFAULT
    assert user.first_login_at is None
    assert user.share_certifications_in_feed
    module = await one(db, Module, "m9")
    assert module.district_id == (await one(db, District, "d1")).id
    assert module.pre_assessment_passing_score is None
    assert (await one(db, Page, "m9-f1")).requires_review is False


async def test_importing_twice_changes_nothing_and_says_so(db: Database) -> None:
    await run_import(db, example())
    before, counts = await snapshot(db), await row_counts(db)

    report = await run_import(db, example())

    assert not report.changed
    assert all(c.created == 0 and c.updated == 0 for c in report.counts.values())
    assert sum(c.unchanged for c in report.counts.values()) == 9
    assert report.summary() == "Nothing changed: all 9 records were already up to date."
    assert await row_counts(db) == counts
    assert await snapshot(db) == before


async def test_an_update_by_key_changes_the_row_in_place(db: Database) -> None:
    await run_import(db, example())
    user_before = await one(db, User, "u1")
    page_before = await one(db, Page, "m1-l1")

    raw = example()
    raw["districts"][0]["name"] = "Springfield Public Schools"
    raw["schools"][0]["name"] = "Lincoln Elementary School"
    raw["users"][0].update(name="Ada Park-Lee", email=None, roles=["USERS_MANAGER"], dcfAccess=True)
    raw["modules"][0].update(title="Blended Learning", preAssessmentPassingScore=None)
    raw["modules"][0]["pages"][0]["title"] = "Why blend at all?"
    report = await run_import(db, raw)

    assert {k: c.updated for k, c in report.counts.items() if c.updated} == {
        "districts": 1,
        "schools": 1,
        "users": 1,
        "modules": 1,
        "pages": 1,
    }
    assert report.counts["cohorts"].unchanged == 1
    user = await one(db, User, "u1")
    assert user.id == user_before.id
    assert (user.name, user.email, user.is_pl_manager, user.is_users_manager, user.dcf_access) == (
        "Ada Park-Lee",
        None,
        False,
        True,
        True,
    )
    assert (await one(db, District, "d1")).name == "Springfield Public Schools"
    assert (await one(db, Group, "s1")).name == "Lincoln Elementary School"
    module = await one(db, Module, "m1")
    assert (module.title, module.pre_assessment_passing_score) == ("Blended Learning", None)
    page = await one(db, Page, "m1-l1")
    assert (page.id, page.title) == (page_before.id, "Why blend at all?")


async def test_omitted_optional_fields_keep_what_the_app_stored(db: Database) -> None:
    await run_import(db, example())
    raw = example()
    raw["users"][0].update(statsInclusion="EXCLUDE", shareCertificationsInFeed=False)
    await run_import(db, raw)

    # A roster export without these columns must not undo a manager's or the user's choice.
    raw = example()
    for name in ("email", "roles", "dcfAccess", "statsInclusion", "shareCertificationsInFeed"):
        del raw["users"][0][name]
    report = await run_import(db, raw)

    assert report.counts["users"].unchanged == 1
    user = await one(db, User, "u1")
    assert user.stats_inclusion is StatsInclusion.EXCLUDE
    assert not user.share_certifications_in_feed
    assert user.email == "ada@example.org" and user.is_pl_manager


async def test_first_login_keeps_the_earlier_time(db: Database) -> None:
    await run_import(db, example())  # 2026-09-01T12:00:00Z

    def with_login(value: str | None) -> dict[str, Any]:
        raw = example()
        raw["users"][0]["firstLoginAt"] = value
        return raw

    later = await run_import(db, with_login("2026-09-02T08:00:00Z"))
    assert later.counts["users"].unchanged == 1
    assert (await one(db, User, "u1")).first_login_at == datetime(2026, 9, 1, 12, tzinfo=UTC)

    cleared = await run_import(db, with_login(None))
    assert cleared.counts["users"].unchanged == 1
    assert (await one(db, User, "u1")).first_login_at == datetime(2026, 9, 1, 12, tzinfo=UTC)

    # 12:00+05:00 is 07:00Z: earlier, so it wins, stored as UTC.
    earlier = await run_import(db, with_login("2026-09-01T12:00:00+05:00"))
    assert earlier.counts["users"].updated == 1
    assert (await one(db, User, "u1")).first_login_at == datetime(2026, 9, 1, 7, tzinfo=UTC)


async def test_user_without_login_gets_one_from_a_later_import(db: Database) -> None:
    raw = example()
    del raw["users"][0]["firstLoginAt"]
    await run_import(db, raw)
    assert (await one(db, User, "u1")).first_login_at is None

    await run_import(db, example())
    assert (await one(db, User, "u1")).first_login_at == datetime(2026, 9, 1, 12, tzinfo=UTC)


async def test_memberships_and_goals_are_additive(db: Database) -> None:
    await run_import(db, example())
    raw = example()
    raw["memberships"] = [
        {"user": "u1", "group": "c1", "role": "MANAGER"},
        {"user": "u1", "group": "c1", "role": "MANAGER"},  # a repeated line is one membership
        {"user": "u1", "group": "s1", "role": "MANAGER"},  # both roles in one group is allowed
    ]
    raw["goals"] = []
    report = await run_import(db, raw)

    assert (report.counts["memberships"].created, report.counts["memberships"].unchanged) == (2, 1)
    async with db.read() as session:
        memberships = (await session.execute(select(Group.key, Membership.role).join(Group))).all()
        goals = (await session.execute(select(func.count()).select_from(DistrictGoal))).scalar()
    assert sorted((k, r.value) for k, r in memberships) == [
        ("c1", "MANAGER"),
        ("s1", "MANAGER"),
        ("s1", "MEMBER"),
    ]
    assert goals == 1


async def test_references_to_rows_already_in_the_database_resolve(db: Database) -> None:
    await run_import(db, example())
    report = await run_import(
        db,
        {
            "users": [{"key": "u3", "district": "d1", "name": "Cy Moss", "roles": ["PL_MANAGER"]}],
            "memberships": [
                {"user": "u3", "group": "c1", "role": "MEMBER"},
                {"user": "u1", "group": "c1", "role": "MANAGER"},  # user and group only in the DB
            ],
            "goals": [{"district": "d1", "module": "m1"}],
        },
    )
    assert report.counts["users"].created == 1
    assert report.counts["memberships"].created == 2
    assert report.counts["goals"].unchanged == 1
    user = await one(db, User, "u3")
    assert (user.is_pl_manager, user.is_users_manager) == (True, False)
    async with db.read() as session:
        managers = (
            await session.execute(
                select(User.key)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.role == MembershipRole.MANAGER)
            )
        ).scalars()
        assert list(managers) == ["u1"]


async def test_page_order_follows_the_file_and_unlisted_pages_are_kept(db: Database) -> None:
    raw = example()
    raw["modules"][0]["pages"].insert(
        1, {"key": "m1-l2", "level": "LITERACY", "title": "How to blend"}
    )
    await run_import(db, raw)

    raw = example()
    raw["modules"][0]["pages"].reverse()  # m1-f1, m1-l1; m1-l2 no longer listed
    report = await run_import(db, raw)

    async with db.read() as session:
        order = (
            await session.execute(select(Page.key, Page.position).order_by(Page.position))
        ).all()
    assert [tuple(r) for r in order] == [("m1-f1", 0), ("m1-l1", 1), ("m1-l2", 2)]
    assert report.counts["pages"].updated == 2
    assert any('"m1-l2"' in note for note in report.notes)


class StatementCounter:
    """Counts the SQL statements sent while active (an executemany counts once)."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine.sync_engine
        self.count = 0

    def _count(self, *_args: Any) -> None:
        self.count += 1

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


async def test_large_files_go_in_chunks_with_progress(db: Database) -> None:
    size = CHUNK * 2 + 17
    raw = example()
    # Every other user without a login: rows with and without NULLs must still batch together.
    raw["users"] += [
        {"key": f"bulk-{i}", "district": "d1", "name": f"User {i}"}
        | ({"firstLoginAt": "2026-09-03T10:00:00Z"} if i % 2 else {})
        for i in range(size)
    ]
    raw["memberships"] += [
        {"user": f"bulk-{i}", "group": "s1" if i % 2 else "c1", "role": "MEMBER"}
        for i in range(size)
    ]
    calls: list[tuple[str, int, int]] = []

    with StatementCounter(db) as statements:
        report = await run_import(db, raw, on_progress=lambda *call: calls.append(call))

    # A few statements per chunk of keys, not one per row (3 chunks of users, of memberships).
    assert statements.count < 40

    assert report.counts["users"].created == size + 1
    assert report.counts["memberships"].created == size + 1
    user_calls = [(done, total) for kind, done, total in calls if kind == "users"]
    assert user_calls == [(CHUNK, size + 1), (CHUNK * 2, size + 1), (size + 1, size + 1)]
    assert (await row_counts(db))["memberships"] == size + 1

    raw["users"][5]["name"] = "Renamed"
    raw["users"][-1]["firstLoginAt"] = "2026-10-01T09:30:00-04:00"
    with StatementCounter(db) as statements:
        again = await run_import(db, raw)
    assert statements.count < 40
    assert (again.counts["users"].updated, again.counts["users"].unchanged) == (2, size - 1)
    assert again.counts["memberships"].unchanged == size + 1
    assert (await one(db, User, "bulk-4")).name == "Renamed"
    login = (await one(db, User, f"bulk-{size - 1}")).first_login_at
    assert login == datetime(2026, 10, 1, 13, 30, tzinfo=UTC)


async def test_the_callers_transaction_settings_are_left_as_found(
    db: Database, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("plan_cache_mode is a PostgreSQL setting")
    setting = text("SELECT current_setting('plan_cache_mode')")
    async with db.write() as session:
        before = (await session.execute(setting)).scalar()
        await apply_import(session, parse_import(example()))
        assert (await session.execute(setting)).scalar() == before
        bad = example()
        bad["memberships"][0]["group"] = "nowhere"
        with pytest.raises(ImportRejected):
            await apply_import(session, parse_import(bad))
        assert (await session.execute(setting)).scalar() == before


# --- Statuses follow content changes ------------------------------------------------------


async def test_content_changes_rederive_learner_statuses(db: Database) -> None:
    raw = example()
    raw["modules"][0]["pages"] = [
        {"key": "m1-l1", "level": "LITERACY", "title": "Why blend?"},
        {"key": "m1-l2", "level": "LITERACY", "title": "Try it"},
    ]
    await run_import(db, raw)
    user, module, page = (
        await one(db, User, "u1"),
        await one(db, Module, "m1"),
        await one(db, Page, "m1-l1"),
    )
    async with db.write() as session:
        # u1 completed the first of two Literacy pages: in progress, nothing earned yet.
        session.add(
            PageProgress(
                district_id=user.district_id,
                user_id=user.id,
                page_id=page.id,
                module_id=module.id,
                state=PageState.COMPLETE,
            )
        )
        session.add(
            ModuleStatus(
                district_id=user.district_id,
                user_id=user.id,
                module_id=module.id,
                level=Level.LITERACY,
                status=CertificationStatus.IN_PROGRESS,
            )
        )

    # The second page becomes Fluency: every Literacy page is now complete.
    raw["modules"][0]["pages"][1]["level"] = "FLUENCY"
    await run_import(db, raw)

    async with db.read() as session:
        status = (
            await session.execute(
                select(ModuleStatus.status).where(
                    ModuleStatus.user_id == user.id, ModuleStatus.level == Level.LITERACY
                )
            )
        ).scalar_one()
        levels = (await session.execute(select(Certification.level))).scalars().all()
    assert status is CertificationStatus.COMPLETE
    assert levels == [Level.LITERACY]


async def test_refresh_is_asked_only_for_changed_modules(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[list[int]] = []
    real = importer_module.refresh_module_statuses

    async def spy(session: Any, module_ids: Any) -> None:
        asked.append(sorted(module_ids))
        await real(session, module_ids)

    monkeypatch.setattr(importer_module, "refresh_module_statuses", spy)
    raw = example()
    raw["modules"] += copy.deepcopy(SECOND_DISTRICT["modules"])
    raw["districts"] += SECOND_DISTRICT["districts"]
    await run_import(db, raw)
    assert asked == []  # brand-new modules have no learners yet

    await run_import(db, raw)
    assert asked == []  # nothing changed

    raw["modules"][0]["pages"][1]["requiresReview"] = False
    raw["modules"][0]["title"] = "Renamed"  # a title alone moves no status
    raw["modules"][1]["title"] = "Renamed too"
    await run_import(db, raw)
    assert asked == [[(await one(db, Module, "m1")).id]]

    raw["modules"][1]["pages"].append({"key": "m2-l2", "level": "LITERACY", "title": "More"})
    await run_import(db, raw)
    assert asked[1:] == [[(await one(db, Module, "m2")).id]]


# --- Bad files change nothing ----------------------------------------------------------------


def _with_second_district(raw: dict[str, Any]) -> None:
    for section, records in SECOND_DISTRICT.items():
        raw.setdefault(section, []).extend(copy.deepcopy(records))


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        node = raw
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return mutate


def _delete(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        node = raw
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return mutate


def _append(section: str, record: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda raw: raw[section].append(record)


BAD_FILES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "unknown group": (
        _set(("memberships", 0, "group"), "s9"),
        'memberships[0]: group "s9" is not a school or cohort in this file or the database',
    ),
    "unknown user": (
        _set(("memberships", 0, "user"), "u9"),
        'memberships[0]: user "u9" does not exist (neither in this file nor in the database)',
    ),
    "unknown district": (
        _set(("users", 0, "district"), "d9"),
        'users[0] (key "u1"): district "d9" does not exist',
    ),
    "unknown goal module": (
        _set(("goals", 0, "module"), "m9"),
        'goals[0]: module "m9" does not exist',
    ),
    "missing field": (
        _delete(("memberships", 0, "group")),
        'memberships[0]: missing required field "group"',
    ),
    "missing page level": (
        _delete(("modules", 0, "pages", 1, "level")),
        'modules[0] (key "m1"): pages[1] (key "m1-f1"): missing required field "level"',
    ),
    "wrong enum": (
        _set(("users", 0, "statsInclusion"), "MAYBE"),
        'users[0] (key "u1"): statsInclusion: expected one of DEFAULT, INCLUDE, EXCLUDE, '
        'got "MAYBE"',
    ),
    "wrong membership role": (
        _set(("memberships", 0, "role"), "OWNER"),
        'memberships[0]: role: expected one of MEMBER, MANAGER, got "OWNER"',
    ),
    "wrong type": (
        _set(("users", 0, "dcfAccess"), "yes"),
        'users[0] (key "u1"): dcfAccess: expected true or false, got "yes"',
    ),
    "score out of range": (
        _set(("modules", 0, "preAssessmentPassingScore"), 101),
        'modules[0] (key "m1"): preAssessmentPassingScore must be at most 100, got 101',
    ),
    "duplicate user key": (
        _append("users", {"key": "u1", "district": "d1", "name": "Ada Again"}),
        'users[2] (key "u1"): duplicate key "u1" (first used by users[0])',
    ),
    "duplicate district key": (
        _append("districts", {"key": "d1", "name": "Springfield again"}),
        'districts[2] (key "d1"): duplicate key "d1" (first used by districts[0])',
    ),
    "school and cohort share keys": (
        _append("cohorts", {"key": "s1", "district": "d1", "name": "Same key"}),
        'cohorts[1] (key "s1"): duplicate key "s1" (already used by schools[0]',
    ),
    "duplicate page key across modules": (
        _append(
            "modules",
            {
                "key": "m3",
                "title": "Other",
                "catalog": "MODERN_TEACHER",
                "pages": [{"key": "m1-l1", "level": "LITERACY", "title": "Copy"}],
            },
        ),
        'modules[1] (key "m3"): pages[0] (key "m1-l1"): duplicate page key "m1-l1"',
    ),
    "extra field": (
        _set(("users", 0, "dcfAcess"), True),
        'users[0] (key "u1"): unknown field "dcfAcess" (did you mean "dcfAccess"?)',
    ),
    "unknown section": (
        _set(("user",), []),
        'unknown section "user" (did you mean "users"?)',
    ),
    "naive timestamp": (
        _set(("users", 0, "firstLoginAt"), "2026-09-01T12:00:00"),
        'users[0] (key "u1"): firstLoginAt must include a timezone, e.g. 2026-09-01T12:00:00Z',
    ),
    "review on a literacy page": (
        _set(("modules", 0, "pages", 0, "requiresReview"), True),
        'pages[0] (key "m1-l1"): requiresReview is only allowed on FLUENCY pages',
    ),
    "cross-district membership": (
        lambda raw: (
            _with_second_district(raw),
            raw["memberships"].append({"user": "u1", "group": "s2", "role": "MEMBER"}),
        ),
        'memberships[2]: user "u1" is in district "d1" but group "s2" is in district "d2"',
    ),
    "district module without district": (
        _append(
            "modules",
            {"key": "m4", "title": "Ours", "catalog": "DISTRICT", "district": None},
        ),
        'modules[1] (key "m4"): a DISTRICT module needs "district"',
    ),
    "vendor module with district": (
        _set(("modules", 0, "district"), "d1"),
        'modules[0] (key "m1"): a MODERN_TEACHER module belongs to every district; '
        '"district" must be null or absent (got "d1")',
    ),
    "goal on another district's module": (
        lambda raw: (
            _with_second_district(raw),
            raw["goals"].append({"district": "d1", "module": "m2"}),
        ),
        'goals[1]: district "d1" cannot see module "m2": it is in the DISTRICT catalog of '
        'district "d2"',
    ),
}

# Cases that are only wrong against what the database already holds (see `established`).
BAD_AGAINST_DATABASE: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "user moving districts": (
        _set(("users", 0, "district"), "d2"),
        'users[0] (key "u1"): this user already exists in district "d1"; the file puts them '
        'in "d2", and moving a user between districts is not supported',
    ),
    "school moving districts": (
        _set(("schools", 0, "district"), "d2"),
        'schools[0] (key "s1"): this school already exists in district "d1"',
    ),
    "school key that is a cohort": (
        lambda raw: raw["cohorts"].append({"key": "s2", "district": "d2", "name": "Renamed"}),
        'cohorts[1] (key "s2"): "s2" already exists in the database as a school',
    ),
    "page of another module": (
        lambda raw: raw["modules"][0]["pages"].append(
            {"key": "m2-l1", "level": "LITERACY", "title": "Stolen"}
        ),
        'pages[3] (key "m2-l1"): page "m2-l1" already belongs to module "m2"',
    ),
    "module changing catalog": (
        lambda raw: raw["modules"].append(
            {"key": "m2", "title": "Shelbyville Onboarding", "catalog": "MODERN_TEACHER"}
        ),
        'modules[1] (key "m2"): this module already exists in the DISTRICT catalog of district '
        '"d2"; moving a module between catalogs or districts is not supported',
    ),
}


async def established(db: Database) -> dict[str, Any]:
    """A valid import already in place, and a valid next file that touches every table."""
    base = example()
    _with_second_district(base)
    await run_import(db, base)
    following = example()
    following["districts"][0]["name"] = "Renamed district"
    following["districts"].append({"key": "d3", "name": "Capital City"})
    following["users"].append({"key": "u5", "district": "d1", "name": "New Person"})
    following["memberships"].append({"user": "u5", "group": "c1", "role": "MEMBER"})
    following["modules"][0]["pages"].append({"key": "m1-f2", "level": "FLUENCY", "title": "New"})
    return following


async def assert_rejected_without_change(
    db: Database, raw: dict[str, Any], expected: str
) -> ImportRejected:
    before, counts = await snapshot(db), await row_counts(db)
    # The rollback alone would hide writes made before a late check: watch the SQL sent.
    writes: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        with pytest.raises(ImportRejected) as caught:
            await run_import(db, raw)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert writes == []
    assert any(expected in p for p in caught.value.problems), caught.value.problems
    assert caught.value.code == "BAD_USER_INPUT"
    assert expected in caught.value.message
    assert await row_counts(db) == counts
    assert await snapshot(db) == before
    return caught.value


@pytest.mark.parametrize("case", list(BAD_FILES))
async def test_a_bad_file_is_rejected_and_changes_nothing(db: Database, case: str) -> None:
    raw = await established(db)
    mutate, expected = BAD_FILES[case]
    mutate(raw)
    await assert_rejected_without_change(db, raw, expected)


@pytest.mark.parametrize("case", list(BAD_AGAINST_DATABASE))
async def test_a_file_contradicting_the_database_changes_nothing(db: Database, case: str) -> None:
    raw = await established(db)
    mutate, expected = BAD_AGAINST_DATABASE[case]
    mutate(raw)
    await assert_rejected_without_change(db, raw, expected)


async def test_the_valid_following_file_does_apply(db: Database) -> None:
    # Guards the cases above: without their one defect, the same file would change things.
    raw = await established(db)
    before = await snapshot(db)
    report = await run_import(db, raw)
    assert report.changed and await snapshot(db) != before


async def test_every_problem_is_reported_at_once(db: Database) -> None:
    raw = await established(db)
    raw["users"][0]["district"] = "d2"
    raw["memberships"].append({"user": "ghost", "group": "s1", "role": "MEMBER"})
    raw["goals"].append({"district": "d1", "module": "m2"})

    rejected = await assert_rejected_without_change(db, raw, 'users[0] (key "u1")')

    # memberships[0] follows from the file itself: it now puts u1 in d2, and s1 is in d1.
    assert len(rejected.problems) == 4
    assert rejected.problems[1].startswith('memberships[0]: user "u1" is in district "d2"')
    assert any(p.startswith('memberships[2]: user "ghost"') for p in rejected.problems)
    assert any(
        p.startswith('goals[1]: district "d1" cannot see module "m2"') for p in rejected.problems
    )


async def test_a_long_list_of_problems_is_capped_in_the_message(db: Database) -> None:
    raw = example()
    raw["users"] += [
        {"key": f"x{i}", "district": "d1", "name": "X", "statsInclusion": "NO"} for i in range(25)
    ]
    with pytest.raises(ImportRejected) as caught:
        await run_import(db, raw)
    assert len(caught.value.problems) == 25
    assert caught.value.message.count("\n- ") == 21
    assert caught.value.message.endswith("- and 5 more")
    assert set((await row_counts(db)).values()) == {0}


@pytest.mark.parametrize("raw", [[], "users", None, 3])
async def test_a_file_that_is_not_an_object_is_rejected(db: Database, raw: Any) -> None:
    with pytest.raises(ImportRejected) as caught:
        parse_import(raw)
    assert caught.value.problems[0].startswith("the import file must be a JSON object")
