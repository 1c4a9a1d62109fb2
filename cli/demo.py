"""`microcred demo`: a believable demo district, loaded through the real write paths.

The roster and the catalog are built as an import file and loaded by the importer (the one
path for all data loading). Progress is then made by the actors who make it in production,
through the same write services the GraphQL mutations call:

- learners start and complete pages as themselves (a `UserViewer`);
- the assessment engine (an integration with `progress:write`) records pre-assessment scores;
- school/cohort managers and the district PL manager approve or return Fluency submissions,
  and some learners resubmit after a return.

Everything is decided up front by `build_demo(seed)`, a pure function (so the district is the
same on every machine), then applied in one write transaction: the demo is all or nothing.
Loading is idempotent by the district key: when `demo-district` exists, nothing is written.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from models.db import Database
from models.enums import (
    Catalog,
    DistrictRole,
    EarnedBy,
    GroupKind,
    IntegrationScope,
    Level,
    MembershipRole,
    StatsInclusion,
    SubmissionStatus,
)
from models.rules.permissions import IntegrationViewer, UserViewer
from models.services.importer import apply_import, parse_import
from models.services.progress import (
    complete_page,
    record_pre_assessment,
    review_submission,
    start_page,
)
from models.tables import (
    Certification,
    District,
    DistrictGoal,
    Group,
    Membership,
    Module,
    Page,
    Submission,
    User,
)

SEED = 20260901
DEMO_DISTRICT_KEY = "demo-district"
DISTRICT_NAME = "Maple Valley School District"
EMAIL_DOMAIN = "maplevalley.example.org"
INTEGRATION_NAME = "assessment-engine"

LITERACY, FLUENCY = Level.LITERACY, Level.FLUENCY
MEMBER, MANAGER = MembershipRole.MEMBER, MembershipRole.MANAGER

Echo = Callable[[str], None]
Decision = Literal["approve", "return", "resubmit", "pending"]


# --- The catalog ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageSpec:
    key: str
    title: str
    level: Level
    requires_review: bool = False


@dataclass(frozen=True, slots=True)
class ModuleSpec:
    key: str
    title: str
    catalog: Catalog
    pages: tuple[PageSpec, ...]
    passing_score: float | None = None
    # How likely a learner is to pick it up, relative to an average module.
    popularity: float = 1.0

    def at(self, level: Level) -> list[PageSpec]:
        return [p for p in self.pages if p.level is level]


def _module(
    key: str,
    title: str,
    catalog: Catalog,
    literacy: Sequence[str],
    fluency: Sequence[tuple[str, bool]] = (),
    *,
    passing_score: float | None = None,
    popularity: float = 1.0,
) -> ModuleSpec:
    """Pages are keyed `<module>-l1...` then `<module>-f1...`; fluency items are (title, review)."""
    pages = [PageSpec(f"{key}-l{i}", t, LITERACY) for i, t in enumerate(literacy, 1)]
    pages += [PageSpec(f"{key}-f{i}", t, FLUENCY, r) for i, (t, r) in enumerate(fluency, 1)]
    return ModuleSpec(key, title, catalog, tuple(pages), passing_score, popularity)


MT, DISTRICT = Catalog.MODERN_TEACHER, Catalog.DISTRICT

MODULES: tuple[ModuleSpec, ...] = (
    _module(
        "demo-mt-blended-learning",
        "Blended Learning Foundations",
        MT,
        [
            "What blended learning is (and isn't)",
            "Station rotation, flipped and flex models",
            "Choosing digital content with a purpose",
            "Routines for a blended classroom",
        ],
        [
            ("Plan a station rotation lesson", True),
            ("Teach it and reflect on student engagement", False),
            ("Share student work samples with your team", False),
        ],
        passing_score=80,
        popularity=1.6,
    ),
    _module(
        "demo-mt-formative-assessment",
        "Formative Assessment in Action",
        MT,
        [
            "The formative assessment cycle",
            "Learning targets and success criteria",
            "Quick checks for understanding",
            "Feedback that moves learning forward",
        ],
        [
            ("Design an exit ticket for tomorrow's lesson", False),
            ("Regroup students using exit-ticket evidence", True),
        ],
        passing_score=75,
        popularity=1.3,
    ),
    _module(
        "demo-mt-digital-citizenship",
        "Digital Citizenship for Every Classroom",
        MT,
        [
            "Digital footprints and reputation",
            "Media literacy and misinformation",
            "Online safety and student privacy",
            "Teaching respectful online discourse",
        ],
        passing_score=70,
        popularity=1.2,
    ),
    _module(
        "demo-mt-personalized-learning",
        "Personalized Learning Pathways",
        MT,
        ["Building learner profiles", "Flexible pacing", "Choice boards and playlists"],
        [
            ("Co-create a learner profile with a student", True),
            ("Build a playlist for one unit", True),
            ("Reflect on pacing data after two weeks", False),
        ],
    ),
    _module(
        "demo-mt-project-based-learning",
        "Project-Based Learning Essentials",
        MT,
        ["Writing a driving question", "Designing authentic products", "Scaffolding teamwork"],
        [("Draft a project calendar", False), ("Host a public exhibition of learning", True)],
        popularity=0.8,
    ),
    _module(
        "demo-mt-student-agency",
        "Student Agency and Voice",
        MT,
        ["Why agency matters", "Goal-setting conferences", "Student-led reflection"],
        popularity=0.9,
    ),
    _module(
        "demo-mt-data-driven-instruction",
        "Data-Driven Instruction",
        MT,
        [
            "Reading an assessment report",
            "Finding patterns across classes",
            "From data to an action plan",
        ],
        [("Lead a data team meeting", False), ("Adjust a unit using the evidence", False)],
        passing_score=80,
        popularity=0.7,
    ),
    _module(
        "demo-mv-literacy-framework",
        "Maple Valley Literacy Framework",
        DISTRICT,
        [
            "Our K-12 literacy vision",
            "Structured literacy routines",
            "Writing across the content areas",
        ],
        [("Model a close-reading routine", True), ("Peer observation and debrief", False)],
        popularity=1.5,
    ),
    _module(
        "demo-mv-canvas",
        "Teaching with Canvas at Maple Valley",
        DISTRICT,
        [
            "Setting up your course shell",
            "Modules, assignments and due dates",
            "SpeedGrader and rubric feedback",
        ],
        passing_score=70,
        popularity=1.2,
    ),
    _module(
        "demo-mv-sel-circles",
        "SEL: Morning Meetings and Restorative Circles",
        DISTRICT,
        [
            "The four parts of a morning meeting",
            "Restorative questions",
            "Building classroom community",
        ],
        [("Lead a restorative circle", True), ("Reflect with a colleague", False)],
        popularity=0.9,
    ),
)
GOALS = ("demo-mt-blended-learning", "demo-mv-literacy-framework")


# --- The roster -------------------------------------------------------------------------------

SCHOOLS = {
    "demo-maple-valley-hs": "Maple Valley High School",
    "demo-cedar-ridge-ms": "Cedar Ridge Middle School",
    "demo-lincoln-es": "Lincoln Elementary School",
    "demo-riverside-es": "Riverside Elementary School",
}
COHORTS = {
    "demo-new-teachers-2026": "New Teachers 2026",
    "demo-blended-pilot": "Blended Learning Pilot",
    "demo-coaching-team": "Instructional Coaching Team",
}
HS, MS, LINCOLN, RIVERSIDE = SCHOOLS
NEW_TEACHERS, PILOT, COACHES = COHORTS

TEACHER_FIRST_NAMES = (
    "Aaliyah", "Adrian", "Amara", "Andre", "Beatriz", "Caleb", "Camila", "Chloe", "Darius",
    "Deepa", "Diego", "Elena", "Ethan", "Fatima", "Gabriel", "Grace", "Hannah", "Hiroshi",
    "Imani", "Isaac", "Jamal", "Jenna", "Julian", "Kayla", "Kenji", "Lauren", "Leah", "Malik",
    "Maria", "Matthew", "Maya", "Megan", "Miguel", "Nadia", "Nathan", "Noah", "Olivia", "Priya",
    "Quinn", "Rosa", "Ryan", "Sarah", "Tariq", "Tessa", "Victor", "Whitney", "Yusuf", "Zoe",
)  # fmt: skip
TEACHER_LAST_NAMES = (
    "Abbott", "Banerjee", "Brooks", "Castillo", "Chen", "Coleman", "Dawson", "Delgado", "Ellis",
    "Ferreira", "Foster", "Garcia", "Goldberg", "Hayes", "Henderson", "Ibrahim", "Jackson",
    "Jensen", "Kaur", "Lambert", "Lopez", "MacDonald", "Martinez", "Mendoza", "Mitchell",
    "Murphy", "Novak", "Ortiz", "Owens", "Park", "Perry", "Quinlan", "Ramirez", "Russo",
    "Santos", "Schmidt", "Shapiro", "Sullivan", "Tanaka", "Thompson", "Turner", "Vasquez",
    "Wallace", "Washington", "Weber", "Williams", "Yamamoto", "Zimmerman",
)  # fmt: skip

FEEDBACK_RETURNED = (
    "Nice start! Please add how you'll group students at each station, then resubmit.",
    "Can you attach one or two student work samples? Then this is ready to approve.",
    "The plan is solid. Add the success criteria you shared with students and resubmit.",
    "Let's talk at our next coaching cycle; please add a short reflection on what you'd change.",
)
FEEDBACK_APPROVED = (
    "Great work - your students were clearly engaged. Approved!",
    "Approved. Would you be willing to share this at the next staff meeting?",
    None,
    None,
)


@dataclass(frozen=True, slots=True)
class Profile:
    """How engaged a learner is: the chance to pick up a module and how far they go."""

    touch: float
    # Weights of: literacy under way, literacy done, fluency under way, fluency done.
    depth: tuple[float, float, float, float]


PROFILES = {
    "champion": Profile(0.5, (1, 2, 2, 4)),
    "steady": Profile(0.26, (2, 3, 2, 2)),
    "light": Profile(0.12, (4, 2, 1, 1)),
    "idle": Profile(0.0, (1, 0, 0, 0)),
}


@dataclass(slots=True)
class Person:
    key: str
    name: str
    job: str
    profile: str
    roles: tuple[DistrictRole, ...] = ()
    dcf: bool = False
    inclusion: StatsInclusion = StatsInclusion.DEFAULT
    first_login: datetime | None = None
    share: bool = True

    @property
    def is_pl_manager(self) -> bool:
        return DistrictRole.PL_MANAGER in self.roles


def _key(name: str) -> str:
    return "demo-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _email(name: str) -> str:
    first, *rest = name.lower().replace("'", "").split()
    return f"{first}.{'-'.join(rest)}@{EMAIL_DOMAIN}"


# --- Progress ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Journey:
    """One learner on one module: what happens, in order."""

    pre_score: float | None = None  # recorded by the assessment engine before any page
    literacy_done: int = 0  # Literacy pages completed, in page order
    literacy_open: bool = False  # and the next one started, not finished
    fluency_done: int = 0
    fluency_open: bool = False
    # What reviewers do with each submitted review page, in page order.
    decisions: tuple[Decision, ...] = ()


@dataclass(frozen=True, slots=True)
class PreAssessmentStep:
    user: str
    module: str
    score: float


@dataclass(frozen=True, slots=True)
class PageStep:
    user: str
    page: str
    complete: bool  # False: the learner only opened it


@dataclass(frozen=True, slots=True)
class ReviewStep:
    learner: str
    page: str
    reviewer: str
    approve: bool
    feedback: str | None
    resubmit: bool  # the learner reworks it and submits again after the return


@dataclass(slots=True)
class DemoPlan:
    people: list[Person]
    memberships: list[tuple[str, str, MembershipRole]]
    pre_assessments: list[PreAssessmentStep] = field(default_factory=list)
    page_steps: list[PageStep] = field(default_factory=list)
    reviews: list[ReviewStep] = field(default_factory=list)
    featured: dict[str, Person] = field(default_factory=dict)

    def import_data(self) -> dict[str, Any]:
        """The demo as an import file (API.md "Import file")."""
        d = DEMO_DISTRICT_KEY
        return {
            "districts": [{"key": d, "name": DISTRICT_NAME}],
            "schools": [{"key": k, "district": d, "name": n} for k, n in SCHOOLS.items()],
            "cohorts": [{"key": k, "district": d, "name": n} for k, n in COHORTS.items()],
            "users": [
                {
                    "key": p.key,
                    "district": d,
                    "name": p.name,
                    "email": _email(p.name),
                    "roles": [r.value for r in p.roles],
                    "dcfAccess": p.dcf,
                    "statsInclusion": p.inclusion.value,
                    "firstLoginAt": _iso(p.first_login) if p.first_login else None,
                    "shareCertificationsInFeed": p.share,
                }
                for p in self.people
            ],
            "memberships": [
                {"user": u, "group": g, "role": r.value} for u, g, r in self.memberships
            ],
            "modules": [
                {
                    "key": m.key,
                    "title": m.title,
                    "catalog": m.catalog.value,
                    "district": d if m.catalog is DISTRICT else None,
                    "preAssessmentPassingScore": m.passing_score,
                    "pages": [
                        {
                            "key": p.key,
                            "level": p.level.value,
                            "title": p.title,
                            "requiresReview": p.requires_review,
                        }
                        for p in m.pages
                    ],
                }
                for m in MODULES
            ],
            "goals": [{"district": d, "module": m} for m in GOALS],
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _build_roster(
    rng: random.Random, now: datetime
) -> tuple[list[Person], list[tuple[str, str, MembershipRole]], dict[str, Person]]:
    def logged_in(min_days: float, max_days: float) -> datetime:
        return (now - timedelta(days=rng.uniform(min_days, max_days))).replace(microsecond=0)

    people: list[Person] = []
    memberships: list[tuple[str, str, MembershipRole]] = []

    def person(name: str, job: str, profile: str, **kw: Any) -> Person:
        kw.setdefault("first_login", logged_in(60, 400))
        p = Person(_key(name), name, job, profile, **kw)
        people.append(p)
        return p

    def join(p: Person, group: str, role: MembershipRole = MEMBER) -> None:
        memberships.append((p.key, group, role))

    # District office and school leaders. Administrators have DCF access, which excludes
    # them from the Comparison Stats by default; the PL director chose to be counted.
    dcf = {"dcf": True}
    person("Patricia Hollowell", "Superintendent", "idle", **dcf)
    # Two district PL managers, so that the director's own submissions have a reviewer.
    person(
        "Raymond Okafor",
        "Assistant Superintendent for Teaching and Learning",
        "light",
        roles=(DistrictRole.PL_MANAGER,),
        **dcf,
    )
    pl_manager = person(
        "Dana Whitfield",
        "Director of Professional Learning",
        "steady",
        roles=(DistrictRole.PL_MANAGER,),
        inclusion=StatsInclusion.INCLUDE,
        **dcf,
    )
    users_manager = person(
        "Luis Carranza",
        "Data and Systems Coordinator",
        "light",
        roles=(DistrictRole.USERS_MANAGER,),
    )
    principals = {
        HS: person("Gregory Stanton", "Principal", "light", **dcf),
        MS: person("Angela Moreno", "Principal", "steady", **dcf),
        LINCOLN: person("Keisha Robinson", "Principal", "light", **dcf),
        RIVERSIDE: person("Thomas Nguyen", "Principal", "idle", **dcf),
    }
    for school, principal in principals.items():
        join(principal, school, MANAGER)
    join(person("Brian Kowalski", "Assistant Principal", "light", **dcf), HS, MANAGER)
    join(person("Samantha Reyes", "Assistant Principal", "light", **dcf), MS, MANAGER)

    # Instructional coaches: members of their school's stats and its PL managers too.
    coach_ms = person("Jasmine Patel", "Instructional Coach", "champion")
    coach_hs = person("Owen Fitzgerald", "Instructional Coach", "champion")
    coach_es = person("Rachel Kim", "Instructional Coach", "champion")
    join(coach_ms, MS)
    join(coach_ms, MS, MANAGER)
    join(coach_ms, PILOT, MANAGER)
    join(coach_hs, HS)
    join(coach_hs, NEW_TEACHERS, MANAGER)
    join(coach_es, RIVERSIDE)
    join(coach_es, RIVERSIDE, MANAGER)
    join(coach_es, LINCOLN, MANAGER)
    join(pl_manager, COACHES, MANAGER)
    join(pl_manager, NEW_TEACHERS, MANAGER)
    for coach in (coach_ms, coach_hs, coach_es):
        join(coach, COACHES)

    # Teachers: a featured one, then veterans and this year's new hires per school.
    teacher = person("Sofia Alvarez", "7th grade science", "steady")
    join(teacher, MS)
    join(teacher, PILOT)
    names = [
        f"{first} {last}"
        for first, last in zip(
            rng.sample(TEACHER_FIRST_NAMES, len(TEACHER_FIRST_NAMES)),
            rng.sample(TEACHER_LAST_NAMES, len(TEACHER_LAST_NAMES)),
            strict=True,
        )
    ]
    veterans: dict[str, list[Person]] = {}
    for school, veteran_count, new_count in (
        (HS, 11, 3),
        (MS, 9, 2),
        (LINCOLN, 9, 2),
        (RIVERSIDE, 9, 2),
    ):
        for _ in range(veteran_count):
            profile = rng.choices(list(PROFILES), weights=(15, 40, 35, 10))[0]
            p = person(names.pop(), "Teacher", profile)
            join(p, school)
            veterans.setdefault(school, []).append(p)
        for i in range(new_count):
            # The welcome email went out to a few new hires only: most have not signed in.
            signed_in = i == 0 and school in (HS, MS, LINCOLN)
            p = person(
                names.pop(),
                "Teacher (new hire)",
                "light" if signed_in else "idle",
                first_login=logged_in(2, 20) if signed_in else None,
            )
            join(p, school)
            join(p, NEW_TEACHERS)

    # Shared staff teach in two buildings.
    join(veterans[LINCOLN][0], RIVERSIDE)
    join(veterans[HS][0], MS)
    # A veteran hired late in the summer has an account but has never signed in.
    late = veterans[RIVERSIDE][-1]
    late.first_login, late.profile, late.job = None, "idle", "Teacher (late hire)"
    # A long-term substitute, excluded from the stats by the PL manager.
    sub = veterans[HS][-1]
    sub.inclusion, sub.job, sub.profile = StatsInclusion.EXCLUDE, "Long-term substitute", "light"
    # A keen teacher who keeps their certifications out of the news feed.
    private = veterans[LINCOLN][1]
    private.share, private.profile = False, "champion"
    # The blended learning pilot spans the buildings.
    for school, count in ((HS, 2), (MS, 2), (LINCOLN, 2), (RIVERSIDE, 1)):
        for p in rng.sample(veterans[school][1:-1], count):
            join(p, PILOT)

    featured = {
        "pl_manager": pl_manager,
        "users_manager": users_manager,
        "school_manager": coach_ms,
        "teacher": teacher,
    }
    return people, memberships, featured


# The featured teacher's dashboard shows a bit of everything (see the help text).
FEATURED_TEACHER_JOURNEYS = {
    # Both badges complete; her station-rotation plan was approved.
    "demo-mt-blended-learning": Journey(literacy_done=4, fluency_done=3, decisions=("approve",)),
    # Tested out of Literacy; her Fluency submission waits in her coach's review queue.
    "demo-mt-formative-assessment": Journey(pre_score=88, fluency_done=2, decisions=("pending",)),
    # Failed the pre-assessment and is working through the Literacy pages.
    "demo-mt-digital-citizenship": Journey(pre_score=55, literacy_done=2, literacy_open=True),
    # Her learner-profile submission came back with feedback to act on.
    "demo-mt-personalized-learning": Journey(
        literacy_done=3, fluency_done=1, fluency_open=True, decisions=("return",)
    ),
    "demo-mv-literacy-framework": Journey(literacy_done=1, literacy_open=True),
}


def _score(rng: random.Random, passing: float, passed: bool) -> float:
    if passed:
        return float(rng.randint(int(passing), 100))
    return float(rng.randint(max(30, int(passing) - 35), int(passing) - 1))


def _sample_journey(rng: random.Random, person: Person, module: ModuleSpec) -> Journey | None:
    profile = PROFILES[person.profile]
    literacy, fluency = module.at(LITERACY), module.at(FLUENCY)
    passing = module.passing_score
    if rng.random() >= min(0.95, profile.touch * module.popularity):
        # Took the pre-assessment out of curiosity, failed, and stopped: still NOT_STARTED.
        if passing is not None and profile.touch and rng.random() < 0.06:
            return Journey(pre_score=_score(rng, passing, passed=False))
        return None
    depth = rng.choices(range(4), weights=profile.depth)[0]
    if not fluency:
        depth = min(depth, 1)
    pre_score: float | None = None
    passed = False
    if passing is not None and rng.random() < (0.45 if depth else 0.15):
        passed = depth > 0 and rng.random() < 0.65
        pre_score = _score(rng, passing, passed)
    if depth == 0:
        return Journey(pre_score, literacy_done=rng.randrange(len(literacy)), literacy_open=True)
    done = 0 if passed else len(literacy)
    if depth == 1:
        return Journey(pre_score, literacy_done=done)
    fluency_done = rng.randrange(len(fluency)) if depth == 2 else len(fluency)
    reviews = sum(p.requires_review for p in fluency[:fluency_done])
    decisions: tuple[Decision, ...] = tuple(
        rng.choices(("approve", "return", "resubmit", "pending"), weights=(6, 1, 1, 2))[0]
        for _ in range(reviews)
    )
    return Journey(pre_score, done, False, fluency_done, depth == 2, decisions)


def build_demo(seed: int = SEED, now: datetime | None = None) -> DemoPlan:
    """Decide the whole demo district: roster, catalog, and every learner's progress."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    people, memberships, featured = _build_roster(rng, now)
    plan = DemoPlan(people=people, memberships=memberships, featured=featured)

    by_key = {p.key: p for p in people}
    member_of: dict[str, set[str]] = {}
    managers_of: dict[str, list[str]] = {}
    for user, group, role in memberships:
        if role is MEMBER:
            member_of.setdefault(user, set()).add(group)
        else:
            managers_of.setdefault(group, []).append(user)
    pl_managers = [p.key for p in people if p.is_pl_manager]

    def reviewer_for(learner: str) -> str | None:
        """A manager of one of the learner's groups, now and then the district PL manager."""
        group_managers = sorted(
            {m for g in member_of.get(learner, ()) for m in managers_of.get(g, ())} - {learner}
        )
        district = [m for m in pl_managers if m != learner]
        if group_managers and (not district or rng.random() < 0.75):
            return rng.choice(group_managers)
        return rng.choice(district) if district else None

    for person in people:
        if person.first_login is None:
            continue  # nobody has progress before their first sign-in
        for module in MODULES:
            if person is featured["teacher"]:
                journey = FEATURED_TEACHER_JOURNEYS.get(module.key)
            else:
                journey = _sample_journey(rng, person, module)
            if journey is not None:
                _add_journey(plan, rng, person.key, module, journey, reviewer_for)

    assert all(by_key[r.reviewer].first_login for r in plan.reviews)
    return plan


