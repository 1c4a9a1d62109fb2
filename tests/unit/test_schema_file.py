"""The committed schema.graphql is what the code prints; CI fails when they drift."""

from __future__ import annotations

from pathlib import Path

from schema import sdl

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == sdl(), "schema.graphql drifted: run `microcred schema > schema.graphql`"


def test_contract_root_fields_exist() -> None:
    text = sdl()
    for field in (
        "node(id: ID!): Node",
        "me: User!",
        "modules(catalog: Catalog = null, goalsOnly: Boolean = false): [Module!]!",
        "reviewQueue(first: Int = 50, after: String = null): SubmissionConnection!",
        "recordLogin: User!",
        "startPage(pageId: ID!, userId: ID = null): PageProgressPayload!",
        "completePage(pageId: ID!, userId: ID = null): PageProgressPayload!",
        "recordPreAssessment(userId: ID!, moduleId: ID!, score: Float!): PreAssessmentPayload!",
        "reviewSubmission(submissionId: ID!, approve: Boolean!, feedback: String = null): "
        "ReviewPayload!",
        "updatePreferences(input: PreferencesInput!): User!",
    ):
        assert field in text, field
