"""The Comparison Stats oracle: random sequences of real writes, checked after every step.

A Hypothesis state machine drives the real write services (progress, reviews,
pre-assessments, logins, inclusion changes, roster and catalog imports), each in its own write
transaction, on a small two-district world seeded afresh for every example. After every step:

1. the maintained counters (`stats.stored`) equal the SQL recount (`stats.recount`);
2. they also equal a naive recomputation in Python, straight from the raw tables (users,
   memberships, modules, pages, page progress, certifications), using only the pure rules
   (`rules.status.derive_status`, `rules.counting.counted`). This is the real oracle: it never
   reads `module_statuses` nor trusts the SQL recount;
3. `module_statuses` holds exactly the derived statuses (no row means NOT_STARTED), and a
   certification exists wherever the earning rule holds now (pages, or a passed
   pre-assessment result).

A step that the services refuse (a DomainError: a page of another district, a review by
someone who may not review, a cross-district membership...) rolls back and is skipped; the
check still runs after it. Failing sequences print as `state.<step>(...)` lines, each preceded
by notes saying what the step did (the import file, the submission reviewed, a skip).

Async plumbing: the test itself is synchronous. It runs every coroutine on a private event
loop in a thread of its own, with a `Database` (engine and pool) created for that loop only,
so no engine is ever shared with pytest-asyncio's session loop ("attached to a different
loop"). The database is the session's (`database_url`): every example deletes all rows and
seeds the world again; the fixture wipes it before and after.

MICROCRED_ORACLE_EXAMPLES (default 200) sets the number of examples, MICROCRED_ORACLE_STEPS
(default 20) the most steps per example.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import Database
from models.enums import (
    Catalog,
    CertificationStatus,
    IntegrationScope,
    Level,
    MembershipRole,
    PageState,
    StatsInclusion,
    SubmissionStatus,
)
from models.errors import DomainError
from models.rules import counting
from models.rules import status as rules
from models.rules.permissions import IntegrationViewer, UserViewer, Viewer
from models.services import progress, roster, stats
from models.services.importer import apply_import, parse_import
from models.tables import (
    Base,
    Certification,
    District,
    Group,
    Membership,
    Module,
    ModuleStatus,
    Page,
    PageProgress,
    PreAssessmentResult,
    Submission,
    User,
)
from tests.conftest import wipe

T = TypeVar("T")
OUTCOMES: Counter[str] = Counter()

EXAMPLES = int(os.environ.get("MICROCRED_ORACLE_EXAMPLES", "200"))
STEPS = int(os.environ.get("MICROCRED_ORACLE_STEPS", "20"))

ORACLE_SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
    ],
)

LOGIN = "2026-09-01T12:00:00Z"

# --- The world -------------------------------------------------------------------------------
# d1: a PL manager; a school manager; six teachers: t3 and t5 never logged in, t4 and t5 have
# DCF access (t5 is INCLUDEd anyway), t6 is EXCLUDEd and manages the cohort. Modules: m1 with
# a pre-assessment and a review page, m2 without Fluency, m3 (d1's own) with a review page.
# d2: a PL manager, a teacher, a school and a module of its own.

DISTRICTS = [{"key": "d1", "name": "Springfield"}, {"key": "d2", "name": "Shelbyville"}]
SCHOOLS = [
    {"key": "s1", "district": "d1", "name": "Lincoln Elementary"},
    {"key": "s2", "district": "d1", "name": "Roosevelt Middle"},
    {"key": "s9", "district": "d2", "name": "Shelbyville High"},
]
COHORTS = [{"key": "c1", "district": "d1", "name": "New Teachers 2026"}]
USERS: list[dict[str, Any]] = [
    {
        "key": "plm",
        "district": "d1",
        "name": "Ada Park",
        "roles": ["PL_MANAGER"],
        "firstLoginAt": LOGIN,
    },
    {"key": "sm", "district": "d1", "name": "Sam Mendez", "firstLoginAt": LOGIN},
    {"key": "t1", "district": "d1", "name": "Tia Brown", "firstLoginAt": LOGIN},
    {"key": "t2", "district": "d1", "name": "Tom Gray", "firstLoginAt": LOGIN},
    {"key": "t3", "district": "d1", "name": "Tess Hill"},
    {"key": "t4", "district": "d1", "name": "Tad Ives", "dcfAccess": True, "firstLoginAt": LOGIN},
    {
        "key": "t5",
        "district": "d1",
        "name": "Tara Jude",
        "dcfAccess": True,
        "statsInclusion": "INCLUDE",
    },
    {
        "key": "t6",
        "district": "d1",
        "name": "Theo Kim",
        "statsInclusion": "EXCLUDE",
        "firstLoginAt": LOGIN,
    },
    {
        "key": "x1",
        "district": "d2",
        "name": "Xena Cole",
        "roles": ["PL_MANAGER"],
        "firstLoginAt": LOGIN,
    },
    {"key": "x2", "district": "d2", "name": "Xavi Diaz", "firstLoginAt": LOGIN},
]
MEMBERSHIPS = [
    {"user": "sm", "group": "s1", "role": "MANAGER"},
    {"user": "sm", "group": "s2", "role": "MEMBER"},
    {"user": "t6", "group": "c1", "role": "MANAGER"},
    {"user": "t1", "group": "s1", "role": "MEMBER"},
    {"user": "t1", "group": "c1", "role": "MEMBER"},
    {"user": "t2", "group": "s2", "role": "MEMBER"},
    {"user": "t3", "group": "s1", "role": "MEMBER"},
    {"user": "t4", "group": "s1", "role": "MEMBER"},
    {"user": "t5", "group": "c1", "role": "MEMBER"},
    {"user": "t6", "group": "s2", "role": "MEMBER"},
    {"user": "x2", "group": "s9", "role": "MEMBER"},
]
MODULES: list[dict[str, Any]] = [
    {
        "key": "m1",
        "title": "Blended Learning 101",
        "catalog": "MODERN_TEACHER",
        "preAssessmentPassingScore": 80,
        "pages": [
            {"key": "m1-l1", "level": "LITERACY", "title": "Why blend?"},
            {"key": "m1-l2", "level": "LITERACY", "title": "Station rotation"},
            {"key": "m1-f1", "level": "FLUENCY", "title": "Plan a lesson"},
            {"key": "m1-f2", "level": "FLUENCY", "title": "Teach it", "requiresReview": True},
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
            {"key": "m3-f1", "level": "FLUENCY", "title": "Apply", "requiresReview": True},
        ],
    },
    {
        "key": "m9",
        "title": "Shelbyville Onboarding",
        "catalog": "DISTRICT",
        "district": "d2",
        "pages": [
            {"key": "m9-l1", "level": "LITERACY", "title": "Welcome"},
            {"key": "m9-f1", "level": "FLUENCY", "title": "Practice"},
        ],
    },
]


def world() -> dict[str, Any]:
    return {
        "districts": DISTRICTS,
        "schools": SCHOOLS,
        "cohorts": COHORTS,
        "users": USERS,
        "memberships": MEMBERSHIPS,
        "modules": MODULES,
    }


# Keys the steps choose from. Keys of rows that steps may add (n*, np*, mx*) are listed up
# front, so failing sequences print readable literals; a step naming a row that does not
# exist yet is skipped.
MAX_NEW_USERS, MAX_NEW_PAGES, MAX_NEW_MODULES = 2, 3, 2
NEW_USERS = [f"n{i}" for i in range(MAX_NEW_USERS)]
NEW_PAGES = [f"np{i}" for i in range(MAX_NEW_PAGES)]
NEW_MODULES = [f"mx{i}" for i in range(MAX_NEW_MODULES)]
GROUP_KEYS = [g["key"] for g in (*SCHOOLS, *COHORTS)]


def _keys(seeded: list[str], added: list[str]) -> st.SearchStrategy[str]:
    # Seeded rows three times as likely as rows a step may have added.
    return st.sampled_from(seeded * 3 + added)


users_st = _keys([u["key"] for u in USERS], NEW_USERS)
pages_st = _keys(
    [p["key"] for m in MODULES for p in m["pages"]],
    NEW_PAGES + [f"{m}-{lvl}" for m in NEW_MODULES for lvl in ("l1", "f1")],
)
REVIEW_PAGES = [p["key"] for m in MODULES for p in m["pages"] if p.get("requiresReview")]
modules_st = _keys([m["key"] for m in MODULES], NEW_MODULES)
groups_st = st.sampled_from(GROUP_KEYS)
roles_st = st.sampled_from(list(MembershipRole))
inclusions_st = st.sampled_from(list(StatsInclusion))
levels_st = st.sampled_from(list(Level))
districts_st = st.sampled_from(["d1", "d2"])
scores_st = st.sampled_from([0.0, 55.0, 79.5, 80.0, 100.0])


# --- A private event loop --------------------------------------------------------------------


class LoopThread:
    """An event loop running in a thread of its own; `run` waits for a coroutine there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()