def _add_journey(
    plan: DemoPlan,
    rng: random.Random,
    user: str,
    module: ModuleSpec,
    journey: Journey,
    reviewer_for: Callable[[str], str | None],
) -> None:
    if journey.pre_score is not None:
        plan.pre_assessments.append(PreAssessmentStep(user, module.key, journey.pre_score))
    decisions = list(journey.decisions)
    for level, done, opened in (
        (LITERACY, journey.literacy_done, journey.literacy_open),
        (FLUENCY, journey.fluency_done, journey.fluency_open),
    ):
        pages = module.at(level)
        for page in pages[:done]:
            plan.page_steps.append(PageStep(user, page.key, complete=True))
            if not page.requires_review:
                continue
            decision = decisions.pop(0) if decisions else "pending"
            reviewer = reviewer_for(user)
            if decision == "pending" or reviewer is None:
                continue
            approve = decision == "approve"
            feedback = rng.choice(FEEDBACK_APPROVED if approve else FEEDBACK_RETURNED)
            resubmit = decision == "resubmit"
            plan.reviews.append(ReviewStep(user, page.key, reviewer, approve, feedback, resubmit))
        if opened and done < len(pages):
            plan.page_steps.append(PageStep(user, pages[done].key, complete=False))


# --- Loading ----------------------------------------------------------------------------------


