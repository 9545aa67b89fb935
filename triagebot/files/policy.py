"""data/policy.toml: the programme's own rules for `registry audit`, declared once as pydantic
models (validation, JSON Schema and docs from one place). Each table switches one check on."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from triagebot.core.registry import CommunityStatus as Status
from triagebot.files.problems import ProblemError, TomlFile

POLICY_FILE = "policy.toml"
Level = Literal["error", "warning"]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    level: Level = Field("warning", description='"error" makes the audit exit 1')


class MinDelegates(_Rule):
    """Every active community has at least `count` current delegates."""

    count: int = Field(2, ge=1)


class TermLength(_Rule):
    """A current or scheduled term longer than its community's governance.term_months (plus
    `grace_months`): someone's mandate ran out and was not renewed or recorded."""

    grace_months: int = Field(0, ge=0)
    exempt_titles: list[str] = Field(
        default_factory=list,
        description="titles held without a fixed term (a club's mentor, a caretaker), as in "
        "the community files (case aside): their terms are not checked",
    )


class Review(_Rule):
    """A community file whose `reviewed` date is older than `max_age_months`."""

    max_age_months: int = Field(12, ge=1)


class Handover(_Rule):
    """A resource whose responsible person held a role in the community and holds none now."""

    level: Level = "error"


class PublicContact(_Rule):
    """A community with no public contact of its own, among the listed statuses; with
    `delegates_count`, a current delegate's public contact is enough."""

    statuses: list[Status] = Field(default_factory=lambda: ["active", "dormant"])
    delegates_count: bool = False


class Policy(BaseModel):
    """data/policy.toml: each table switches one check on; an absent table is not checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    min_delegates: MinDelegates | None = None
    term_length: TermLength | None = None
    review: Review | None = None
    handover: Handover | None = None
    public_contact: PublicContact | None = None


PolicyError = ProblemError


def load_policy(path: Path) -> Policy:
    """The policy in `path`; an absent file is the empty policy (nothing to audit)."""
    if not path.exists():
        return Policy()
    file = TomlFile(str(path))
    raw = file.read()
    policy = None if raw is None else file.validate(Policy, raw)
    if policy is None:
        raise PolicyError(file.problems())
    return policy