@dataclass
class Env:
    runner: LoopThread
    db: Database


async def clear(session: AsyncSession) -> None:
    """Delete every row, children first. Unlike conftest's `wipe` (TRUNCATE on PostgreSQL,
    about 150 ms) this is a few ms on the tiny tables of one example."""
    for table in reversed(Base.metadata.sorted_tables):
        await session.execute(delete(table))


async def _open(url: str) -> Database:
    return Database(url)


@pytest.fixture(scope="module")
def oracle_env(database_url: str) -> Iterator[Env]:
    runner = LoopThread()
    database = runner.run(_open(database_url))
    try:
        runner.run(wipe(database))
        yield Env(runner, database)
        runner.run(wipe(database))
    finally:
        runner.run(database.dispose())
        runner.close()


# --- The naive oracle ------------------------------------------------------------------------

StatusKey = tuple[int, int, Level]  # (user_id, module_id, level)


@dataclass
class Snapshot:
    """What the services maintain, and what the naive recomputation says it should be."""

    stored: dict[int, stats.DistrictCounters]
    recounted: dict[int, stats.DistrictCounters]
    naive: dict[int, stats.DistrictCounters]
    stored_statuses: dict[StatusKey, CertificationStatus]
    derived_statuses: dict[StatusKey, CertificationStatus]
    problems: list[str]
    pending: int
    names: Names


