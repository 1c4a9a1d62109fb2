"""`microcred synth`: a large, realistic synthetic dataset for benchmarks, written in bulk.

Everything is decided by `random.Random` streams seeded from `--seed` (one per purpose, district
and chunk of users), so a seed always produces the same data. Timestamps are spread over the
~20 months before a fixed anchor date. Keys carry a run prefix (`syn<seed>-d0`,
`syn<seed>-d0-u123`, `syn<seed>-m3`), so runs with different seeds share a database; a seed that
was loaded already is detected by its first district key and nothing is written.

What a run writes (one transaction, all or nothing):
- the vendor catalog modules (~70% of `--modules`, shared by every district of the run) and,
  per district, its own DISTRICT modules (the other ~30%), with 2-6 Literacy pages, 0-5 Fluency
  pages (some need review), and a pre-assessment on ~40% of the modules; 3 district goals;
- per district: schools (~1 per 400 users) and cohorts (~1 per 1000); every user is a MEMBER
  of one school, ~30% also of a cohort; the first logged-in member of each school and cohort
  also manages it; 2 PL managers and 1 users manager; ~8% DCF access (some of them INCLUDEd),
  ~2% EXCLUDEd (each inclusion change recorded), ~10% never logged in (and no progress);
- progress of logged-in users on every module their district sees: per (user, module) a journey
  (nothing, Literacy in progress, Literacy complete by pages or by a passed pre-assessment,
  a failed pre-assessment) then, after Literacy, Fluency in progress or complete; review pages
  carry their submissions (pending, returned, approved). Page progress, pre-assessment results,
  certifications and module statuses follow `models.rules.status`;
- a feed item for every certification of a user who shares them (already published);
- the Comparison Stats counters of each district, recounted by `rebuild_district`.

Rows are generated in chunks of users and written with COPY (`copy_records_to_table`) on
PostgreSQL and `executemany` on SQLite, inside the session's transaction. Ids of the rows other
rows point at (districts, groups, users, modules, pages) are allocated here from max(id) under a
table lock, and the sequences are moved past them at the end; the other tables take their ids
from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import Database
from models.enums import (
    Catalog,
    CertificationStatus,
    EarnedBy,
    FeedItemKind,
    GroupKind,
    Level,
    MembershipRole,
    PageState,
    StatsInclusion,
    SubmissionStatus,
)
from models.services.stats import rebuild_district
from models.tables import District, Group, Membership, ModuleStatus, User

Echo = Callable[[str], None]
Row = tuple[Any, ...]

PREFIX = "syn"
CHUNK_USERS = 5_000
MIN_USERS_PER_DISTRICT = 10

# Time: slots of 7 minutes ending at a fixed anchor (so a seed always gives the same data).
ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)
SLOT = timedelta(minutes=7)
LOGIN_SLOTS = 60_000  # first logins spread over ~290 days
JOURNEY_SLOTS = 60_000  # a module is picked up within ~290 days of the first login
PAGE_STEP = 300  # up to ~35 hours between two pages
TOTAL_SLOTS = LOGIN_SLOTS + JOURNEY_SLOTS + 32 * PAGE_STEP

# Roster mix.
USERS_PER_SCHOOL = 400
USERS_PER_COHORT = 1_000
COHORT_SHARE = 0.30
NEVER_LOGGED_IN = 0.10
DCF_SHARE = 0.08
INCLUDE_AMONG_DCF = 0.125  # ~1% of all users
EXCLUDE_SHARE = 0.02
NOT_SHARING = 0.08
HIDES_PERSONAL_STATS = 0.05
HIDES_BADGES = 0.03
ACTIVITY = (0.5, 1.0, 1.5)  # light, average, keen learners (one third each)

# Catalog mix.
VENDOR_SHARE = 0.70
NO_FLUENCY = 0.25
REVIEW_PAGE = 0.30
WITH_PRE_ASSESSMENT = 0.40
GOALS_PER_DISTRICT = 3

# Journeys, per (logged-in user, module): ~45% nothing; of the engaged 55%: Literacy in progress
# 25 points, complete by pages 20, by a passed pre-assessment 5, a failed one then pages 5.
ENGAGED = 0.55
LIT_IN_PROGRESS = 0.25 / ENGAGED
LIT_BY_PAGES = 0.45 / ENGAGED
LIT_BY_PRE_ASSESSMENT = 0.50 / ENGAGED
FAILED_PRE_ASSESSMENT_ALONE = 0.05  # of the not engaged, on modules with a pre-assessment
FLU_IN_PROGRESS = 0.50  # of the Literacy-complete, on modules with Fluency
FLU_COMPLETE = 0.75
SUBMITTED_LAST = 0.5  # a review page in progress: submitted, returned or just started
RETURNED_LAST = 0.7
RETURNED_BEFORE_APPROVAL = 0.10

FIRST_NAMES = (
    "Avery Bailey Carmen Dana Elena Farah Gabriel Hana Isaac Jada Kenji Laila Mateo Nadia Omar "
    "Priya Quinn Rosa Samuel Tara Uma Victor Wen Ximena Yusuf Zoe Aaron Beatriz Caleb Deja Emil "
    "Fatima Grace Hector Ivy Jonah Keisha Liam Maya Noah Olivia Pedro Rachel Sofia Theo Valeria "
    "William Yara Zane Alicia Brandon Chloe Diego Erin Felix Gloria Henry Imani Julia Kevin"
).split()
LAST_NAMES = (
    "Nguyen Smith Garcia Johnson Okafor Patel Kim Rodriguez Brown Chen Williams Lopez Davis "
    "Martinez Wilson Anderson Taylor Thomas Moore Jackson Martin Lee Thompson White Harris Clark "
    "Lewis Robinson Walker Young Allen King Wright Scott Torres Hill Flores Green Adams Nelson "
    "Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker "
    "Cruz Edwards Collins Reyes Stewart Morris Murphy"
).split()
PLACES = (
    "Lincoln Washington Jefferson Roosevelt Maple Oak Cedar Pine Willow Riverside Lakeview "
    "Hillcrest Sunnyside Meadowbrook Westfield Eastwood Northgate Southridge Parkview Brookside "
    "Fairview Highland Valley Harbor Summit Canyon Prairie Orchard Granite Liberty"
).split()
SCHOOL_KINDS = ("Elementary School", "Middle School", "High School", "K-8 Academy")
TOPICS = (
    "Blended Learning",
    "Formative Assessment",
    "Project-Based Learning",
    "Digital Citizenship",
    "Differentiated Instruction",
    "Using Classroom Data",
    "Personalized Learning",
    "Collaborative Learning",
    "Student Agency",
    "Coding in Every Classroom",
    "Social-Emotional Learning",
    "Universal Design for Learning",
    "Feedback That Moves Learning",
    "Media Literacy",
    "Inquiry-Based Science",
    "Math Discourse",
    "Reading Across the Content Areas",
    "Supporting English Learners",
    "Competency-Based Grading",
    "Family Engagement",
)

# Stored values (plain strings: asyncpg's COPY and sqlite3 want the database type).
LIT, FLU = Level.LITERACY.value, Level.FLUENCY.value
STARTED, SUBMITTED = PageState.STARTED.value, PageState.SUBMITTED.value
RETURNED, COMPLETE = PageState.RETURNED.value, PageState.COMPLETE.value
S_IN_PROGRESS = CertificationStatus.IN_PROGRESS.value
S_COMPLETE = CertificationStatus.COMPLETE.value
BY_PAGES, BY_PRE = EarnedBy.PAGES.value, EarnedBy.PRE_ASSESSMENT.value
SUB_PENDING = SubmissionStatus.PENDING.value
SUB_APPROVED = SubmissionStatus.APPROVED.value
SUB_RETURNED = SubmissionStatus.RETURNED.value
MEMBER, MANAGER = MembershipRole.MEMBER.value, MembershipRole.MANAGER.value
INCLUSIONS = (
    StatsInclusion.DEFAULT.value,
    StatsInclusion.INCLUDE.value,
    StatsInclusion.EXCLUDE.value,
)
ASSESSMENT_ENGINE = "integration:assessment-engine"
RETURN_FEEDBACK = "Thanks! Please add a short reflection on how your students responded."

COLUMNS: dict[str, tuple[str, ...]] = {
    "districts": ("id", "key", "name", "created_at"),
    "groups": ("id", "district_id", "kind", "key", "name"),
    "modules": (
        "id",
        "key",
        "title",
        "catalog",
        "district_id",
        "pre_assessment_passing_score",
        "created_at",
    ),
    "pages": ("id", "module_id", "key", "title", "level", "requires_review", "position"),
    "district_goals": ("district_id", "module_id"),
    "users": (
        "id",
        "district_id",
        "key",
        "name",
        "email",
        "is_pl_manager",
        "is_users_manager",
        "dcf_access",
        "stats_inclusion",
        "first_login_at",
        "last_login_at",
        "share_certifications_in_feed",
        "show_micro_certifications",
        "show_personal_stats",
        "created_at",
    ),
    "memberships": ("district_id", "user_id", "group_id", "role"),
    "stats_inclusion_changes": (
        "district_id",
        "user_id",
        "from_inclusion",
        "to_inclusion",
        "changed_by",
        "changed_by_user_id",
        "reason",
        "changed_at",
    ),
    "page_progress": (
        "district_id",
        "user_id",
        "page_id",
        "module_id",
        "state",
        "started_at",
        "updated_at",
        "completed_at",
    ),
    "pre_assessment_results": (
        "district_id",
        "user_id",
        "module_id",
        "score",
        "passing_score",
        "passed",
        "recorded_by",
        "recorded_at",
    ),
    "certifications": ("district_id", "user_id", "module_id", "level", "earned_by", "earned_at"),
    "submissions": (
        "district_id",
        "user_id",
        "page_id",
        "module_id",
        "submitted_at",
        "status",
        "reviewed_by_id",
        "reviewed_at",
        "feedback",
    ),
    "module_statuses": ("district_id", "user_id", "module_id", "level", "status", "updated_at"),
}
# The order chunks are written in: parents before the rows that point at them.
CHUNK_TABLES = (
    "users",
    "memberships",
    "stats_inclusion_changes",
    "page_progress",
    "pre_assessment_results",
    "certifications",
    "submissions",
    "module_statuses",
)
# Tables whose ids synth allocates (other rows point at them).
ALLOCATED = ("districts", "groups", "users", "modules", "pages")


class SynthError(Exception):
    """Options that cannot make a dataset."""


@dataclass(frozen=True, slots=True)
class SynthOptions:
    users: int
    districts: int = 1
    modules: int = 20
    seed: int = 1

    @property
    def prefix(self) -> str:
        return f"{PREFIX}{self.seed}"

    def district_key(self, index: int) -> str:
        return f"{self.prefix}-d{index}"

    def sizes(self) -> list[int]:
        """Users per district: an even split, the remainder to the first (the largest)."""
        sizes = [self.users // self.districts] * self.districts
        sizes[0] += self.users % self.districts
        return sizes

    def validate(self) -> None:
        if self.districts < 1 or self.modules < 1:
            raise SynthError("--districts and --modules must be at least 1")
        if self.users < MIN_USERS_PER_DISTRICT * self.districts:
            raise SynthError(
                f"--users must be at least {MIN_USERS_PER_DISTRICT} per district "
                f"({MIN_USERS_PER_DISTRICT * self.districts} for {self.districts})"
            )


@dataclass(frozen=True, slots=True)
class SynthResult:
    district: str
    manager: str
    member: str
    users: int
    written: bool

    def json_line(self) -> str:
        return json.dumps(
            {
                "district": self.district,
                "manager": self.manager,
                "member": self.member,
                "users": self.users,
            }
        )


# --- Plans: everything decided up front, no IO ---------------------------------------------------


@dataclass(slots=True)
class ModulePlan:
    id: int
    key: str
    title: str
    catalog: Catalog
    district: int | None  # the owning district's index, None for the vendor catalog
    passing: float | None
    popularity: float
    literacy: tuple[int, ...] = ()  # page ids in order
    fluency: tuple[int, ...] = ()
    review: tuple[bool, ...] = ()  # per Fluency page
    # P(a user of each activity class engages with the module at all).
    engaged: tuple[float, ...] = ()


@dataclass(slots=True)
class Ids:
    """The next free id of each table whose ids synth allocates."""

    next: dict[str, int]

    def take(self, table: str, n: int = 1) -> int:
        first = self.next[table]
        self.next[table] = first + n
        return first


def plan_catalog(
    opts: SynthOptions, ids: Ids, created: Any
) -> tuple[list[ModulePlan], list[Row], list[Row]]:
    """Vendor modules shared by the run's districts, then each district's own modules."""
    rng = random.Random(f"{opts.seed}/catalog")
    vendor = max(1, round(opts.modules * VENDOR_SHARE))
    own = opts.modules - vendor
    owners: list[int | None] = [None] * vendor
    for d in range(opts.districts):
        owners += [d] * own
    plans: list[ModulePlan] = []
    for n, owner in enumerate(owners):
        index = n if owner is None else n - vendor - owner * own
        key = f"{opts.prefix}-m{index}" if owner is None else f"{opts.prefix}-d{owner}-m{index}"
        topic = TOPICS[n % len(TOPICS)]
        title = topic if n < len(TOPICS) else f"{topic} {n // len(TOPICS) + 1}"
        passing = (
            float(rng.choice((60, 70, 75, 80, 85))) if rng.random() < WITH_PRE_ASSESSMENT else None
        )
        n_lit = rng.randint(2, 6)
        n_flu = 0 if rng.random() < NO_FLUENCY else rng.randint(1, 5)
        review = [rng.random() < REVIEW_PAGE for _ in range(n_flu)]
        # Small catalogs still show every case: a pre-assessment with a review page, and a
        # module without Fluency.
        if n == 0:
            passing = passing or 75.0
            n_flu = max(n_flu, 2)
            review = [True] + [j < len(review) and review[j] for j in range(1, n_flu)]
        elif n == 1:
            n_flu, review = 0, []
        plan = ModulePlan(
            id=ids.take("modules"),
            key=key,
            title=title,
            catalog=Catalog.MODERN_TEACHER if owner is None else Catalog.DISTRICT,
            district=owner,
            passing=passing,
            popularity=rng.uniform(0.6, 1.4),
        )
        plan.literacy = tuple(ids.take("pages") for _ in range(n_lit))
        plan.fluency = tuple(ids.take("pages") for _ in range(n_flu))
        plan.review = tuple(review)
        plan.engaged = tuple(min(0.95, ENGAGED * plan.popularity * a) for a in ACTIVITY)
        plans.append(plan)
    module_rows: list[Row] = []
    page_rows: list[Row] = []
    for plan in plans:
        module_rows.append(
            (
                plan.id,
                plan.key,
                plan.title,
                plan.catalog.value,
                plan.district,  # replaced by the district id once districts have ids
                plan.passing,
                created,
            )
        )
        for pos, page_id in enumerate(plan.literacy, 1):
            title = f"{plan.title}: Literacy {pos}"
            page_rows.append((page_id, plan.id, f"{plan.key}-l{pos}", title, LIT, False, pos))
        for i, page_id in enumerate(plan.fluency):
            pos = len(plan.literacy) + i + 1
            title = f"{plan.title}: Fluency {i + 1}"
            key = f"{plan.key}-f{i + 1}"
            page_rows.append((page_id, plan.id, key, title, FLU, plan.review[i], pos))
    return plans, module_rows, page_rows


@dataclass(slots=True)
class DistrictPlan:
    index: int
    id: int
    key: str
    name: str
    size: int
    user_base: int  # user i of the district has id user_base + i
    school_ids: list[int]
    cohort_ids: list[int]
    group_rows: list[Row]
    modules: list[ModulePlan]  # the modules the district sees, in id order
    goals: list[int]
    school: array[int] = field(default_factory=lambda: array("i"))
    cohort: array[int] = field(default_factory=lambda: array("i"))
    login: array[int] = field(default_factory=lambda: array("i"))  # first-login slot, -1 never
    activity: bytearray = field(default_factory=bytearray)
    inclusion: bytearray = field(default_factory=bytearray)  # index into INCLUSIONS
    flags: bytearray = field(default_factory=bytearray)  # FLAG_* bits
    manages: dict[int, list[int]] = field(default_factory=dict)  # user index -> group ids
    school_reviewer: list[int] = field(default_factory=list)  # user id per school


FLAG_DCF, FLAG_SHARE, FLAG_STATS, FLAG_BADGES = 1, 2, 4, 8
PL_MANAGERS = (0, 1)
USERS_MANAGER = 2


def plan_district(
    opts: SynthOptions, index: int, size: int, ids: Ids, catalog: Sequence[ModulePlan]
) -> DistrictPlan:
    rng = random.Random(f"{opts.seed}/d{index}/roster")
    key = opts.district_key(index)
    district_id = ids.take("districts")
    place = PLACES[(opts.seed * 7 + index) % len(PLACES)]
    n_schools = max(2, round(size / USERS_PER_SCHOOL))
    n_cohorts = max(1, round(size / USERS_PER_COHORT))
    school_ids = [ids.take("groups") for _ in range(n_schools)]
    cohort_ids = [ids.take("groups") for _ in range(n_cohorts)]
    group_rows: list[Row] = []
    for j, gid in enumerate(school_ids):
        name = f"{PLACES[(j * 11 + index) % len(PLACES)]} {SCHOOL_KINDS[j % len(SCHOOL_KINDS)]}"
        if j >= len(PLACES):
            name += f" {j // len(PLACES) + 1}"
        group_rows.append((gid, district_id, GroupKind.SCHOOL.value, f"{key}-s{j}", name))
    for j, gid in enumerate(cohort_ids):
        name = f"{TOPICS[j % len(TOPICS)]} Cohort {2025 + j % 2}-{26 + j % 2}"
        if j >= len(TOPICS):
            name += f" ({j // len(TOPICS) + 1})"
        group_rows.append((gid, district_id, GroupKind.COHORT.value, f"{key}-c{j}", name))
    modules = [m for m in catalog if m.district is None or m.district == index]
    goals = sorted(rng.sample([m.id for m in modules], min(GOALS_PER_DISTRICT, len(modules))))
    plan = DistrictPlan(
        index=index,
        id=district_id,
        key=key,
        name=f"{place} Unified School District",
        size=size,
        user_base=ids.take("users", size),
        school_ids=school_ids,
        cohort_ids=cohort_ids,
        group_rows=group_rows,
        modules=modules,
        goals=goals,
    )
    # Schools differ in size; users are spread by weight.
    weights = [rng.lognormvariate(0, 0.5) for _ in range(n_schools)]
    cum = list(itertools.accumulate(weights))
    plan.school = array("i", rng.choices(range(n_schools), cum_weights=cum, k=size))
    rnd, randrange = rng.random, rng.randrange
    cohort, login = plan.cohort, plan.login
    activity, inclusion, flags = plan.activity, plan.inclusion, plan.flags
    special = {*PL_MANAGERS, USERS_MANAGER}
    for i in range(size):
        cohort.append(randrange(n_cohorts) if rnd() < COHORT_SHARE else -1)
        is_special = i in special
        login.append(-1 if not is_special and rnd() < NEVER_LOGGED_IN else randrange(LOGIN_SLOTS))
        activity.append(randrange(3))
        f = 0
        inc = 0
        if i == USERS_MANAGER or (not is_special and rnd() < DCF_SHARE):
            f |= FLAG_DCF
            if not is_special and rnd() < INCLUDE_AMONG_DCF:
                inc = 1
        elif not is_special and rnd() < EXCLUDE_SHARE:
            inc = 2
        if rnd() >= NOT_SHARING:
            f |= FLAG_SHARE
        if rnd() >= HIDES_PERSONAL_STATS:
            f |= FLAG_STATS
        if rnd() >= HIDES_BADGES:
            f |= FLAG_BADGES
        flags.append(f)
        inclusion.append(inc)
    # The first logged-in ordinary member of each school and cohort also manages it.
    school_manager: dict[int, int] = {}
    cohort_manager: dict[int, int] = {}
    for i in range(len(special), size):
        if login[i] < 0:
            continue
        s = plan.school[i]
        if s not in school_manager:
            school_manager[s] = i
            plan.manages.setdefault(i, []).append(school_ids[s])
        c = cohort[i]
        if c >= 0 and c not in cohort_manager:
            cohort_manager[c] = i
            plan.manages.setdefault(i, []).append(cohort_ids[c])
        if len(school_manager) == n_schools and len(cohort_manager) == n_cohorts:
            break
    pl_manager = plan.user_base + PL_MANAGERS[0]
    plan.school_reviewer = [
        plan.user_base + school_manager[s] if s in school_manager else pl_manager
        for s in range(n_schools)
    ]
    return plan


@dataclass(slots=True)
class Rows:
    tables: dict[str, list[Row]] = field(
        default_factory=lambda: {name: [] for name in CHUNK_TABLES}
    )


class Clock:
    """Timestamps by slot, made once: aware datetimes for asyncpg, SQLAlchemy's text on SQLite."""

    def __init__(self, sqlite: bool) -> None:
        start = ANCHOR - SLOT * TOTAL_SLOTS
        stamps = [start + SLOT * i for i in range(TOTAL_SLOTS + 1)]
        self.at: list[Any] = (
            [s.strftime("%Y-%m-%d %H:%M:%S.%f") for s in stamps] if sqlite else stamps
        )
        created = start - timedelta(days=30)
        self.created: Any = created.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else created


