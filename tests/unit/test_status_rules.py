"""DOMAIN.md "Modules and pages" and "Progress and micro-certifications": status rules.

- Every module has a Literacy level; no Fluency pages means no Fluency level.
- Literacy is earned by every Literacy page COMPLETE (PAGES) or a passing pre-assessment
  (PRE_ASSESSMENT); Fluency only by every Fluency page COMPLETE (review pages once approved).
- COMPLETE once certified (permanent), IN_PROGRESS with any progress on a page of the level,
  NOT_STARTED otherwise. A failed pre-assessment alone does not change the status.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.enums import CertificationStatus, EarnedBy, Level, PageState
from models.rules.status import (
    PageInfo,
    all_pages_complete,
    derive_status,
    earned_by,
    has_level,
    passes,
    valid_score,
)

L, F = Level.LITERACY, Level.FLUENCY
NS, IP, DONE = (
    CertificationStatus.NOT_STARTED,
    CertificationStatus.IN_PROGRESS,
    CertificationStatus.COMPLETE,
)
STARTED, SUBMITTED, RETURNED, COMPLETE = (
    PageState.STARTED,
    PageState.SUBMITTED,
    PageState.RETURNED,
    PageState.COMPLETE,
)

# A module with two Literacy pages, an ordinary Fluency page and a Fluency page under review.
LIT_1 = PageInfo(1, L)
LIT_2 = PageInfo(2, L)
FLU_3 = PageInfo(3, F)
FLU_REVIEW_4 = PageInfo(4, F, requires_review=True)
FULL_MODULE = (LIT_1, LIT_2, FLU_3, FLU_REVIEW_4)

# A module without any Fluency page: it has no Fluency level.
LITERACY_ONLY_MODULE = (PageInfo(11, L), PageInfo(12, L))

ALL_LITERACY_DONE = {1: COMPLETE, 2: COMPLETE}
ALL_FLUENCY_DONE = {3: COMPLETE, 4: COMPLETE}


# --- has_level -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pages",
    [FULL_MODULE, LITERACY_ONLY_MODULE, (FLU_3,), ()],
    ids=["both-levels", "literacy-only", "fluency-pages-only", "no-pages"],
)
def test_every_module_has_a_literacy_level(pages: tuple[PageInfo, ...]) -> None:
    assert has_level(pages, L) is True


@pytest.mark.parametrize(
    ("pages", "expected"),
    [
        (FULL_MODULE, True),
        ((FLU_REVIEW_4,), True),
        ((LIT_1, FLU_3), True),
        (LITERACY_ONLY_MODULE, False),
        ((), False),
    ],
    ids=["both-levels", "one-review-page", "one-fluency-page", "literacy-only", "no-pages"],
)
def test_fluency_level_exists_only_with_fluency_pages(
    pages: tuple[PageInfo, ...], expected: bool
) -> None:
    assert has_level(pages, F) is expected


def test_has_level_accepts_a_one_shot_iterable() -> None:
    assert has_level(iter(FULL_MODULE), F) is True


# --- module without Fluency ------------------------------------------------------------------


def test_module_without_fluency_cannot_earn_fluency() -> None:
    everything_done = {11: COMPLETE, 12: COMPLETE}
    assert has_level(LITERACY_ONLY_MODULE, F) is False
    assert all_pages_complete(LITERACY_ONLY_MODULE, F, everything_done) is False
    # Not by the pages, and not by a passed pre-assessment either.
    assert earned_by(LITERACY_ONLY_MODULE, F, everything_done, passed_pre_assessment=True) is None
    assert earned_by(LITERACY_ONLY_MODULE, F, everything_done, passed_pre_assessment=False) is None


def test_module_without_fluency_has_no_fluency_progress() -> None:
    # Literacy progress never turns into Fluency progress.
    progress = {11: COMPLETE, 12: STARTED}
    assert derive_status(LITERACY_ONLY_MODULE, F, progress, certified=False) is NS
    assert derive_status(LITERACY_ONLY_MODULE, L, progress, certified=False) is IP


def test_module_without_fluency_still_earns_literacy() -> None:
    done = {11: COMPLETE, 12: COMPLETE}
    assert earned_by(LITERACY_ONLY_MODULE, L, done, passed_pre_assessment=False) is EarnedBy.PAGES
    assert earned_by(LITERACY_ONLY_MODULE, L, {}, passed_pre_assessment=True) is (
        EarnedBy.PRE_ASSESSMENT
    )


# --- all_pages_complete ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "progress", "expected"),
    [
        (L, {}, False),
        (L, {1: COMPLETE}, False),
        (L, {1: COMPLETE, 2: STARTED}, False),
        (L, {1: COMPLETE, 2: COMPLETE}, True),
        (L, {1: COMPLETE, 2: COMPLETE, 3: STARTED}, True),  # Fluency progress is irrelevant
        (L, {1: STARTED, 2: STARTED, 3: COMPLETE, 4: COMPLETE}, False),
        (F, ALL_LITERACY_DONE, False),  # Literacy completion is irrelevant
        (F, {3: COMPLETE}, False),
        (F, {3: COMPLETE, 4: STARTED}, False),
        (F, {3: COMPLETE, 4: SUBMITTED}, False),  # waiting for review does not count
        (F, {3: COMPLETE, 4: RETURNED}, False),  # returned does not count
        (F, {3: COMPLETE, 4: COMPLETE}, True),  # approved counts
        (F, {3: STARTED, 4: COMPLETE}, False),
    ],
)
def test_all_pages_complete(level: Level, progress: dict[int, PageState], expected: bool) -> None:
    assert all_pages_complete(FULL_MODULE, level, progress) is expected


@pytest.mark.parametrize("level", list(Level))
def test_a_level_with_zero_pages_is_never_complete_by_pages(level: Level) -> None:
    assert all_pages_complete((), level, {}) is False
    assert earned_by((), level, {}, passed_pre_assessment=False) is None


def test_literacy_with_zero_pages_is_not_complete_even_when_fluency_is() -> None:
    pages = (FLU_3,)
    assert all_pages_complete(pages, L, {3: COMPLETE}) is False
    assert earned_by(pages, L, {3: COMPLETE}, passed_pre_assessment=False) is None


@pytest.mark.parametrize("state", [STARTED, SUBMITTED, RETURNED])
def test_review_pages_count_only_once_approved(state: PageState) -> None:
    pages = (FLU_REVIEW_4,)
    assert all_pages_complete(pages, F, {4: state}) is False
    assert earned_by(pages, F, {4: state}, passed_pre_assessment=True) is None
    assert all_pages_complete(pages, F, {4: COMPLETE}) is True
    assert earned_by(pages, F, {4: COMPLETE}, passed_pre_assessment=False) is EarnedBy.PAGES


def test_all_pages_complete_accepts_a_one_shot_iterable() -> None:
    assert all_pages_complete(iter(FULL_MODULE), L, ALL_LITERACY_DONE) is True


# --- earned_by -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "progress", "passed_pre_assessment", "expected"),
    [
        # Literacy: by pages, by the pre-assessment, pages win when both hold.
        (L, ALL_LITERACY_DONE, False, EarnedBy.PAGES),
        (L, {}, True, EarnedBy.PRE_ASSESSMENT),
        (L, {1: STARTED}, True, EarnedBy.PRE_ASSESSMENT),
        (L, {1: COMPLETE}, True, EarnedBy.PRE_ASSESSMENT),
        (L, ALL_LITERACY_DONE, True, EarnedBy.PAGES),
        (L, {1: COMPLETE, 2: STARTED}, False, None),
        (L, {}, False, None),
        # Fluency: by pages only; a pre-assessment never earns Fluency.
        (F, ALL_FLUENCY_DONE, False, EarnedBy.PAGES),
        (F, ALL_FLUENCY_DONE, True, EarnedBy.PAGES),
        (F, {}, True, None),
        (F, {3: COMPLETE, 4: SUBMITTED}, True, None),
        (F, ALL_LITERACY_DONE, True, None),
        (F, {3: COMPLETE}, False, None),
    ],
)
def test_earned_by(
    level: Level,
    progress: dict[int, PageState],
    passed_pre_assessment: bool,
    expected: EarnedBy | None,
) -> None:
    assert earned_by(FULL_MODULE, level, progress, passed_pre_assessment) is expected


def test_earned_by_accepts_a_one_shot_iterable_of_pages() -> None:
    # Pages are often passed as a generator; both rules must still see them.
    assert earned_by(iter(FULL_MODULE), L, {1: STARTED}, passed_pre_assessment=True) is (
        EarnedBy.PRE_ASSESSMENT
    )
    assert earned_by(iter(FULL_MODULE), L, ALL_LITERACY_DONE, passed_pre_assessment=True) is (
        EarnedBy.PAGES
    )


def test_literacy_with_zero_pages_can_only_be_earned_by_the_pre_assessment() -> None:
    pages = (FLU_3,)
    assert earned_by(pages, L, {}, passed_pre_assessment=True) is EarnedBy.PRE_ASSESSMENT
    assert earned_by(pages, L, {}, passed_pre_assessment=False) is None


# --- derive_status ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "progress", "expected"),
    [
        (L, {}, NS),
        (F, {}, NS),
        # Any state of any page of the level means IN_PROGRESS.
        (L, {1: STARTED}, IP),
        (L, {2: COMPLETE}, IP),
        (F, {3: STARTED}, IP),
        (F, {4: SUBMITTED}, IP),
        (F, {4: RETURNED}, IP),
        (F, {4: COMPLETE}, IP),
        # Progress on the other level's pages does not count.
        (L, {3: STARTED, 4: SUBMITTED}, NS),
        (F, ALL_LITERACY_DONE, NS),
        # Progress recorded for a page that is not (or no longer) in the module does not count.
        (L, {99: COMPLETE}, NS),
    ],
)
def test_derive_status_without_certification(
    level: Level, progress: dict[int, PageState], expected: CertificationStatus
) -> None:
    assert derive_status(FULL_MODULE, level, progress, certified=False) is expected


def test_failed_pre_assessment_alone_does_not_change_the_status() -> None:
    # A failed pre-assessment is neither progress nor a certification.
    assert passes(40, 80) is False
    assert earned_by(FULL_MODULE, L, {}, passed_pre_assessment=False) is None
    assert derive_status(FULL_MODULE, L, {}, certified=False) is NS


def test_passed_pre_assessment_certifies_literacy_without_any_page() -> None:
    how = earned_by(FULL_MODULE, L, {}, passed_pre_assessment=passes(80, 80))
    assert how is EarnedBy.PRE_ASSESSMENT
    assert derive_status(FULL_MODULE, L, {}, certified=how is not None) is DONE
    # ... but Fluency stays as it was.
    assert earned_by(FULL_MODULE, F, {}, passed_pre_assessment=True) is None
    assert derive_status(FULL_MODULE, F, {}, certified=False) is NS


@pytest.mark.parametrize("level", list(Level))
@pytest.mark.parametrize(
    "progress",
    [{}, {1: STARTED}, {1: COMPLETE, 2: COMPLETE, 3: COMPLETE, 4: COMPLETE}, {4: RETURNED}],
)
def test_certified_is_complete_whatever_the_pages_say(
    level: Level, progress: dict[int, PageState]
) -> None:
    assert derive_status(FULL_MODULE, level, progress, certified=True) is DONE


def test_content_added_after_certification_does_not_revoke_it() -> None:
    # Literacy was earned by pages; then the district adds a new Literacy page.
    before = (LIT_1, LIT_2)
    assert earned_by(before, L, ALL_LITERACY_DONE, passed_pre_assessment=False) is EarnedBy.PAGES

    after = (*before, PageInfo(5, L))
    assert all_pages_complete(after, L, ALL_LITERACY_DONE) is False
    assert earned_by(after, L, ALL_LITERACY_DONE, passed_pre_assessment=False) is None
    assert derive_status(after, L, ALL_LITERACY_DONE, certified=True) is DONE


def test_new_review_page_after_fluency_certification_keeps_it_complete() -> None:
    after = (*FULL_MODULE, PageInfo(6, F, requires_review=True))
    progress = {**ALL_FLUENCY_DONE, 6: SUBMITTED}
    assert all_pages_complete(after, F, progress) is False
    assert derive_status(after, F, progress, certified=True) is DONE


def test_all_pages_done_but_not_yet_certified_is_in_progress() -> None:
    # The status reflects the certification record; earning it is a separate, one-time step.
    assert all_pages_complete(FULL_MODULE, L, ALL_LITERACY_DONE) is True
    assert derive_status(FULL_MODULE, L, ALL_LITERACY_DONE, certified=False) is IP


def test_derive_status_accepts_a_one_shot_iterable() -> None:
    assert derive_status(iter(FULL_MODULE), F, {4: SUBMITTED}, certified=False) is IP


# --- pre-assessment scores -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "passing_score", "expected"),
    [
        (80, 80, True),  # exactly the passing score passes
        (80.0, 80, True),
        (80.01, 80, True),
        (79.99, 80, False),
        (79, 80, False),
        (100, 80, True),
        (0, 80, False),
        (0, 0, True),  # a passing score of 0 is passed by anyone
        (100, 100, True),
        (99.9, 100, False),
        (72.5, 72.5, True),
        (72.4, 72.5, False),
    ],
)
def test_passes(score: float, passing_score: float, expected: bool) -> None:
    assert passes(score, passing_score) is expected


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0, True),
        (0.0, True),
        (-0.0, True),
        (0.1, True),
        (50, True),
        (99.9, True),
        (100, True),
        (100.0, True),
        (-0.1, False),
        (100.1, False),
        (-1, False),
        (101, False),
        (1e9, False),
        (math.nan, False),
        (math.inf, False),
        (-math.inf, False),
    ],
)
def test_valid_score(score: float, expected: bool) -> None:
    assert valid_score(score) is expected


@given(score=st.floats(min_value=0, max_value=100), passing=st.floats(min_value=0, max_value=100))
def test_passes_is_score_at_least_passing(score: float, passing: float) -> None:
    assert valid_score(score)
    assert passes(score, passing) is (score >= passing)
    assert passes(passing, passing) is True


# --- properties ------------------------------------------------------------------------------


@st.composite
def modules_and_progress(draw: st.DrawFn) -> tuple[list[PageInfo], dict[int, PageState]]:
    levels = draw(st.lists(st.sampled_from(Level), max_size=8))
    pages = [
        PageInfo(i, lvl, requires_review=lvl is F and draw(st.booleans()))
        for i, lvl in enumerate(levels)
    ]
    # Progress on some of the pages, plus maybe stale ids that are not pages of the module.
    ids = draw(st.lists(st.integers(0, len(pages) + 2), unique=True))
    progress = {i: draw(st.sampled_from(PageState)) for i in ids}
    return pages, progress


@given(mp=modules_and_progress(), level=st.sampled_from(Level), certified=st.booleans())
def test_status_is_complete_iff_certified(
    mp: tuple[list[PageInfo], dict[int, PageState]], level: Level, certified: bool
) -> None:
    pages, progress = mp
    status = derive_status(pages, level, progress, certified)
    assert (status is DONE) is certified


@given(mp=modules_and_progress(), level=st.sampled_from(Level))
def test_uncertified_status_depends_only_on_progress_of_the_level(
    mp: tuple[list[PageInfo], dict[int, PageState]], level: Level
) -> None:
    pages, progress = mp
    touched = any(p.level is level and p.id in progress for p in pages)
    assert derive_status(pages, level, progress, certified=False) is (IP if touched else NS)


@given(mp=modules_and_progress(), level=st.sampled_from(Level), passed=st.booleans())
def test_earned_by_is_consistent_with_the_pages_rule(
    mp: tuple[list[PageInfo], dict[int, PageState]], level: Level, passed: bool
) -> None:
    pages, progress = mp
    how = earned_by(pages, level, progress, passed)
    if all_pages_complete(pages, level, progress):
        assert how is EarnedBy.PAGES
        assert has_level(pages, level)
    elif level is L and passed:
        assert how is EarnedBy.PRE_ASSESSMENT
    else:
        assert how is None
    if level is F:
        assert how is not EarnedBy.PRE_ASSESSMENT
    if how is EarnedBy.PAGES:
        level_pages = [p for p in pages if p.level is level]
        assert level_pages
        assert all(progress.get(p.id) is COMPLETE for p in level_pages)


@given(mp=modules_and_progress())
def test_no_fluency_level_means_no_fluency_certification(
    mp: tuple[list[PageInfo], dict[int, PageState]],
) -> None:
    pages, progress = mp
    if not has_level(pages, F):
        assert earned_by(pages, F, progress, passed_pre_assessment=True) is None
        assert derive_status(pages, F, progress, certified=False) is NS