@dataclass
class Names:
    """Keys of the rows a report names, so that a failure reads in the world's terms."""

    districts: dict[int, str]
    scopes: dict[int, str]
    modules: dict[int, str]
    users: dict[int, str]

    def scope(self, key: int) -> str:
        return self.scopes.get(key, f"scope {key}")

    def count(self, key: tuple[int, Level, int]) -> str:
        scope, level, module_id = key
        return f"{self.scope(scope)} {self.modules.get(module_id, module_id)} {level.value}"

    def status(self, key: StatusKey) -> str:
        user_id, module_id, level = key
        module = self.modules.get(module_id, module_id)
        return f"{self.users.get(user_id, user_id)} {module} {level.value}"


async def snapshot(db: Database) -> Snapshot:
    async with db.read() as s:
        users = (
            await s.execute(
                select(
                    User.id,
                    User.key,
                    User.district_id,
                    User.stats_inclusion,
                    User.dcf_access,
                    User.first_login_at,
                )
            )
        ).all()
        memberships = (
            await s.execute(select(Membership.user_id, Membership.group_id, Membership.role))
        ).all()
        groups = (await s.execute(select(Group.id, Group.key, Group.district_id))).all()
        modules = (
            await s.execute(select(Module.id, Module.key, Module.catalog, Module.district_id))
        ).all()
        district_keys = dict((await s.execute(select(District.id, District.key))).all())
        district_ids = sorted(district_keys)
        pages = (
            await s.execute(select(Page.id, Page.module_id, Page.level, Page.requires_review))
        ).all()
        progress_rows = (
            await s.execute(
                select(
                    PageProgress.user_id,
                    PageProgress.page_id,
                    PageProgress.module_id,
                    PageProgress.state,
                )
            )
        ).all()
        certs = (
            await s.execute(
                select(Certification.user_id, Certification.module_id, Certification.level)
            )
        ).all()
        passed = (
            await s.execute(
                select(PreAssessmentResult.user_id, PreAssessmentResult.module_id).where(
                    PreAssessmentResult.passed.is_(True)
                )
            )
        ).all()
        status_rows = (
            await s.execute(
                select(
                    ModuleStatus.user_id,
                    ModuleStatus.module_id,
                    ModuleStatus.level,
                    ModuleStatus.status,
                )
            )
        ).all()
        pending = len(
            (
                await s.execute(
                    select(Submission.id).where(Submission.status == SubmissionStatus.PENDING)
                )
            ).all()
        )
        stored = {d: await stats.stored(s, d) for d in district_ids}
        recounted = {d: await stats.recount(s, d) for d in district_ids}

    problems: list[str] = []
    page_infos: dict[int, list[rules.PageInfo]] = defaultdict(list)
    page_module: dict[int, int] = {}
    for p in pages:
        page_infos[p.module_id].append(rules.PageInfo(p.id, p.level, p.requires_review))
        page_module[p.id] = p.module_id
    user_district = {u.id: u.district_id for u in users}
    user_key = {u.id: u.key for u in users}
    group_district = {g.id: g.district_id for g in groups}
    names = Names(
        districts=district_keys,
        scopes={0: "district", **{g.id: g.key for g in groups}},
        modules={m.id: m.key for m in modules},
        users=user_key,
    )

    def visible(module: Any, district_id: int) -> bool:
        return module.catalog is Catalog.MODERN_TEACHER or module.district_id == district_id

    module_by_id = {m.id: m for m in modules}
    progress_of: dict[tuple[int, int], dict[int, Any]] = defaultdict(dict)
    for row in progress_rows:
        module_id = page_module[row.page_id]
        if row.module_id != module_id:
            problems.append(f"page_progress of page {row.page_id} names module {row.module_id}")
        if not visible(module_by_id[module_id], user_district[row.user_id]):
            problems.append(f"{user_key[row.user_id]} has progress on an invisible module")
        progress_of[(row.user_id, module_id)][row.page_id] = row.state
    certified = {(c.user_id, c.module_id, c.level) for c in certs}
    passed_set = {(r.user_id, r.module_id) for r in passed}

    # Statuses, derived only from pages, page progress and certifications.
    derived: dict[StatusKey, CertificationStatus] = {}
    for u in users:
        for m in modules:
            if not visible(m, u.district_id):
                if any(c[0] == u.id and c[1] == m.id for c in certified):
                    problems.append(f"{u.key} is certified on a module they cannot see")
                continue
            infos = page_infos[m.id]
            prog = progress_of.get((u.id, m.id), {})
            for level in Level:
                is_certified = (u.id, m.id, level) in certified
                if is_certified and not rules.has_level(infos, level):
                    # Only a content edit could take a level away, and no step makes one.
                    problems.append(f"{u.key} is certified on {m.key} {level}, a missing level")
                derived_status = rules.derive_status(infos, level, prog, is_certified)
                if derived_status is not CertificationStatus.NOT_STARTED:
                    derived[(u.id, m.id, level)] = derived_status
                if rules.has_level(infos, level) and not is_certified:
                    how = rules.earned_by(infos, level, prog, (u.id, m.id) in passed_set)
                    if how is not None:
                        problems.append(
                            f"{u.key} meets the {level} rule of {m.key} ({how}) "
                            "but holds no certification"
                        )

    stored_statuses = {
        (r.user_id, r.module_id, r.level): r.status
        for r in status_rows
        if r.status is not CertificationStatus.NOT_STARTED
    }

    # Counters: the district's counted users, and each group's counted MEMBERs.
    member_of: dict[int, set[int]] = defaultdict(set)
    for ms in memberships:
        if ms.role is MembershipRole.MEMBER:
            if group_district[ms.group_id] != user_district[ms.user_id]:
                problems.append(f"{user_key[ms.user_id]} is a member of another district's group")
            member_of[ms.user_id].add(ms.group_id)
    statuses_of: dict[int, list[tuple[int, Level, CertificationStatus]]] = defaultdict(list)
    for (user_id, module_id, level), derived_status in derived.items():
        statuses_of[user_id].append((module_id, level, derived_status))

    naive: dict[int, stats.DistrictCounters] = {}
    for d in district_ids:
        populations: dict[int, int] = defaultdict(int)
        counts: dict[tuple[int, Level, int], list[int]] = defaultdict(lambda: [0, 0])
        for u in users:
            if u.district_id != d:
                continue
            if not counting.counted(u.stats_inclusion, u.dcf_access, u.first_login_at):
                continue
            for scope in (0, *member_of[u.id]):
                populations[scope] += 1
                for module_id, level, derived_status in statuses_of[u.id]:
                    slot = 0 if derived_status is CertificationStatus.IN_PROGRESS else 1
                    counts[(scope, level, module_id)][slot] += 1
        naive[d] = stats.DistrictCounters(
            dict(populations), {k: (ip, c) for k, (ip, c) in counts.items()}
        )
    return Snapshot(stored, recounted, naive, stored_statuses, derived, problems, pending, names)


