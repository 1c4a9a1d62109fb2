"""The per-request loaders. Names follow `XByYLoader`: what is loaded, by which key."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from strawberry.dataloader import DataLoader

from dataloaders.batch import row_lists_by_key, rows_by_key
from models.db import Database
from models.tables import (
    Certification,
    District,
    DistrictGoal,
    Group,
    Membership,
    Module,
    ModuleStatus,
    Page,
    PageProgress,
    StatsInclusionChange,
    Submission,
    User,
)


@dataclass(slots=True)
class Loaders:
    district_by_id: DataLoader[int, District | None]
    user_by_id: DataLoader[int, User | None]
    group_by_id: DataLoader[int, Group | None]
    module_by_id: DataLoader[int, Module | None]
    page_by_id: DataLoader[int, Page | None]
    submission_by_id: DataLoader[int, Submission | None]
    modules_by_district: DataLoader[int, list[Module]]
    goal_module_ids_by_district: DataLoader[int, list[int]]
    pages_by_module: DataLoader[int, list[Page]]
    statuses_by_user: DataLoader[int, list[ModuleStatus]]
    certifications_by_user: DataLoader[int, list[Certification]]
    memberships_by_user: DataLoader[int, list[Membership]]
    page_progress_by_user_module: DataLoader[tuple[int, int], list[PageProgress]]
    inclusion_changes_by_user: DataLoader[int, list[StatsInclusionChange]]


def build_loaders(db: Database, district_id: int | None) -> Loaders:
    """Loaders for one request. `district_id` is the viewer's district: every tenant read
    below filters on it, so a foreign ID simply finds nothing."""
    did = -1 if district_id is None else district_id

    def visible_modules() -> object:
        return or_(Module.district_id.is_(None), Module.district_id == did)

    loaders = Loaders(
        district_by_id=rows_by_key(
            db,
            lambda ks: select(District).where(District.id.in_(ks), District.id == did),
            lambda r: r.id,
        ),
        user_by_id=rows_by_key(
            db,
            lambda ks: select(User).where(User.district_id == did, User.id.in_(ks)),
            lambda r: r.id,
        ),
        group_by_id=rows_by_key(
            db,
            lambda ks: select(Group).where(Group.district_id == did, Group.id.in_(ks)),
            lambda r: r.id,
        ),
        module_by_id=rows_by_key(
            db,
            lambda ks: select(Module).where(Module.id.in_(ks), visible_modules()),
            lambda r: r.id,
        ),
        page_by_id=rows_by_key(
            db,
            lambda ks: (
                select(Page)
                .join(Module, Module.id == Page.module_id)
                .where(Page.id.in_(ks), visible_modules())
            ),
            lambda r: r.id,
        ),
        submission_by_id=rows_by_key(
            db,
            lambda ks: select(Submission).where(
                Submission.district_id == did, Submission.id.in_(ks)
            ),
            lambda r: r.id,
        ),
        modules_by_district=row_lists_by_key(
            db,
            lambda ks: select(Module).where(visible_modules()).order_by(Module.title, Module.id),
            lambda _r: did,
        ),
        goal_module_ids_by_district=row_lists_by_key(
            db,
            lambda ks: select(DistrictGoal.district_id, DistrictGoal.module_id).where(
                DistrictGoal.district_id == did
            ),
            lambda r: r.district_id,
            scalars=False,
        ),
        pages_by_module=row_lists_by_key(
            db,
            lambda ks: (
                select(Page)
                .where(Page.module_id.in_(ks))
                .order_by(Page.module_id, Page.position, Page.id)
            ),
            lambda r: r.module_id,
        ),
        statuses_by_user=row_lists_by_key(
            db,
            lambda ks: select(ModuleStatus).where(
                ModuleStatus.district_id == did, ModuleStatus.user_id.in_(ks)
            ),
            lambda r: r.user_id,
        ),
        certifications_by_user=row_lists_by_key(
            db,
            lambda ks: (
                select(Certification)
                .where(Certification.district_id == did, Certification.user_id.in_(ks))
                .order_by(Certification.earned_at, Certification.id)
            ),
            lambda r: r.user_id,
        ),
        memberships_by_user=row_lists_by_key(
            db,
            lambda ks: select(Membership).where(
                Membership.district_id == did, Membership.user_id.in_(ks)
            ),
            lambda r: r.user_id,
        ),
        page_progress_by_user_module=row_lists_by_key(
            db,
            lambda ks: select(PageProgress).where(
                PageProgress.district_id == did,
                PageProgress.user_id.in_({u for u, _ in ks}),
                PageProgress.module_id.in_({m for _, m in ks}),
            ),
            lambda r: (r.user_id, r.module_id),
        ),
        inclusion_changes_by_user=row_lists_by_key(
            db,
            lambda ks: (
                select(StatsInclusionChange)
                .where(
                    StatsInclusionChange.district_id == did, StatsInclusionChange.user_id.in_(ks)
                )
                .order_by(StatsInclusionChange.id.desc())
            ),
            lambda r: r.user_id,
        ),
    )
    return loaders


async def visible_modules(loaders: Loaders, district_id: int) -> list[Module]:
    """The district's visible modules, also priming module_by_id so no second read follows."""
    modules = await loaders.modules_by_district.load(district_id)
    for m in modules:
        loaders.module_by_id.prime(m.id, m)
    return modules
