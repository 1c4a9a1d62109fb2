"""GraphQL enums: the domain vocabularies, exposed under their contract names."""

from __future__ import annotations

import strawberry

from models import enums

Level = strawberry.enum(enums.Level)
CertificationStatus = strawberry.enum(enums.CertificationStatus)
CertificationMethod = strawberry.enum(
    enums.EarnedBy,
    name="CertificationMethod",
    description="How a micro-certification was earned.",
)
PageState = strawberry.enum(enums.PageState)
SubmissionStatus = strawberry.enum(enums.SubmissionStatus)
Catalog = strawberry.enum(enums.Catalog)
MembershipRole = strawberry.enum(enums.MembershipRole)
DistrictRole = strawberry.enum(enums.DistrictRole)
StatsInclusion = strawberry.enum(enums.StatsInclusion)
FeedItemKind = strawberry.enum(enums.FeedItemKind)