async def _district_id(session: AsyncSession) -> int | None:
    found = await session.execute(select(District.id).where(District.key == DEMO_DISTRICT_KEY))
    return found.scalar_one_or_none()


async def _record_progress(
    session: AsyncSession, plan: DemoPlan, district_id: int, echo: Echo
) -> None:
    users = {
        row.key: row
        for row in await session.execute(
            select(User.key, User.id, User.is_pl_manager, User.is_users_manager).where(
                User.district_id == district_id
            )
        )
    }
    module_keys = [m.key for m in MODULES]
    module_rows = await session.execute(
        select(Module.key, Module.id).where(Module.key.in_(module_keys))
    )
    module_ids: dict[str, int] = {key: id_ for key, id_ in module_rows}
    page_rows = await session.execute(
        select(Page.key, Page.id).where(Page.module_id.in_(list(module_ids.values())))
    )
    page_ids: dict[str, int] = {key: id_ for key, id_ in page_rows}

    def as_user(key: str) -> UserViewer:
        row = users[key]
        return UserViewer(
            user_id=row.id,
            district_id=district_id,
            key=key,
            is_pl_manager=row.is_pl_manager,
            is_users_manager=row.is_users_manager,
        )

    engine = IntegrationViewer(
        name=INTEGRATION_NAME,
        district_id=district_id,
        scopes=frozenset({IntegrationScope.PROGRESS_WRITE}),
    )
    echo(f"the assessment engine records {len(plan.pre_assessments)} pre-assessment scores...")
    for pre in plan.pre_assessments:
        await record_pre_assessment(
            session, engine, users[pre.user].id, module_ids[pre.module], pre.score
        )

    learners = len({s.user for s in plan.page_steps})
    echo(f"recording page progress for {learners} users ({len(plan.page_steps)} pages)...")
    submissions: dict[tuple[str, str], int] = {}
    for step in plan.page_steps:
        viewer = as_user(step.user)
        if step.complete:
            outcome = await complete_page(session, viewer, page_ids[step.page])
            if outcome.submission is not None:
                submissions[step.user, step.page] = outcome.submission.id
        else:
            await start_page(session, viewer, page_ids[step.page])

    echo(f"managers review {len(plan.reviews)} of {len(submissions)} Fluency submissions...")
    for review in plan.reviews:
        await review_submission(
            session,
            as_user(review.reviewer),
            submissions[review.learner, review.page],
            review.approve,
            review.feedback,
        )
    for review in plan.reviews:
        if review.resubmit:
            await complete_page(session, as_user(review.learner), page_ids[review.page])


