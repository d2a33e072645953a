"""Request and response bodies of the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.guidelines import MAX_BODY, MAX_QUESTION
from core.schemas.generation import GenerationParams
from core.schemas.text import MAX_DB_INT, storable_text
from core.states import Choice, GenerationStatus, ReportReason, ReportStatus


class ImageOut(BaseModel):
    url: str


# Labelers name a pair by its serve handle (core/repo/handles.py), never by its row id: ids tell creation
# order, and so gold and evaluation pairs from train pairs. The field names are those clients used for ids.
Handle = Annotated[str, Field(description="The pair's handle: an opaque string, yours alone, in no order.")]


class ComparisonOut(BaseModel):
    """What a labeler sees: nothing here tells which checkpoint or seed made which side, or what kind
    of pair it is."""

    id: Handle
    prompt: str
    left: ImageOut
    right: ImageOut


class VoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    choice: Choice
    decision_ms: int | None = Field(default=None, ge=0, le=3_600_000)
    guidelines_version: int | None = Field(default=None, ge=0, le=MAX_DB_INT, description="The guidelines version "
                                           "shown to the labeler (GET /guidelines); 0: none were set.")  # fmt: skip


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    side: Literal["left", "right", "both"]  # as this labeler saw the pair
    reason: ReportReason
    note: str | None = Field(default=None, max_length=500)

    @field_validator("note")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return None if value is None else storable_text(value)


class ReportOut(BaseModel):
    id: int
    comparison_id: Handle
    side: str
    reason: str
    created_at: datetime


class ReportAdminOut(ReportOut):
    comparison_id: int  # admins see the row id
    labeler: str
    prompt: str
    note: str | None
    image_urls: list[str]  # the reported image, or both
    status: ReportStatus  # open: only the reporter's vote is out of training; confirmed: every vote on the pair
    decided_by: str | None
    decided_at: datetime | None


class ReportDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["confirmed", "dismissed"] = Field(
        description="confirmed: no vote on the pair trains; dismissed: the other labelers' votes train again"
    )


class PromptFilterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(min_length=1, max_length=500, description="A word or phrase (whole words, any case)")
    is_regex: bool = Field(default=False, description="Treat the pattern as an RE2 regular expression (any case; "
                           "no look-around or backreferences)")  # fmt: skip


class PromptFilterOut(BaseModel):
    id: int
    pattern: str
    is_regex: bool
    created_by: str
    created_at: datetime


class PromptFilterApplied(BaseModel):
    retired: list[dict]  # {"id", "text", "reason"} of each prompt taken out of the pool


class VoteOut(BaseModel):
    id: int
    comparison_id: Handle
    choice: Choice
    decision_ms: int | None
    created: bool  # False: this labeler had voted already; this is that first vote


class VoteRetractedOut(BaseModel):
    comparison_id: Handle
    vote_id: int  # the vote taken back
    reopened: bool  # the pair is held for you again: vote on it under the same handle


class GuidelinesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION, pattern=r"\S")
    body: str = Field(default="", max_length=MAX_BODY, description="Paragraphs, '- ' lists, **bold**, "
                      "[links](https://…); anything else is shown as text.")  # fmt: skip

    @field_validator("question", "body")
    @classmethod
    def _storable(cls, value: str) -> str:
        return storable_text(value)


class GuidelinesOut(BaseModel):
    version: int  # 0: none set yet
    question: str
    body: str  # as the admin wrote it
    blocks: list[dict]  # parsed (core/guidelines.py): what the labeling page shows
    set_by: str | None
    updated_at: datetime | None


class MeOut(BaseModel):
    id: int
    name: str
    role: str
    votes: int


class GenerationRequest(GenerationParams):
    checkpoint_id: int | None = Field(
        default=None, ge=1, le=MAX_DB_INT, description="Admins only: the checkpoint to use (default: the served one)."
    )


class GenerationOut(BaseModel):
    id: int
    status: GenerationStatus
    prompt: str
    seed: int
    params: dict
    checkpoint_id: int | None
    image_url: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    duration_ms: float | None


class EvaluationOut(BaseModel):
    """Labelers' verdict on a promotion (the checkpoint against the one it replaced) or on an arena
    match (checkpoint A against B), same prompts and seeds on both sides."""

    id: int
    checkpoint_id: int
    baseline_id: int
    kind: str  # promotion | match
    pairs: int
    wins: int  # votes for the checkpoint's image
    losses: int
    ties: int
    both_bad: int
    skips: int
    win_rate: float | None  # (wins + ties / 2) / (wins + losses + ties)
    interval: tuple[float, float] | None  # Wilson's 95%
    # The automatic judge on the same pairs: {"judge", "wins", "losses", "ties", "win_rate"}; null
    # until it ruled (or where the model has no judge).
    judge: dict | None = None
    created_at: datetime


class WorkerOut(BaseModel):
    name: str
    queues: str
    checkpoint_id: int | None
    seconds_since_seen: float
    alive: bool


class RunningRoundOut(BaseModel):
    id: int
    state: str
    trigger: str
    step: int
    steps: int | None
    metrics: dict


class FailureOut(BaseModel):
    id: int
    error: str | None
    finished_at: datetime | None


class BrokenCheckpointOut(BaseModel):
    id: int
    name: str
    reason: str | None


class PairingVotesOut(BaseModel):
    """Human votes on the train pairs one pair selection strategy chose."""

    strategy: str  # random, diverse or uncertain (uncertain's pairs while the base serves are diverse's)
    current: bool  # the strategy DPOLOOP_PAIRING names now
    pairs: int
    votes: int
    decisive: int
    ties: int
    both_bad: int
    skips: int
    decisive_share: float | None  # decisive / (votes − skips)


class CandidateOut(BaseModel):
    """A checkpoint's candidacy: judged blind by the labelers against `serving_id` (what served when it
    became a candidate) until core/verdict.py decides. While it is judged, labelers get the state only
    (counts, estimate and bounds null: live counts would tell which side of an eval pair is winning)."""

    state: str  # judging | promoted | rejected | undecided
    wins: int | None  # counted votes (people in good standing) at the last review, frozen at the decision
    losses: int | None
    ties: int | None
    votes_needed_estimate: int | None  # a rough guide while judging; null once decided
    bounds: tuple[float, float] | None  # the win rate's anytime-valid confidence sequence: [low, high]
    serving_id: int
    reason: str | None  # why it was decided or ended undecided
    decided_by: str | None  # "labelers", an admin's name, or "system"
    created_at: datetime
    decided_at: datetime | None


class VerdictRuleOut(BaseModel):
    alpha: float  # false promotion rate of a candidate that is no better (DPOLOOP_VERDICT_ALPHA)
    beta: float  # false rejection rate of one better by the margin or more (DPOLOOP_VERDICT_BETA)
    margin: float
    max_votes: int


class CandidateOverviewOut(CandidateOut):
    """The candidate being judged now, for the admin's overview."""

    checkpoint_id: int
    name: str
    rule: VerdictRuleOut