def emit_chunk(plan: DistrictPlan, lo: int, hi: int, clock: Clock, seed: int) -> Rows:
    """All rows of users lo..hi-1 of a district (their own random stream, so chunks are
    independent and a seed gives the same rows whatever the order they are made in)."""
    rng = random.Random(f"{seed}/d{plan.index}/users/{lo}")
    rnd = rng.random
    out = Rows()
    t = out.tables
    users_append = t["users"].append
    member_append = t["memberships"].append
    changes_append = t["stats_inclusion_changes"].append
    pp = t["page_progress"].append
    pre = t["pre_assessment_results"].append
    cert = t["certifications"].append
    sub = t["submissions"].append
    status = t["module_statuses"].append
    at = clock.at
    did = plan.id
    key_prefix = f"{plan.key}-u"
    pl_manager_key = f"{key_prefix}{PL_MANAGERS[0]}"
    pl_manager_id = plan.user_base + PL_MANAGERS[0]
    modules = plan.modules
    n_first, n_last = len(FIRST_NAMES), len(LAST_NAMES)
    for i in range(lo, hi):
        uid = plan.user_base + i
        login = plan.login[i]
        flags = plan.flags[i]
        inclusion = INCLUSIONS[plan.inclusion[i]]
        first = FIRST_NAMES[int(rnd() * n_first)]
        last = LAST_NAMES[int(rnd() * n_last)]
        logged_in = login >= 0
        users_append(
            (
                uid,
                did,
                f"{key_prefix}{i}",
                f"{first} {last}",
                f"{first.lower()}.{last.lower()}.{i}@{plan.key}.example.org",
                i in PL_MANAGERS,
                i == USERS_MANAGER,
                bool(flags & FLAG_DCF),
                inclusion,
                at[login] if logged_in else None,
                at[login + int(rnd() * JOURNEY_SLOTS)] if logged_in else None,
                bool(flags & FLAG_SHARE),
                bool(flags & FLAG_BADGES),
                bool(flags & FLAG_STATS),
                clock.created,
            )
        )
        school = plan.school[i]
        groups = [(plan.school_ids[school], MEMBER)]
        if plan.cohort[i] >= 0:
            groups.append((plan.cohort_ids[plan.cohort[i]], MEMBER))
        groups += [(g, MANAGER) for g in plan.manages.get(i, ())]
        for g, role in sorted(groups):
            member_append((did, uid, g, role))
        if plan.inclusion[i]:
            changes_append(
                (
                    did,
                    uid,
                    INCLUSIONS[0],
                    inclusion,
                    pl_manager_key,
                    pl_manager_id,
                    "synthetic data",
                    at[int(rnd() * LOGIN_SLOTS)],
                )
            )
        if not logged_in:
            continue
        # Reviewers: the learner's school manager, or a district PL manager (never the learner).
        reviewer = plan.school_reviewer[school]
        if reviewer == uid:
            reviewer = pl_manager_id
        if reviewer == uid:
            reviewer = plan.user_base + PL_MANAGERS[1]
        act = plan.activity[i]
        for m in modules:
            r = rnd()
            e = m.engaged[act]
            mid = m.id
            passing = m.passing
            if r >= e:
                if passing is not None and rnd() < FAILED_PRE_ASSESSMENT_ALONE:
                    s = login + int(rnd() * JOURNEY_SLOTS)
                    score = float(int(rnd() * passing))
                    pre((did, uid, mid, score, passing, False, ASSESSMENT_ENGINE, at[s]))
                continue
            x = r / e
            s = login + int(rnd() * JOURNEY_SLOTS)
            step = 1 + int(rnd() * PAGE_STEP)
            lit = m.literacy
            if x >= LIT_BY_PRE_ASSESSMENT and passing is not None:
                # Failed the pre-assessment, then started on the pages.
                score = float(int(rnd() * passing))
                pre((did, uid, mid, score, passing, False, ASSESSMENT_ENGINE, at[s]))
                s += step
            if x < LIT_IN_PROGRESS or x >= LIT_BY_PRE_ASSESSMENT:
                # A funnel: most learners in progress stopped after a page or two.
                k = 1 + int(rnd() * rnd() * len(lit))
                for page in lit[: k - 1]:
                    pp((did, uid, page, mid, COMPLETE, at[s], at[s + 1], at[s + 1]))
                    s += step
                pp((did, uid, lit[k - 1], mid, STARTED, at[s], at[s], None))
                status((did, uid, mid, LIT, S_IN_PROGRESS, at[s]))
                continue
            if x < LIT_BY_PAGES or passing is None:
                for page in lit:
                    pp((did, uid, page, mid, COMPLETE, at[s], at[s + 1], at[s + 1]))
                    s += step
                done = at[s - step + 1]
                cert((did, uid, mid, LIT, BY_PAGES, done))
                status((did, uid, mid, LIT, S_COMPLETE, done))
                s += 1
            else:
                score = float(passing + int(rnd() * (101 - passing)))
                pre((did, uid, mid, score, passing, True, ASSESSMENT_ENGINE, at[s]))
                cert((did, uid, mid, LIT, BY_PRE, at[s]))
                status((did, uid, mid, LIT, S_COMPLETE, at[s]))
                s += step
            flu = m.fluency
            if not flu:
                continue
            y = rnd()
            if y >= FLU_COMPLETE:
                continue
            n = len(flu) if y >= FLU_IN_PROGRESS else 1 + int(rnd() * rnd() * len(flu))
            complete = n if y >= FLU_IN_PROGRESS else n - 1
            review = m.review
            for j in range(complete):
                page = flu[j]
                if review[j]:
                    if rnd() < RETURNED_BEFORE_APPROVAL:
                        sub((did, uid, page, mid, at[s], SUB_RETURNED, reviewer, at[s + 1], None))
                        s += 2
                    sub((did, uid, page, mid, at[s + 1], SUB_APPROVED, reviewer, at[s + 2], None))
                    pp((did, uid, page, mid, COMPLETE, at[s], at[s + 2], at[s + 2]))
                    s += step + 2
                else:
                    pp((did, uid, page, mid, COMPLETE, at[s], at[s + 1], at[s + 1]))
                    s += step
            if complete == n:
                done = at[s - step if review[n - 1] else s - step + 1]
                cert((did, uid, mid, FLU, BY_PAGES, done))
                status((did, uid, mid, FLU, S_COMPLETE, done))
                continue
            page = flu[n - 1]
            state = STARTED
            if review[n - 1]:
                z = rnd()
                if z < SUBMITTED_LAST:
                    state = SUBMITTED
                    sub((did, uid, page, mid, at[s + 1], SUB_PENDING, None, None, None))
                elif z < RETURNED_LAST:
                    state = RETURNED
                    sub(
                        (
                            did,
                            uid,
                            page,
                            mid,
                            at[s + 1],
                            SUB_RETURNED,
                            reviewer,
                            at[s + 2],
                            RETURN_FEEDBACK,
                        )
                    )
            last = at[s] if state == STARTED else at[s + (1 if state == SUBMITTED else 2)]
            pp((did, uid, page, mid, state, at[s], last, None))
            status((did, uid, mid, FLU, S_IN_PROGRESS, last))
    return out