async def _help_text(session: AsyncSession, district_id: int, plan: DemoPlan, loaded: bool) -> str:
    async def count(stmt: Any) -> int:
        return int((await session.execute(stmt)).scalar_one())

    def users_where(*conditions: Any) -> Any:
        return (
            select(func.count())
            .select_from(User)
            .where(User.district_id == district_id, *conditions)
        )

    def groups(kind: GroupKind) -> Any:
        return (
            select(func.count())
            .select_from(Group)
            .where(Group.district_id == district_id, Group.kind == kind)
        )

    def modules(catalog: Catalog) -> Any:
        visible = (Module.district_id.is_(None)) | (Module.district_id == district_id)
        return select(func.count()).select_from(Module).where(visible, Module.catalog == catalog)

    def certifications(*conditions: Any) -> Any:
        return (
            select(func.count())
            .select_from(Certification)
            .where(Certification.district_id == district_id, *conditions)
        )

    included = (User.stats_inclusion == StatsInclusion.INCLUDE) | (
        (User.stats_inclusion == StatsInclusion.DEFAULT) & User.dcf_access.is_(False)
    )
    n_schools = await count(groups(GroupKind.SCHOOL))
    n_cohorts = await count(groups(GroupKind.COHORT))
    n_users = await count(users_where())
    n_dcf = await count(users_where(User.dcf_access.is_(True)))
    n_excluded = await count(users_where(~included))
    n_never = await count(users_where(User.first_login_at.is_(None)))
    n_mt = await count(modules(Catalog.MODERN_TEACHER))
    n_district = await count(modules(Catalog.DISTRICT))
    n_goals = await count(
        select(func.count())
        .select_from(DistrictGoal)
        .where(DistrictGoal.district_id == district_id)
    )
    n_certs = await count(certifications())
    n_pre = await count(certifications(Certification.earned_by == EarnedBy.PRE_ASSESSMENT))
    n_pending = await count(
        select(func.count())
        .select_from(Submission)
        .where(
            Submission.district_id == district_id,
            Submission.status == SubmissionStatus.PENDING,
        )
    )
    name = (
        await session.execute(select(District.name).where(District.id == district_id))
    ).scalar_one()

    f = plan.featured
    pl, school, teacher, users = (
        f["pl_manager"],
        f["school_manager"],
        f["teacher"],
        f["users_manager"],
    )
    # The school manager's review queue: pending work of members of the groups she manages.
    manager_id = select(User.id).where(User.key == school.key).scalar_subquery()
    learner_group = aliased(Membership)
    managed_group = aliased(Membership)
    n_queue = await count(
        select(func.count(func.distinct(Submission.id)))
        .select_from(Submission)
        .join(
            learner_group,
            (learner_group.district_id == Submission.district_id)
            & (learner_group.user_id == Submission.user_id)
            & (learner_group.role == MEMBER),
        )
        .join(
            managed_group,
            (managed_group.group_id == learner_group.group_id) & (managed_group.role == MANAGER),
        )
        .where(
            Submission.district_id == district_id,
            Submission.status == SubmissionStatus.PENDING,
            Submission.user_id != manager_id,
            managed_group.user_id == manager_id,
        )
    )
    width = max(len(p.key) for p in (pl, school, teacher, users))
    head = (
        f'Loaded the demo district "{name}" (key {DEMO_DISTRICT_KEY}).'
        if loaded
        else f'The demo district "{name}" (key {DEMO_DISTRICT_KEY}) was already loaded; '
        "nothing changed."
    )
    return "\n".join(
        [
            head,
            f"  {n_schools} schools, {n_cohorts} cohorts, "
            f"{n_users} users ({n_dcf} with DCF access, {n_excluded} excluded from stats, "
            f"{n_never} never signed in)",
            f"  {n_mt + n_district} modules ({n_mt} Modern Teacher, {n_district} district), "
            f"{n_goals} district goals",
            f"  {n_certs} micro-certifications earned ({n_pre} by pre-assessment), "
            f"{n_pending} Fluency submissions waiting for review",
            "",
            "Sign in as (user keys):",
            f"  {pl.key:<{width}}  district PL manager ({pl.name}, {pl.job})",
            f"  {school.key:<{width}}  school manager ({school.name}, {school.job}, "
            f"{SCHOOLS[MS]}),",
            f"  {'':<{width}}  {n_queue} submissions waiting in her review queue",
            f"  {teacher.key:<{width}}  teacher ({teacher.name}, {teacher.job}, {SCHOOLS[MS]})",
            f"  {users.key:<{width}}  users manager ({users.name}, {users.job})",
            "",
            "Mint a user token (send it as 'Authorization: Bearer TOKEN' to /graphql):",
            f"  microcred token {pl.key}",
            "Mint a token for the assessment engine integration:",
            f"  microcred token --integration {INTEGRATION_NAME} --district {DEMO_DISTRICT_KEY} "
            "--scope progress:write --scope stats:read",
        ]
    )


async def load_demo(database_url: str, echo: Echo) -> str:
    """Load the demo district once; return what was loaded and how to sign in as whom."""
    started = time.perf_counter()
    plan = build_demo()
    db = Database(database_url)
    try:
        try:
            async with db.write() as session:
                district_id = await _district_id(session)
                if district_id is not None:
                    return await _help_text(session, district_id, plan, loaded=False)
                people = len(plan.people)
                echo(
                    f"importing the roster ({people} users) and catalog ({len(MODULES)} modules)..."
                )
                await apply_import(session, parse_import(plan.import_data()))
                district_id = await _district_id(session)
                assert district_id is not None
                await _record_progress(session, plan, district_id, echo)
                text = await _help_text(session, district_id, plan, loaded=True)
        except IntegrityError:
            # Another `microcred demo` loaded it concurrently: report theirs.
            async with db.read() as session:
                district_id = await _district_id(session)
                if district_id is None:
                    raise
                return await _help_text(session, district_id, plan, loaded=False)
        echo(f"done in {time.perf_counter() - started:.1f} s.")
        return text
    finally:
        await db.dispose()