class OverviewOut(BaseModel):
    """The loop at a glance (the admin console's first page)."""

    active_checkpoint_id: int
    active_since: datetime | None
    pool_ready: int  # train pairs waiting that nobody holds
    pool_target: int
    eval_ready: int
    refill_pairs_per_min: float
    votes_last_hour: int
    votes_total: int
    decisive_since_last_round: int
    round_min_pairs: int
    schedule_on: bool
    next_scheduled_round_at: datetime | None
    running_round: RunningRoundOut | None
    workers: list[WorkerOut]
    queue_depths: dict[str, int | None]
    failed_rounds: list[FailureOut]
    failed_generations: list[FailureOut]
    broken_checkpoints: list[BrokenCheckpointOut]
    failed_housekeeping: list[FailureOut]  # error: "<task>: <why>" (retention, ...)
    candidate: CandidateOverviewOut | None = None  # the checkpoint judged now, if any


class ArenaStandingOut(BaseModel):
    """One checkpoint on the arena's Bradley-Terry scale (log-odds; the base is 0)."""

    checkpoint_id: int
    name: str
    strength: float
    interval: tuple[float, float]  # bootstrap 95%
    votes: int
    wins: int
    losses: int
    ties: int


class ArenaOut(BaseModel):
    standings: list[ArenaStandingOut]  # strongest first
    votes: int
    bootstrap: int  # resamples behind the intervals


class MatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint_a_id: int = Field(ge=1, le=MAX_DB_INT)
    checkpoint_b_id: int = Field(ge=1, le=MAX_DB_INT)


class MatchOut(BaseModel):
    """An arena match: `rendering` until both checkpoints have made the evaluation set, then `ready`
    with the evaluation whose pairs labelers see (or `failed` with the reason)."""

    id: int
    checkpoint_a_id: int
    checkpoint_b_id: int
    state: str
    requested_by: str
    evaluation_id: int | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class GridColumnOut(BaseModel):
    checkpoint_id: int
    name: str
    role: str  # base | parent | checkpoint
    problem: str | None  # why this column cannot be rendered


class GridRowOut(BaseModel):
    prompt: str
    seed: int
    images: list[str | None]  # per column: a signed image link, null while not rendered yet


class GridOut(BaseModel):
    """The fixed evaluation prompts × seeds rendered by the base, the parent and the checkpoint."""

    columns: list[GridColumnOut]
    rows: list[GridRowOut]
    made: int
    total: int
    queued: bool  # missing images were just queued for rendering


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        min_length=1, max_length=1000, description="A path in the import root (DPOLOOP_IMPORT_ROOT; relative: in it)."
    )
    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[\w.@+-]+$")


class PreferenceSetOut(BaseModel):
    """An imported set: progress while the train worker reads it, then what it added and why rows
    were left out (counts: added, duplicates, ties, unlabeled, bad; bad_rows: the first 100)."""

    id: int
    name: str
    source: str
    format: str
    state: str
    rows_total: int | None
    rows_done: int
    attempts: int = Field(description="Worker starts since the last recorded batch (failed at 3).")
    counts: dict
    bad_rows: list
    error: str | None
    requested_by: str
    created_at: datetime
    finished_at: datetime | None


class CheckpointOut(BaseModel):
    id: int
    name: str
    kind: str
    path: str | None  # the directory plain diffusers loads (None: the base model; admins only)
    parent_id: int | None
    round_id: int | None
    status: str
    status_reason: str | None
    metrics: dict
    created_at: datetime
    active: bool
    # Its newest evaluation against the checkpoint it replaced; admins only (live counts would tell a
    # labeler which side of an eval pair was the new checkpoint).
    human_eval: EvaluationOut | None = None
    candidate: CandidateOut | None = None  # null if it never was a candidate


class LabelerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w.@+-]+$")
    admin: bool = False


class LabelerOut(BaseModel):
    id: int
    name: str
    role: str
    active: bool
    ai: bool = False  # an automatic judge voting through the API (`dpoloop ai-label`)
    standing: str = "auto"  # an admin's override of the quality rules: good | excluded | auto


class LabelerStatsOut(BaseModel):
    """How one labeler labels (GET /admin/labelers/stats)."""

    labeler_id: int
    name: str
    role: str
    active: bool
    ai: bool
    votes: int
    votes_last_hour: int
    median_decision_ms: float | None
    tie_share: float | None
    both_bad_share: float | None
    skip_share: float | None
    agreement: float | None  # with the other labelers' majority on the same pair (leave-one-out)
    agreement_votes: int


class LabelerCreated(LabelerOut):
    token: str
    login_url: str


class LabelerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool | None = None  # false: the token stops working (the votes stay)
    # good: the votes train whatever the quality rules say; excluded: they never do; auto: the rules decide
    standing: Literal["good", "excluded", "auto"] | None = None


