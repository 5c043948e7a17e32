"""Content policies: what the content filters of a deployment check, and what they do.

Modelled on Azure OpenAI's content filters (raiPolicies): the four harm categories get a
severity threshold per direction (prompt, completion); the optional detectors (jailbreak,
indirect attack, profanity), PII detection and custom blocklists are switched on one by one.

This module only describes policies (plain, validated data); ``gateway.policies`` stores them
and deployments name them. Nothing applies them to requests yet: enforcement arrives with the
content-filtering pipeline, which reads the fields below as documented here.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from atrium.safety.blocklist import pattern_problem

# Block at this severity and above; "off" never blocks (results are still annotated).
Threshold = Literal["low", "medium", "high", "off"]
# "annotate": results are reported, nothing is blocked (Azure's "annotate only").
PolicyMode = Literal["block", "annotate"]
DetectionAction = Literal["off", "annotate", "block"]
PiiAction = Literal["off", "annotate", "redact", "block"]
ClassifierErrorRule = Literal["fail_open", "fail_closed"]

DEFAULT_POLICY_NAME = "default"
DEFAULT_POLICY_DESCRIPTION = (
    "Built-in: hate, sexual, violence and self-harm blocked at medium severity and above on "
    "prompts and completions, jailbreak detection on prompts, profanity annotated."
)
# Azure's limits for custom blocklists: items per policy (terms and patterns together) and
# characters per item.
MAX_BLOCKLIST_ITEMS = 10_000
MAX_BLOCKLIST_ITEM_CHARS = 1_000
BLOCKLIST_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class PolicyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CategoryThresholds(PolicyModel):
    """The lowest severity of one harm category that is blocked, per direction."""

    prompt: Threshold = "medium"
    completion: Threshold = "medium"


class PiiActions(PolicyModel):
    """What to do when a kind of personal data is found: nothing, report it, replace it by a
    placeholder, or refuse the text."""

    email: PiiAction = "off"
    phone: PiiAction = "off"
    payment_card: PiiAction = "off"
    iban: PiiAction = "off"
    national_id: PiiAction = "off"
    ip_address: PiiAction = "off"
    secret: PiiAction = "off"


def _check_term(term: str) -> str:
    if not term.strip():
        raise ValueError("a blocklist term cannot be blank")
    return term


def _check_pattern(pattern: str) -> str:
    """The same rule the matcher applies (RE2 syntax, linear-time, never empty matches)."""
    problem = pattern_problem(pattern)
    if problem is not None:
        raise ValueError(problem)
    return pattern


BlocklistItem = Annotated[str, StringConstraints(min_length=1, max_length=MAX_BLOCKLIST_ITEM_CHARS)]
BlocklistTerm = Annotated[BlocklistItem, AfterValidator(_check_term)]
BlocklistPattern = Annotated[BlocklistItem, AfterValidator(_check_pattern)]


class BlocklistSettings(PolicyModel):
    """Words and patterns to block: ``terms`` match exactly, ignoring case; ``patterns`` are
    regular expressions in RE2 syntax (no backreferences or lookarounds: matching takes
    linear time whatever the pattern)."""

    name: str = Field(pattern=BLOCKLIST_NAME)
    terms: list[BlocklistTerm] = Field(default_factory=list)
    patterns: list[BlocklistPattern] = Field(default_factory=list)


class ContentPolicySettings(PolicyModel):
    """One content policy. The defaults are Azure's default policy for text models.

    - ``hate``, ``sexual``, ``violence``, ``self_harm``: block at the threshold and above.
    - ``mode``: ``annotate`` reports every result and blocks nothing.
    - ``jailbreak`` / ``indirect_attack``: detectors run on prompts; a detection blocks in
      ``block`` mode. ``profanity``: off, annotate or block.
    - ``pii``: per kind of personal data, off, annotate, redact or block.
    - ``blocklists``: custom terms and patterns, blocked wherever they appear.
    - ``on_classifier_error``: a classifier that fails lets the text through annotated with
      the error (``fail_open``, as Azure does) or refuses it (``fail_closed``).
    - ``stream_window_chars``: streamed completion text is released to the client only once
      a window of this many characters has passed the checks.
    """

    hate: CategoryThresholds = Field(default_factory=CategoryThresholds)
    sexual: CategoryThresholds = Field(default_factory=CategoryThresholds)
    violence: CategoryThresholds = Field(default_factory=CategoryThresholds)
    self_harm: CategoryThresholds = Field(default_factory=CategoryThresholds)
    mode: PolicyMode = "block"
    jailbreak: bool = True
    indirect_attack: bool = False
    profanity: DetectionAction = "annotate"
    pii: PiiActions = Field(default_factory=PiiActions)
    blocklists: list[BlocklistSettings] = Field(default_factory=list)
    on_classifier_error: ClassifierErrorRule = "fail_open"
    stream_window_chars: int = Field(default=100, ge=1, le=4000)

    @field_validator("blocklists")
    @classmethod
    def _blocklist_limits(cls, blocklists: list[BlocklistSettings]) -> list[BlocklistSettings]:
        counts = Counter(blocklist.name for blocklist in blocklists)
        repeated = sorted(name for name, count in counts.items() if count > 1)
        if repeated:
            raise ValueError(f"blocklist names must be unique: {', '.join(repeated)} repeated")
        items = sum(len(blocklist.terms) + len(blocklist.patterns) for blocklist in blocklists)
        if items > MAX_BLOCKLIST_ITEMS:
            raise ValueError(
                f"a policy holds at most {MAX_BLOCKLIST_ITEMS} blocklist terms and patterns in "
                f"all, not {items}"
            )
        return blocklists


DEFAULT_POLICY = ContentPolicySettings()