# --- Writing ---------------------------------------------------------------------------------


class BulkWriter(Protocol):
    async def insert(self, table: str, rows: Sequence[Row]) -> None: ...


class CopyWriter:
    """PostgreSQL: COPY through asyncpg, inside the session's transaction."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    async def insert(self, table: str, rows: Sequence[Row]) -> None:
        if rows:
            await self.driver.copy_records_to_table(
                table, records=rows, columns=list(COLUMNS[table])
            )


class SqliteWriter:
    """SQLite: one executemany per batch, inside the session's transaction."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    async def insert(self, table: str, rows: Sequence[Row]) -> None:
        if rows:
            columns = COLUMNS[table]
            marks = ", ".join("?" * len(columns))
            sql = f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({marks})'
            await self.driver.executemany(sql, rows)


# Feed positions (`seq`) number each district's items 1, 2, 3... in the order they were earned;
# the districts are new, so they start at 1, and `feed_sequences` records the last position.
FEED_SQL = """
INSERT INTO feed_items
    (district_id, user_id, kind, certification_id, created_at, published_at, seq)
SELECT c.district_id, c.user_id, :kind, c.id, c.earned_at, c.earned_at,
       ROW_NUMBER() OVER (PARTITION BY c.district_id ORDER BY c.earned_at, c.id)
FROM certifications c
JOIN users u ON u.district_id = c.district_id AND u.id = c.user_id
WHERE c.district_id IN ({ids}) AND u.share_certifications_in_feed
ORDER BY c.district_id, c.earned_at, c.id
"""
FEED_SEQUENCES_SQL = """
INSERT INTO feed_sequences (district_id, last_seq)
SELECT district_id, MAX(seq) FROM feed_items WHERE district_id IN ({ids}) GROUP BY district_id
"""


