"""DOMAIN.md "Who counts in Comparison Stats": included(u) and counted(u).

included(u) = statsInclusion == INCLUDE, or statsInclusion == DEFAULT and not dcfAccess.
counted(u)  = included(u) and firstLoginAt is set.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.enums import StatsInclusion
from models.rules.counting import counted, included

LOGGED_IN_AT = datetime(2024, 9, 3, 8, 15, tzinfo=UTC)

INCLUSION_TABLE = [
    # (statsInclusion, dcfAccess, included)
    (StatsInclusion.DEFAULT, False, True),  # an ordinary teacher counts by default
    (StatsInclusion.DEFAULT, True, False),  # DCF users (administrators) are excluded by default
    (StatsInclusion.INCLUDE, False, True),
    (StatsInclusion.INCLUDE, True, True),  # a manager opted a DCF user back in
    (StatsInclusion.EXCLUDE, False, False),  # manually excluded
    (StatsInclusion.EXCLUDE, True, False),
]


@pytest.mark.parametrize(("inclusion", "dcf_access", "expected"), INCLUSION_TABLE)
def test_included_truth_table(inclusion: StatsInclusion, dcf_access: bool, expected: bool) -> None:
    assert included(inclusion, dcf_access) is expected


def test_include_overrides_dcf_default() -> None:
    assert included(StatsInclusion.DEFAULT, True) is False
    assert included(StatsInclusion.INCLUDE, True) is True


def test_exclude_overrides_ordinary_default() -> None:
    assert included(StatsInclusion.DEFAULT, False) is True
    assert included(StatsInclusion.EXCLUDE, False) is False


@pytest.mark.parametrize(("inclusion", "dcf_access", "is_included"), INCLUSION_TABLE)
@pytest.mark.parametrize(
    ("first_login_at", "logged_in"),
    [(None, False), (LOGGED_IN_AT, True)],
    ids=["never-logged-in", "logged-in"],
)
def test_counted_truth_table(
    inclusion: StatsInclusion,
    dcf_access: bool,
    is_included: bool,
    first_login_at: datetime | None,
    logged_in: bool,
) -> None:
    assert counted(inclusion, dcf_access, first_login_at) is (is_included and logged_in)


def test_included_user_who_never_logged_in_is_included_but_not_counted() -> None:
    # Listed in Individual User Results (flagged as not logged in), but not in the charts.
    assert included(StatsInclusion.DEFAULT, False) is True
    assert counted(StatsInclusion.DEFAULT, False, None) is False


def test_excluded_user_is_not_counted_even_after_logging_in() -> None:
    assert counted(StatsInclusion.EXCLUDE, False, LOGGED_IN_AT) is False
    assert counted(StatsInclusion.DEFAULT, True, LOGGED_IN_AT) is False


def test_any_login_time_counts_even_the_earliest() -> None:
    # "firstLoginAt is set": any timestamp, not a truthiness test on the value.
    earliest = datetime(1970, 1, 1, tzinfo=UTC)
    assert counted(StatsInclusion.DEFAULT, False, earliest) is True
    assert counted(StatsInclusion.INCLUDE, True, earliest) is True


@given(
    inclusion=st.sampled_from(StatsInclusion),
    dcf_access=st.booleans(),
    first_login_at=st.none() | st.datetimes(timezones=st.just(UTC)),
)
def test_counted_is_exactly_included_and_logged_in(
    inclusion: StatsInclusion, dcf_access: bool, first_login_at: datetime | None
) -> None:
    is_counted = counted(inclusion, dcf_access, first_login_at)
    assert is_counted == (included(inclusion, dcf_access) and first_login_at is not None)
    if is_counted:
        assert included(inclusion, dcf_access)
