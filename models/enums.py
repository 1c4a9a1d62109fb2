"""Domain vocabularies shared by rules, storage and the API layer."""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    LITERACY = "LITERACY"
    FLUENCY = "FLUENCY"


class CertificationStatus(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"


class EarnedBy(StrEnum):
    PAGES = "PAGES"
    PRE_ASSESSMENT = "PRE_ASSESSMENT"


class PageState(StrEnum):
    STARTED = "STARTED"
    SUBMITTED = "SUBMITTED"
    RETURNED = "RETURNED"
    COMPLETE = "COMPLETE"


class SubmissionStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    RETURNED = "RETURNED"


class Catalog(StrEnum):
    MODERN_TEACHER = "MODERN_TEACHER"
    DISTRICT = "DISTRICT"


class GroupKind(StrEnum):
    SCHOOL = "SCHOOL"
    COHORT = "COHORT"


class MembershipRole(StrEnum):
    MEMBER = "MEMBER"
    MANAGER = "MANAGER"


class DistrictRole(StrEnum):
    PL_MANAGER = "PL_MANAGER"
    USERS_MANAGER = "USERS_MANAGER"


class StatsInclusion(StrEnum):
    DEFAULT = "DEFAULT"
    INCLUDE = "INCLUDE"
    EXCLUDE = "EXCLUDE"


class FeedItemKind(StrEnum):
    CERTIFICATION_EARNED = "CERTIFICATION_EARNED"


class IntegrationScope(StrEnum):
    STATS_READ = "stats:read"
    PROGRESS_WRITE = "progress:write"
    ROSTER_WRITE = "roster:write"