async def synth(url: str, opts: SynthOptions, echo: Echo | None = None) -> SynthResult:
    """Load the dataset of `opts` into the (migrated) database at `url`, in one transaction."""
    opts.validate()
    echo = echo or (lambda _m: None)
    started = time.monotonic()
    db = Database(url)
    try:
        async with db.write() as session:
            result = await _synth(session, db.is_sqlite, opts, echo)
    finally:
        await db.dispose()
    if result.written:
        echo(f"synth: committed ({time.monotonic() - started:.1f} s)")
    return result


async def _synth(
    session: AsyncSession, sqlite: bool, opts: SynthOptions, echo: Echo
) -> SynthResult:
    started = time.monotonic()

    def say(message: str) -> None:
        echo(f"synth: {message} ({time.monotonic() - started:.1f} s)")

    if not sqlite:
        # Ids are allocated from max(id): keep other writers of these tables out meanwhile.
        tables = ", ".join(ALLOCATED)
        await session.execute(text(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE"))
        await _skip_row_triggers(session, echo)
    first_key = opts.district_key(0)
    found = await session.execute(select(District.id).where(District.key == first_key))
    existing = found.scalar_one_or_none()
    if existing is not None:
        echo(f"synth: seed {opts.seed} is loaded already (district {first_key}); nothing written")
        return await _result(session, existing, first_key, written=False)

    next_ids = {}
    for table in ALLOCATED:
        top = await session.execute(text(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"'))
        next_ids[table] = int(top.scalar_one()) + 1
    ids = Ids(next_ids)
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    writer: BulkWriter
    if sqlite:
        await driver.execute("PRAGMA cache_size=-262144")  # 256 MiB for the index b-trees
        writer = SqliteWriter(driver)
    else:
        writer = CopyWriter(driver)

    clock = Clock(sqlite)
    catalog, module_rows, page_rows = plan_catalog(opts, ids, clock.created)
    districts = [plan_district(opts, d, size, ids, catalog) for d, size in enumerate(opts.sizes())]
    say(f"planned {len(districts)} district(s), {len(catalog)} modules, {opts.users} users")
    written: dict[str, int] = {}
    seconds: dict[str, float] = {}

    async def insert(table: str, rows: Sequence[Row]) -> None:
        began = time.monotonic()
        await writer.insert(table, rows)
        written[table] = written.get(table, 0) + len(rows)
        seconds[table] = seconds.get(table, 0.0) + time.monotonic() - began

    await insert("districts", [(p.id, p.key, p.name, clock.created) for p in districts])
    owner_ids = [p.id for p in districts]
    await insert(
        "modules",
        [(*r[:4], None if r[4] is None else owner_ids[r[4]], *r[5:]) for r in module_rows],
    )
    await insert("pages", page_rows)
    await insert("groups", [row for p in districts for row in p.group_rows])
    await insert("district_goals", [(p.id, m) for p in districts for m in p.goals])

    async def write_chunk(rows: Rows) -> None:
        for table in CHUNK_TABLES:
            await insert(table, rows.tables[table])

    # A chunk is made in a worker thread while the one before it is being written.
    done = 0
    pending: asyncio.Task[None] | None = None
    try:
        for plan in districts:
            step = max(plan.size // 10, 1)
            next_report = step
            for lo in range(0, plan.size, CHUNK_USERS):
                hi = min(lo + CHUNK_USERS, plan.size)
                rows = await asyncio.to_thread(emit_chunk, plan, lo, hi, clock, opts.seed)
                if pending is not None:
                    await pending
                pending = asyncio.create_task(write_chunk(rows))
                done += hi - lo
                if hi >= next_report or hi == plan.size:
                    next_report = (hi // step + 1) * step
                    say(
                        f"{plan.key} users {hi}/{plan.size}, all {done}/{opts.users}, "
                        f"{written.get('page_progress', 0)} page progress rows written"
                    )
        if pending is not None:
            await pending
    finally:
        if pending is not None and not pending.done():
            # Failing: let the write in flight end before the transaction is rolled back.
            with contextlib.suppress(Exception):
                await pending

    in_run = ", ".join(str(i) for i in owner_ids)
    feed = text(FEED_SQL.format(ids=in_run))
    added = await session.execute(feed, {"kind": FeedItemKind.CERTIFICATION_EARNED.value})
    await session.execute(text(FEED_SEQUENCES_SQL.format(ids=in_run)))
    written["feed_items"] = int(added.rowcount or 0)
    say(f"{written['feed_items']} feed items")
    if not sqlite:
        # Fresh statistics for the recount's joins (ANALYZE sees this transaction's rows).
        await session.execute(text("ANALYZE users, memberships, module_statuses, groups"))
        for table in ALLOCATED:
            await session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f'(SELECT MAX(id) FROM "{table}"))'
                )
            )
    for plan in districts:
        await rebuild_district(session, plan.id)
    say("stats counters rebuilt")
    result = await _result(session, districts[0].id, districts[0].key, written=True)
    summary = ", ".join(f"{t} {n}" for t, n in written.items())
    say(f"rows: {summary}; committing")
    slowest = sorted(seconds.items(), key=lambda item: -item[1])[:6]
    echo("synth: write time by table: " + ", ".join(f"{t} {s:.1f} s" for t, s in slowest))
    return result


async def _skip_row_triggers(session: AsyncSession, echo: Echo) -> None:
    """PostgreSQL checks each foreign key of each COPYed row with a query of its own: most of
    the load time at scale. synth makes every reference itself (tests/db/test_synth.py checks
    them), so where the role may (a superuser, or one granted SET on the parameter), it turns
    the checks off for its own transaction. The schema has no other triggers."""
    try:
        async with session.begin_nested():
            await session.execute(text("SET LOCAL session_replication_role = replica"))
    except DBAPIError:
        echo("synth: foreign keys are checked row by row (the role may not skip them): slower")


async def _result(
    session: AsyncSession, district_id: int, district_key: str, *, written: bool
) -> SynthResult:
    """The JSON line's facts, read back: the same answer on the first run and on a rerun."""
    users = await session.execute(
        select(func.count()).select_from(User).where(User.district_id == district_id)
    )
    manager = await session.execute(
        select(User.key)
        .where(User.district_id == district_id, User.is_pl_manager.is_(True))
        .order_by(User.id)
        .limit(1)
    )

    def membership(role: MembershipRole) -> Any:
        return select(Membership.user_id).where(
            Membership.district_id == User.district_id,
            Membership.user_id == User.id,
            Membership.role == role,
        )

    in_cohort = (
        membership(MembershipRole.MEMBER)
        .join(Group, Group.id == Membership.group_id)
        .where(Group.kind == GroupKind.COHORT)
        .exists()
    )
    has_progress = (
        select(ModuleStatus.user_id)
        .where(ModuleStatus.district_id == User.district_id, ModuleStatus.user_id == User.id)
        .exists()
    )
    # A typical counted teacher: in a school and a cohort, manages nothing, has progress.
    typical = await session.execute(
        select(User.key)
        .where(
            User.district_id == district_id,
            User.is_pl_manager.is_(False),
            User.is_users_manager.is_(False),
            User.dcf_access.is_(False),
            User.stats_inclusion == StatsInclusion.DEFAULT,
            User.first_login_at.is_not(None),
            in_cohort,
            ~membership(MembershipRole.MANAGER).exists(),
            has_progress,
        )
        .order_by(User.id)
        .limit(1)
    )
    member = typical.scalar_one_or_none()
    if member is None:
        anyone = await session.execute(
            select(User.key)
            .where(User.district_id == district_id, membership(MembershipRole.MEMBER).exists())
            .order_by(User.id)
            .limit(1)
        )
        member = anyone.scalar_one()
    return SynthResult(
        district=district_key,
        manager=manager.scalar_one(),
        member=member,
        users=int(users.scalar_one()),
        written=written,
    )


def run_synth(url: str, opts: SynthOptions, echo: Echo | None = None) -> str:
    """The command: migrate, load, and return the JSON line (call outside an event loop)."""
    from models.migrate import upgrade

    opts.validate()
    upgrade(url)
    return asyncio.run(synth(url, opts, echo)).json_line()
