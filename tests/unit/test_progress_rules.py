"""DOMAIN.md "Progress and micro-certifications": page progress transitions.

STARTED -> COMPLETE; for a review page STARTED -> SUBMITTED -> (COMPLETE on approval |
RETURNED with feedback, then resubmittable). Repeating an action that already took effect is a
no-op success, never a second effect.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.enums import PageState
from models.rules.progress import InvalidTransition, Transition, complete, review, start

ANY_STATE = [None, *PageState]
state_or_none = st.sampled_from(ANY_STATE)

# --- start -----------------------------------------------------------------------------------


def test_start_a_page_with_no_progress() -> None:
    assert start(None) == Transition(PageState.STARTED, changed=True, opens_submission=False)


@pytest.mark.parametrize("current", list(PageState))
def test_start_is_a_no_op_once_the_page_has_progress(current: PageState) -> None:
    # Starting again never moves a page back (e.g. a COMPLETE or SUBMITTED page stays so).
    assert start(current) == Transition(current, changed=False, opens_submission=False)


# --- complete, ordinary page -----------------------------------------------------------------


@pytest.mark.parametrize("current", [None, PageState.STARTED])
def test_complete_an_ordinary_page(current: PageState | None) -> None:
    assert complete(current, requires_review=False) == Transition(
        PageState.COMPLETE, changed=True, opens_submission=False
    )


def test_completing_an_ordinary_page_again_is_a_no_op() -> None:
    assert complete(PageState.COMPLETE, requires_review=False) == Transition(
        PageState.COMPLETE, changed=False, opens_submission=False
    )


def test_ordinary_page_never_goes_through_review() -> None:
    t = complete(PageState.STARTED, requires_review=False)
    assert t.new_state is not PageState.SUBMITTED
    assert t.opens_submission is False


# --- complete (submit), review page ----------------------------------------------------------


@pytest.mark.parametrize("current", [None, PageState.STARTED])
def test_completing_a_review_page_submits_it(current: PageState | None) -> None:
    assert complete(current, requires_review=True) == Transition(
        PageState.SUBMITTED, changed=True, opens_submission=True
    )


def test_a_review_page_is_never_completed_by_the_learner() -> None:
    for current in ANY_STATE:
        t = complete(current, requires_review=True)
        if current is not PageState.COMPLETE:
            assert t.new_state is not PageState.COMPLETE


def test_submitting_again_while_waiting_for_review_is_a_no_op() -> None:
    # No second submission for reviewers.
    assert complete(PageState.SUBMITTED, requires_review=True) == Transition(
        PageState.SUBMITTED, changed=False, opens_submission=False
    )


def test_a_returned_page_can_be_resubmitted() -> None:
    assert complete(PageState.RETURNED, requires_review=True) == Transition(
        PageState.SUBMITTED, changed=True, opens_submission=True
    )


def test_completing_an_approved_review_page_is_a_no_op() -> None:
    assert complete(PageState.COMPLETE, requires_review=True) == Transition(
        PageState.COMPLETE, changed=False, opens_submission=False
    )


# --- review ----------------------------------------------------------------------------------


def test_approving_a_submission_completes_the_page() -> None:
    assert review(PageState.SUBMITTED, approve=True) == Transition(
        PageState.COMPLETE, changed=True, opens_submission=False
    )


def test_returning_a_submission_marks_the_page_returned() -> None:
    assert review(PageState.SUBMITTED, approve=False) == Transition(
        PageState.RETURNED, changed=True, opens_submission=False
    )


@pytest.mark.parametrize("approve", [True, False], ids=["approve", "return"])
@pytest.mark.parametrize(
    "current",
    [None, PageState.STARTED, PageState.RETURNED, PageState.COMPLETE],
    ids=["no-progress", "started", "returned", "complete"],
)
def test_reviewing_a_page_not_waiting_for_review_is_invalid(
    current: PageState | None, approve: bool
) -> None:
    with pytest.raises(InvalidTransition):
        review(current, approve=approve)


def test_invalid_transition_is_a_value_error() -> None:
    # Callers may map it to an input error.
    assert issubclass(InvalidTransition, ValueError)


# --- the full review flow --------------------------------------------------------------------


def test_review_flow_start_submit_return_resubmit_approve() -> None:
    state: PageState | None = None

    t = start(state)
    assert (t.new_state, t.changed, t.opens_submission) == (PageState.STARTED, True, False)
    state = t.new_state

    t = complete(state, requires_review=True)  # submit
    assert (t.new_state, t.changed, t.opens_submission) == (PageState.SUBMITTED, True, True)
    state = t.new_state

    t = complete(state, requires_review=True)  # double click on "submit"
    assert (t.new_state, t.changed, t.opens_submission) == (PageState.SUBMITTED, False, False)

    t = review(state, approve=False)  # returned with feedback
    assert (t.new_state, t.changed, t.opens_submission) == (PageState.RETURNED, True, False)
    state = t.new_state

    with pytest.raises(InvalidTransition):  # nothing to review until resubmitted
        review(state, approve=True)

    t = start(state)  # reopening the page does not reset it
    assert (t.new_state, t.changed) == (PageState.RETURNED, False)

    t = complete(state, requires_review=True)  # resubmit
    assert (t.new_state, t.changed, t.opens_submission) == (PageState.SUBMITTED, True, True)
    state = t.new_state

    t = review(state, approve=True)  # approved
    assert (t.new_state, t.changed, t.opens_submission) == (PageState.COMPLETE, True, False)
    state = t.new_state

    t = complete(state, requires_review=True)  # submitting after approval
    assert (t.new_state, t.changed, t.opens_submission) == (PageState.COMPLETE, False, False)

    with pytest.raises(InvalidTransition):  # no second approval of the same page
        review(state, approve=True)


# --- properties ------------------------------------------------------------------------------


@given(current=state_or_none)
def test_start_twice_has_no_second_effect(current: PageState | None) -> None:
    first = start(current)
    second = start(first.new_state)
    assert second == Transition(first.new_state, changed=False, opens_submission=False)


@given(current=state_or_none, requires_review=st.booleans())
def test_complete_twice_has_no_second_effect(
    current: PageState | None, requires_review: bool
) -> None:
    first = complete(current, requires_review)
    second = complete(first.new_state, requires_review)
    assert second == Transition(first.new_state, changed=False, opens_submission=False)


@given(current=state_or_none, requires_review=st.booleans())
def test_complete_never_leaves_the_page_without_a_terminal_or_pending_state(
    current: PageState | None, requires_review: bool
) -> None:
    t = complete(current, requires_review)
    expected = (
        {PageState.SUBMITTED, PageState.COMPLETE} if requires_review else {PageState.COMPLETE}
    )
    assert t.new_state in expected


@given(
    current=state_or_none,
    action=st.sampled_from(["start", "complete", "complete-review", "approve", "return"]),
)
def test_unchanged_means_same_state_and_a_submission_only_opens_on_submit(
    current: PageState | None, action: str
) -> None:
    try:
        if action == "start":
            t = start(current)
        elif action == "complete":
            t = complete(current, requires_review=False)
        elif action == "complete-review":
            t = complete(current, requires_review=True)
        else:
            t = review(current, approve=action == "approve")
    except InvalidTransition:
        assert action in {"approve", "return"}
        assert current is not PageState.SUBMITTED
        return
    if not t.changed:
        assert t.new_state == current
        assert t.opens_submission is False
    else:
        assert t.new_state != current
    assert t.opens_submission == (t.changed and t.new_state is PageState.SUBMITTED)