class LabelerQualityOut(BaseModel):
    """How far a labeler's votes can be trusted (GET /admin/labelers/quality)."""

    labeler_id: int
    name: str
    active: bool
    ai: bool
    votes: int
    decisive_votes: int
    gold_votes: int
    gold_correct: int
    gold_accuracy: float | None
    gold_interval: tuple[float, float] | None  # Wilson's 95%
    side_bias: float | None  # share of "left" among decisive votes (sides are shuffled: 0.5 is unbiased)
    agreement: float | None  # with the others' majority on the same pair
    agreement_votes: int
    alpha_without: float | None  # Krippendorff's alpha (nominal) of all the other labelers
    alpha_all: float | None  # ... and of everybody
    fast_share: float | None  # decisions faster than DPOLOOP_QUALITY_FAST_DECISION_MS
    tie_share: float | None
    skip_share: float | None
    override: str | None  # an admin's standing: good | excluded
    good_standing: bool  # the votes train
    reasons: list[str]  # why not


class LineageOut(BaseModel):
    """Where a labeler's votes went: retract them by rebuilding from `rebuild_from`."""

    labeler_id: int
    trained_on: dict[int, int]  # checkpoint id → this labeler's votes it trained on
    built_on: list[int]  # those checkpoints and their descendants
    serving_affected: bool
    rebuild_from: int  # the newest checkpoint on the serving one's line untouched by them


class PromptsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompts: list[str] = Field(min_length=1, max_length=10_000)
    for_eval: bool = False


class PromptOut(BaseModel):
    id: int
    text: str
    source: str
    active: bool  # False: retired, out of the pool (its votes stay)
    for_eval: bool  # in the fixed evaluation set
    pairs: int  # comparisons made from it
    votes: int
    created_at: datetime


class PromptPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool | None = None
    for_eval: bool | None = None


class PromptsAdded(BaseModel):
    added: int
    skipped: int


class RoundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: dict[str, Any] = Field(
        default_factory=dict, description="DPO settings for this round over the defaults (see DPOConfig)."
    )


class RoundStepOut(BaseModel):
    step: int
    metrics: dict


class RoundOut(BaseModel):
    id: int
    state: str
    trigger: str
    requested_by: str | None
    config: dict
    counts: dict
    metrics: dict
    error: str | None
    snapshot_vote_id: int | None
    start_checkpoint_id: int | None
    reference_checkpoint_id: int | None
    checkpoint_id: int | None
    cancel_requested: bool
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    steps: list[RoundStepOut] | None = None


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=1000)


class DeploymentOut(BaseModel):
    id: int
    checkpoint_id: int
    promoted_at: datetime
    promoted_by: str
    reason: str | None


class LivenessOut(BaseModel):
    status: Literal["ok"]


class WorkerHealthOut(BaseModel):
    name: str
    queues: str
    checkpoint_id: int | None
    seconds_since_seen: float
    alive: bool


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    database: str
    broker: str
    workers: list[WorkerHealthOut]


class RewardModelOut(BaseModel):
    """One version of the install's preference model: what it trained on, how it did on held-out human
    votes, and the ceilings beside it (labelers_agree: people with each other on pairs several voted on;
    judge: the configured judge on the same held-out votes)."""

    id: int
    state: str
    features: str
    requested_by: str
    snapshot_vote_id: int | None
    votes: int | None = Field(description="Decisive votes of people in good standing behind its pairs.")
    train_pairs: int | None
    held_out_pairs: int | None
    held_out_accuracy: float | None
    ceilings: dict
    card: dict
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class RewardOut(BaseModel):
    current: RewardModelOut | None = Field(description="The newest ready version: the one the loop uses.")
    versions: list[RewardModelOut] = Field(description="Newest first, failed ones included.")


class WebhookDeliveryOut(BaseModel):
    url: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    delivered_at: datetime | None


class AlertEventOut(BaseModel):
    id: int
    kind: str  # round.finished, round.failed, candidate.promoted, candidate.rejected, checkpoint.broken, ...
    text: str
    payload: dict[str, Any]
    created_at: datetime
    deliveries: list[WebhookDeliveryOut]  # one per webhook URL configured when it happened
