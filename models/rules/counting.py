"""Who counts in Comparison Stats (DOMAIN.md "Who counts in Comparison Stats")."""

from __future__ import annotations

from datetime import datetime

from models.enums import StatsInclusion


def included(stats_inclusion: StatsInclusion, dcf_access: bool) -> bool:
    """DCF users (mostly administrators) are excluded by default; a manager can override."""
    if stats_inclusion is StatsInclusion.INCLUDE:
        return True
    if stats_inclusion is StatsInclusion.EXCLUDE:
        return False
    return not dcf_access


def counted(
    stats_inclusion: StatsInclusion, dcf_access: bool, first_login_at: datetime | None
) -> bool:
    """Counted in charts: included and has logged in at least once."""
    return included(stats_inclusion, dcf_access) and first_login_at is not None
