"""Comparison Stats arithmetic (DOMAIN.md "Comparison Stats"), with no IO.

The counters hold, per scope, how many counted users there are and how many of them are
IN_PROGRESS or COMPLETE on each (module, level). A user adds to them through their
*standing*: whether they are counted, the groups they are a MEMBER of, and their statuses.
Every change that moves the numbers is the difference of two standings, so one function
serves logins, inclusion changes, memberships and status changes alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from models.enums import CertificationStatus, Level

DISTRICT_SCOPE = 0

# A counter key: (scope_id, None, None, None) is a scope's population;
# (scope_id, module_id, level, status) an IN_PROGRESS or COMPLETE count.
CounterKey = tuple[int, int | None, Level | None, CertificationStatus | None]


@dataclass(frozen=True)
class Standing:
    counted: bool
    member_of: frozenset[int] = frozenset()
    statuses: Mapping[tuple[int, Level], CertificationStatus] = field(default_factory=dict)


def contribution(standing: Standing) -> Counter[CounterKey]:
    """What one user adds to the counters of the district and of each group they are in."""
    added: Counter[CounterKey] = Counter()
    if not standing.counted:
        return added
    for scope in (DISTRICT_SCOPE, *sorted(standing.member_of)):
        added[(scope, None, None, None)] += 1
        for (module_id, level), status in standing.statuses.items():
            if status is not CertificationStatus.NOT_STARTED:
                added[(scope, module_id, level, status)] += 1
    return added


def delta(before: Standing, after: Standing) -> dict[CounterKey, int]:
    """The counter changes that take `before` to `after`; zero changes are left out."""
    old, new = contribution(before), contribution(after)
    changes = {k: new.get(k, 0) - old.get(k, 0) for k in old.keys() | new.keys()}
    return {k: v for k, v in changes.items() if v}


@dataclass(frozen=True, slots=True)
class StatusCounts:
    not_started: int
    in_progress: int
    complete: int

    @property
    def total(self) -> int:
        return self.not_started + self.in_progress + self.complete

    def percent(self, part: int) -> float:
        """Share of the total, in percent, rounded to one decimal; 0 for an empty total."""
        return round(100.0 * part / self.total, 1) if self.total else 0.0


@dataclass(frozen=True, slots=True)
class ModuleCounts:
    in_progress: int = 0
    complete: int = 0


def scope_counts(
    population: int, per_module: Mapping[int, ModuleCounts], module_ids: Iterable[int]
) -> StatusCounts:
    """Counts of a scope over the given modules (one module, or all that have the level):
    summed over the modules, so the total is population x modules."""
    ids = list(module_ids)
    in_progress = sum(per_module.get(m, ModuleCounts()).in_progress for m in ids)
    complete = sum(per_module.get(m, ModuleCounts()).complete for m in ids)
    total = population * len(ids)
    return StatusCounts(
        not_started=total - in_progress - complete, in_progress=in_progress, complete=complete
    )


def personal_counts(
    statuses: Mapping[int, CertificationStatus], module_ids: Iterable[int]
) -> StatusCounts:
    """The viewer's own: for one module its one status, for all modules how many are in each."""
    tally = Counter(statuses.get(m, CertificationStatus.NOT_STARTED) for m in module_ids)
    return StatusCounts(
        not_started=tally[CertificationStatus.NOT_STARTED],
        in_progress=tally[CertificationStatus.IN_PROGRESS],
        complete=tally[CertificationStatus.COMPLETE],
    )