def _diff(
    name: str, got: dict[Any, Any], want: dict[Any, Any], show: Callable[[Any], str]
) -> list[str]:
    return [
        f"  {name} [{show(key)}]: {got.get(key)}, expected {want.get(key)}"
        for key in sorted(got.keys() | want.keys(), key=repr)
        if got.get(key) != want.get(key)
    ]


def _compare(
    label: str, got: stats.DistrictCounters, want: stats.DistrictCounters, names: Names
) -> list[str]:
    return _diff(f"{label}: counted users", got.populations, want.populations, names.scope) + _diff(
        f"{label}: (in progress, complete)", got.counts, want.counts, names.count
    )


def check(snap: Snapshot) -> None:
    names = snap.names
    report: list[str] = list(snap.problems)
    for d, stored_counters in snap.stored.items():
        district = names.districts[d]
        report += _compare(
            f"{district} stored vs recount", stored_counters, snap.recounted[d], names
        )
        report += _compare(f"{district} stored vs naive", stored_counters, snap.naive[d], names)
    report += _diff(
        "module_statuses vs derived",
        snap.stored_statuses,
        snap.derived_statuses,
        names.status,
    )
    assert not report, "Comparison Stats oracle failed:\n" + "\n".join(report)


# --- The state machine -----------------------------------------------------------------------


