"""Micro-certification status rules (DOMAIN.md "Progress and micro-certifications").

Plain functions over plain data: no IO, so every rule is unit-tested on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from models.enums import CertificationStatus, EarnedBy, Level, PageState


@dataclass(frozen=True, slots=True)
class PageInfo:
    id: int
    level: Level
    requires_review: bool = False


def has_level(pages: Iterable[PageInfo], level: Level) -> bool:
    """Every module has a Literacy level; it has a Fluency level only with Fluency pages."""
    if level is Level.LITERACY:
        return True
    return any(p.level is Level.FLUENCY for p in pages)


def all_pages_complete(
    pages: Iterable[PageInfo], level: Level, progress: Mapping[int, PageState]
) -> bool:
    """True when the level has pages and each is COMPLETE (review pages only once approved)."""
    level_pages = [p for p in pages if p.level is level]
    return bool(level_pages) and all(progress.get(p.id) is PageState.COMPLETE for p in level_pages)


def earned_by(
    pages: Iterable[PageInfo],
    level: Level,
    progress: Mapping[int, PageState],
    passed_pre_assessment: bool,
) -> EarnedBy | None:
    """How the certification of this level would be earned now, or None if it is not."""
    pages = list(pages)
    if all_pages_complete(pages, level, progress):
        return EarnedBy.PAGES
    if level is Level.LITERACY and passed_pre_assessment:
        return EarnedBy.PRE_ASSESSMENT
    return None


def derive_status(
    pages: Iterable[PageInfo],
    level: Level,
    progress: Mapping[int, PageState],
    certified: bool,
) -> CertificationStatus:
    """The status of one (user, module, level).

    A certification is permanent, so `certified` wins over whatever the pages say now.
    A failed pre-assessment is not progress: only page progress of this level counts.
    """
    if certified:
        return CertificationStatus.COMPLETE
    if any(p.level is level and p.id in progress for p in pages):
        return CertificationStatus.IN_PROGRESS
    return CertificationStatus.NOT_STARTED


def passes(score: float, passing_score: float) -> bool:
    return score >= passing_score


def valid_score(score: float) -> bool:
    return 0.0 <= score <= 100.0
