"""Page progress transitions. Repeating an action that already took effect is a no-op."""

from __future__ import annotations

from dataclasses import dataclass

from models.enums import PageState


@dataclass(frozen=True, slots=True)
class Transition:
    new_state: PageState
    changed: bool
    # A review page moving to SUBMITTED opens a new submission for reviewers.
    opens_submission: bool = False


class InvalidTransition(ValueError):
    pass


def start(current: PageState | None) -> Transition:
    if current is None:
        return Transition(PageState.STARTED, changed=True)
    return Transition(current, changed=False)


def complete(current: PageState | None, requires_review: bool) -> Transition:
    """Complete a page; a review page is submitted instead (and resubmitted after a return)."""
    if current is PageState.COMPLETE:
        return Transition(current, changed=False)
    if not requires_review:
        return Transition(PageState.COMPLETE, changed=True)
    if current is PageState.SUBMITTED:
        return Transition(current, changed=False)
    return Transition(PageState.SUBMITTED, changed=True, opens_submission=True)


def review(current: PageState | None, approve: bool) -> Transition:
    """Apply a reviewer's decision to a page that is waiting for review."""
    if current is not PageState.SUBMITTED:
        raise InvalidTransition("the page is not waiting for review")
    return Transition(PageState.COMPLETE if approve else PageState.RETURNED, changed=True)