@dataclass(frozen=True)
class UserRow:
    id: int
    district_id: int
    district_key: str
    name: str
    is_pl_manager: bool


class StatsMachine(RuleBasedStateMachine):
    env: Env  # set by the test

    def __init__(self) -> None:
        super().__init__()
        self.users: dict[str, UserRow] = {}
        self.districts: dict[str, int] = {}
        self.modules: dict[str, tuple[int, dict[str, Any]]] = {}
        self.pages: dict[str, int] = {}
        self.new_users = self.new_pages = self.new_modules = 0
        self.pending = 0  # submissions waiting for review, as of the last check

    # Plumbing -------------------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.env.runner.run(coro)

    def attempt(self, op: str, work: Any) -> bool:
        """Run `work(session)` in a write transaction; a domain error skips the step."""

        async def go() -> None:
            async with self.env.db.write() as s:
                await work(s)

        try:
            self.run(go())
        except DomainError as exc:
            note(f"  -> skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            event(f"{op}: skipped ({type(exc).__name__})")
            OUTCOMES[f"{op}: skipped"] += 1
            return False
        event(f"{op}: applied")
        OUTCOMES[f"{op}: applied"] += 1
        return True

    async def _load_keys(self) -> None:
        async with self.env.db.read() as s:
            self.districts = dict((await s.execute(select(District.key, District.id))).all())
            key_of = {v: k for k, v in self.districts.items()}
            self.users = {
                r.key: UserRow(r.id, r.district_id, key_of[r.district_id], r.name, r.is_pl_manager)
                for r in (
                    await s.execute(
                        select(User.key, User.id, User.district_id, User.name, User.is_pl_manager)
                    )
                ).all()
            }
            self.modules = {
                r.key: (
                    r.id,
                    {
                        "key": r.key,
                        "title": r.title,
                        "catalog": r.catalog.value,
                        **({"district": key_of[r.district_id]} if r.district_id else {}),
                    },
                )
                for r in (
                    await s.execute(
                        select(
                            Module.key, Module.id, Module.title, Module.catalog, Module.district_id
                        )
                    )
                ).all()
            }
            self.pages = dict((await s.execute(select(Page.key, Page.id))).all())

    def import_file(self, op: str, data: dict[str, Any]) -> bool:
        note(f"  import {data}")
        applied = self.attempt(op, lambda s: apply_import(s, parse_import(data)))
        if applied:
            self.run(self._load_keys())
        return applied

    def as_user(self, key: str) -> UserViewer:
        u = self.users[key]
        return UserViewer(u.id, u.district_id, key, is_pl_manager=u.is_pl_manager)

    def pl_manager_of(self, key: str) -> UserViewer:
        return self.as_user("plm" if self.users[key].district_key == "d1" else "x1")

    def integration(self, district_id: int) -> IntegrationViewer:
        return IntegrationViewer(
            "assessment-engine", district_id, frozenset({IntegrationScope.PROGRESS_WRITE})
        )

    def exists(self, what: str, key: str, table: dict[str, Any]) -> bool:
        if key in table:
            return True
        note(f"  -> skipped: no {what} {key!r} yet")
        event(f"missing {what}: skipped")
        OUTCOMES[f"missing {what}: skipped"] += 1
        return False

    # Setup and the check after every step ---------------------------------------------------

    @initialize()
    def seed_world(self) -> None:
        async def go() -> None:
            async with self.env.db.write() as s:
                await clear(s)
                await apply_import(s, parse_import(world()))
            await self._load_keys()

        self.run(go())

    @invariant()
    def counters_match_the_naive_recount(self) -> None:
        snap = self.run(snapshot(self.env.db))
        check(snap)
        self.pending = snap.pending
        if snap.pending:
            OUTCOMES["seen: a submission pending"] += 1
        for counters in snap.stored.values():
            for (scope, level, _), (ip, done) in counters.counts.items():
                where = "district" if scope == 0 else "group"
                if ip:
                    OUTCOMES[f"seen: {where} {level} IN_PROGRESS > 0"] += 1
                if done:
                    OUTCOMES[f"seen: {where} {level} COMPLETE > 0"] += 1

    # Learners -------------------------------------------------------------------------------

    def _progress(self, op: str, user: str, page: str, by_integration: bool) -> None:
        note(f"{op} user={user} page={page} by_integration={by_integration}")
        if not (self.exists("user", user, self.users) and self.exists("page", page, self.pages)):
            return
        u = self.users[user]
        call = progress.start_page if op == "start_page" else progress.complete_page
        viewer: Viewer = self.integration(u.district_id) if by_integration else self.as_user(user)
        target = u.id if by_integration else None
        self.attempt(op, lambda s: call(s, viewer, self.pages[page], target))

    @rule(user=users_st, page=pages_st, by_integration=st.booleans())
    def start_page(self, user: str, page: str, by_integration: bool) -> None:
        self._progress("start_page", user, page, by_integration)

    @rule(user=users_st, page=pages_st, by_integration=st.booleans())
    def complete_page(self, user: str, page: str, by_integration: bool) -> None:
        self._progress("complete_page", user, page, by_integration)

    @rule(user=users_st, module=modules_st, by_integration=st.booleans())
    def continue_module(self, user: str, module: str, by_integration: bool) -> None:
        """The learner completes (or submits) the first page of the module they have not
        yet completed or submitted: steers runs towards certifications and reviews."""
        note(f"continue_module user={user} module={module}")
        if not (
            self.exists("user", user, self.users) and self.exists("module", module, self.modules)
        ):
            return
        user_id, module_id = self.users[user].id, self.modules[module][0]

        async def next_page() -> str | None:
            async with self.env.db.read() as s:
                done = set(
                    (
                        await s.execute(
                            select(PageProgress.page_id).where(
                                PageProgress.user_id == user_id,
                                PageProgress.state.in_([PageState.COMPLETE, PageState.SUBMITTED]),
                            )
                        )
                    ).scalars()
                )
                rows = await s.execute(
                    select(Page.key, Page.id)
                    .where(Page.module_id == module_id)
                    .order_by(Page.position, Page.id)
                )
                return next((k for k, i in rows.all() if i not in done), None)

        page = self.run(next_page())
        if page is None:
            note("  -> skipped: every page is done")
            OUTCOMES["continue_module: nothing left"] += 1
            return
        self._progress("complete_page", user, page, by_integration)

    @rule(user=users_st, page=st.sampled_from(REVIEW_PAGES))
    def submit_for_review(self, user: str, page: str) -> None:
        """complete_page on a review page (it becomes SUBMITTED): feeds the review step."""
        self._progress("complete_page", user, page, False)

    @rule(user=users_st)
    def record_login(self, user: str) -> None:
        note(f"record_login user={user}")
        if self.exists("user", user, self.users):
            self.attempt("record_login", lambda s: progress.record_login(s, self.as_user(user)))

    @rule(user=users_st, module=modules_st, score=scores_st)
    def record_pre_assessment(self, user: str, module: str, score: float) -> None:
        note(f"record_pre_assessment user={user} module={module} score={score}")
        if not (
            self.exists("user", user, self.users) and self.exists("module", module, self.modules)
        ):
            return
        u = self.users[user]
        viewer = self.integration(u.district_id)
        module_id = self.modules[module][0]
        self.attempt(
            "record_pre_assessment",
            lambda s: progress.record_pre_assessment(s, viewer, u.id, module_id, score),
        )

    # Reviewers and managers -----------------------------------------------------------------

    def _review(self, choice: int, approve: bool, reviewer: str) -> None:
        async def pending() -> list[tuple[int, int]]:
            async with self.env.db.read() as s:
                rows = await s.execute(
                    select(Submission.id, Submission.user_id)
                    .where(Submission.status == SubmissionStatus.PENDING)
                    .order_by(Submission.id)
                )
                return [tuple(r) for r in rows.all()]

        waiting = self.run(pending())
        submission_id, learner_id = waiting[choice % len(waiting)]
        learner = next(k for k, u in self.users.items() if u.id == learner_id)
        who = self.pl_manager_of(learner) if reviewer == "district PL manager" else None
        viewer = who or self.as_user(reviewer)
        verdict = "approve" if approve else "return"
        note(f"{verdict} submission {submission_id} of {learner} by {viewer.key}")
        self.attempt(
            f"review ({verdict})",
            lambda s: progress.review_submission(
                s, viewer, submission_id, approve, None if approve else "Try again."
            ),
        )

    # The PL manager may review anything of their district; sm and t6 only their groups'.
    reviewers_st = st.sampled_from(["district PL manager", "district PL manager", "sm", "t6"])

    @precondition(lambda self: self.pending > 0)
    @rule(choice=st.integers(0, 7), reviewer=reviewers_st)
    def approve_submission(self, choice: int, reviewer: str) -> None:
        self._review(choice, True, reviewer)

    @precondition(lambda self: self.pending > 0)
    @rule(choice=st.integers(0, 7), reviewer=reviewers_st)
    def return_submission(self, choice: int, reviewer: str) -> None:
        self._review(choice, False, reviewer)

    @rule(user=users_st, inclusion=inclusions_st)
    def set_stats_inclusion(self, user: str, inclusion: StatsInclusion) -> None:
        note(f"set_stats_inclusion user={user} inclusion={inclusion}")
        if self.exists("user", user, self.users):
            viewer = self.pl_manager_of(user)
            user_id = self.users[user].id
            self.attempt(
                "set_stats_inclusion",
                lambda s: roster.set_stats_inclusion(s, viewer, user_id, inclusion, "oracle"),
            )

    # Imports --------------------------------------------------------------------------------

    @rule(user=users_st, group=groups_st, role=roles_st)
    def import_membership(self, user: str, group: str, role: MembershipRole) -> None:
        note(f"import_membership user={user} group={group} role={role}")
        if self.exists("user", user, self.users):
            data = {"memberships": [{"user": user, "group": group, "role": role.value}]}
            self.import_file("import_membership", data)

    @rule(
        user=users_st,
        dcf=st.none() | st.booleans(),
        inclusion=st.none() | inclusions_st,
        login=st.booleans(),
    )
    def import_user_flags(
        self, user: str, dcf: bool | None, inclusion: StatsInclusion | None, login: bool
    ) -> None:
        note(f"import_user_flags user={user} dcf={dcf} inclusion={inclusion} login={login}")
        if not self.exists("user", user, self.users):
            return
        u = self.users[user]
        record: dict[str, Any] = {"key": user, "district": u.district_key, "name": u.name}
        if dcf is not None:
            record["dcfAccess"] = dcf
        if inclusion is not None:
            record["statsInclusion"] = inclusion.value
        if login:
            record["firstLoginAt"] = LOGIN
        self.import_file("import_user_flags", {"users": [record]})

    @precondition(lambda self: self.new_users < MAX_NEW_USERS)
    @rule(
        district=districts_st,
        dcf=st.booleans(),
        inclusion=inclusions_st,
        login=st.booleans(),
        groups=st.lists(st.tuples(groups_st, roles_st), max_size=2),
    )
    def import_new_user(
        self,
        district: str,
        dcf: bool,
        inclusion: StatsInclusion,
        login: bool,
        groups: list[tuple[str, MembershipRole]],
    ) -> None:
        key = NEW_USERS[self.new_users]
        note(f"import_new_user {key} district={district} dcf={dcf} login={login} groups={groups}")
        record: dict[str, Any] = {
            "key": key,
            "district": district,
            "name": f"New Teacher {key}",
            "dcfAccess": dcf,
            "statsInclusion": inclusion.value,
        }
        if login:
            record["firstLoginAt"] = LOGIN
        data = {
            "users": [record],
            "memberships": [{"user": key, "group": g, "role": r.value} for g, r in groups],
        }
        if self.import_file("import_new_user", data):
            self.new_users += 1

    @precondition(lambda self: self.new_pages < MAX_NEW_PAGES)
    @rule(module=modules_st, level=levels_st, review=st.booleans())
    def import_new_page(self, module: str, level: Level, review: bool) -> None:
        key = NEW_PAGES[self.new_pages]
        note(f"import_new_page {key} module={module} level={level} review={review}")
        if not self.exists("module", module, self.modules):
            return
        page: dict[str, Any] = {"key": key, "level": level.value, "title": f"Added {key}"}
        if level is Level.FLUENCY:
            page["requiresReview"] = review
        data = {"modules": [{**self.modules[module][1], "pages": [page]}]}
        if self.import_file("import_new_page", data):
            self.new_pages += 1

    @precondition(lambda self: self.new_modules < MAX_NEW_MODULES)
    @rule(
        owner=st.sampled_from([None, "d1", "d2"]),
        passing_score=st.none() | st.just(50.0),
        fluency=st.sampled_from([None, False, True]),
    )
    def import_new_module(
        self, owner: str | None, passing_score: float | None, fluency: bool | None
    ) -> None:
        key = NEW_MODULES[self.new_modules]
        note(f"import_new_module {key} owner={owner} score={passing_score} fluency={fluency}")
        pages: list[dict[str, Any]] = [{"key": f"{key}-l1", "level": "LITERACY", "title": "One"}]
        if fluency is not None:
            pages.append(
                {"key": f"{key}-f1", "level": "FLUENCY", "title": "Two", "requiresReview": fluency}
            )
        module: dict[str, Any] = {
            "key": key,
            "title": f"New module {key}",
            "catalog": "MODERN_TEACHER" if owner is None else "DISTRICT",
            "pages": pages,
        }
        if owner is not None:
            module["district"] = owner
        if passing_score is not None:
            module["preAssessmentPassingScore"] = passing_score
        if self.import_file("import_new_module", {"modules": [module]}):
            self.new_modules += 1


# Each kind of step must have taken effect at least once in a full run, and the counters must
# have reached these states: otherwise the oracle would pass without testing much.
MUST_HAPPEN = [
    *(
        f"{op}: applied"
        for op in (
            "start_page",
            "complete_page",
            "record_login",
            "record_pre_assessment",
            "review (approve)",
            "review (return)",
            "set_stats_inclusion",
            "import_membership",
            "import_user_flags",
            "import_new_user",
            "import_new_page",
            "import_new_module",
        )
    ),
    "seen: group LITERACY COMPLETE > 0",
    "seen: group FLUENCY COMPLETE > 0",
    "seen: group FLUENCY IN_PROGRESS > 0",
]


def test_counters_match_a_naive_recount_after_every_step(oracle_env: Env) -> None:
    machine = type("StatsOracle", (StatsMachine,), {"env": oracle_env})
    OUTCOMES.clear()
    run_state_machine_as_test(machine, settings=ORACLE_SETTINGS)
    summary = "\n".join(f"{n:6d}  {k}" for k, n in sorted(OUTCOMES.items()))
    print(summary)
    if EXAMPLES >= 100:
        missing = [k for k in MUST_HAPPEN if not OUTCOMES[k]]
        assert not missing, f"the run never reached {missing}; outcomes:\n{summary}"


def test_the_seeded_world_is_what_the_oracle_expects(oracle_env: Env) -> None:
    """A guard on the oracle itself: the counters it checks are not trivially empty."""

    async def go() -> Snapshot:
        await wipe(oracle_env.db)
        async with oracle_env.db.write() as s:
            await apply_import(s, parse_import(world()))
        return await snapshot(oracle_env.db)

    snap = oracle_env.runner.run(go())
    check(snap)
    d1 = min(snap.naive)
    # Counted in d1: plm, sm, t1, t2 (t3/t5 never logged in, t4 DCF, t6 excluded).
    assert snap.naive[d1].populations[0] == 4
    oracle_env.runner.run(wipe(oracle_env.db))
