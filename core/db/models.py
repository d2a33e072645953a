"""The schema. Alembic migrations under migrations/ are the only way it changes."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql import false

from core.db.types import UTCDateTime
from core.states import (
    DEFAULT_CAMPAIGN_ID,
    CandidateState,
    CheckpointKind,
    CheckpointStatus,
    Choice,
    ComparisonKind,
    ComparisonState,
    DeliveryState,
    EvaluationKind,
    GenerationPurpose,
    GenerationStatus,
    ImportState,
    MatchState,
    PromptSource,
    ReportReason,
    ReportStatus,
    RewardModelState,
    Role,
    RoundState,
    RoundTrigger,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


def _enum(cls: type[enum.Enum], name: str, length: int = 16) -> Enum:
    # Stored as plain VARCHARs (no native type, no CHECK): portable across SQLite and Postgres, easy to migrate.
    return Enum(cls, name=name, native_enum=False, values_callable=lambda e: [m.value for m in e], length=length)


class Campaign(Base):
    """One preference loop on the install's base model: its question and guidelines, its labelers, prompts,
    pool, votes and adapter lineage. `default` (id 1, DEFAULT_CAMPAIGN_ID) is open to every labeler."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    # Every active labeler takes part (no assignments needed); otherwise only the assigned ones.
    open_to_all: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Its adapter's weight in the install's default blend (what a generation naming no campaign gets).
    blend_weight: Mapped[float] = mapped_column(Float, default=0.0)
    # DPO settings its rounds start from, over the install's (DPOLOOP_DPO_OVERRIDES); a round's config wins.
    round_defaults: Mapped[dict] = mapped_column(JSON, default=dict)


class CampaignMember(Base):
    """A labeler assigned to a campaign; `share` weighs how often their next pair comes from it among
    their campaigns."""

    __tablename__ = "campaign_members"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    labeler_id: Mapped[int] = mapped_column(ForeignKey("labelers.id"), primary_key=True, index=True)
    share: Mapped[float] = mapped_column(Float, default=1.0)
    added_by: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Labeler(Base):
    __tablename__ = "labelers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), default=Role.labeler)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # An automatic judge voting through the API: its votes train only when a round says so.
    is_ai: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # An admin's word over the quality rules: "good" (votes train) or "excluded" (they do not).
    standing_override: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Prompt(Base):
    __tablename__ = "prompts"
    __table_args__ = (UniqueConstraint("campaign_id", "text", name="uq_prompts_campaign_text"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), default=DEFAULT_CAMPAIGN_ID,
                                             server_default="1")  # fmt: skip
    text: Mapped[str] = mapped_column(String(1000))  # unique within its campaign
    source: Mapped[PromptSource] = mapped_column(_enum(PromptSource, "prompt_source", 32), default=PromptSource.admin)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    for_eval: Mapped[bool] = mapped_column(Boolean, default=False)  # in the fixed evaluation set
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Checkpoint(Base):
    __tablename__ = "checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Whose lineage (the base, id 1, is every campaign's root; it counts as default's).
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True, default=DEFAULT_CAMPAIGN_ID,
                                             server_default="1")  # fmt: skip
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[CheckpointKind] = mapped_column(_enum(CheckpointKind, "checkpoint_kind"))
    path: Mapped[str | None] = mapped_column(String(1000))  # None for the base: settings.base_model
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("checkpoints.id"))
    round_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[CheckpointStatus] = mapped_column(
        _enum(CheckpointStatus, "checkpoint_status"), default=CheckpointStatus.ready
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Deployment(Base):
    """One row per promotion: which checkpoint served a campaign from when. Its newest row is the active one."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True, default=DEFAULT_CAMPAIGN_ID,
                                             server_default="1")  # fmt: skip
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"))
    promoted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    promoted_by: Mapped[str] = mapped_column(String(100), default="system")
    reason: Mapped[str | None] = mapped_column(Text)

    checkpoint: Mapped[Checkpoint] = relationship()


class Generation(Base):
    __tablename__ = "generations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)  # names the files; reveals nothing
    prompt: Mapped[str] = mapped_column(String(1000))
    prompt_id: Mapped[int | None] = mapped_column(ForeignKey("prompts.id"))
    params: Mapped[dict] = mapped_column(JSON)  # negative_prompt, steps, guidance, width, height
    seed: Mapped[int] = mapped_column(BigInteger)
    checkpoint_id: Mapped[int | None] = mapped_column(ForeignKey("checkpoints.id"))  # set by the worker
    requested_checkpoint_id: Mapped[int | None] = mapped_column(ForeignKey("checkpoints.id"))
    requested_adapters: Mapped[dict | None] = mapped_column(JSON)  # a blend asked for: campaign name → weight
    blend: Mapped[dict | None] = mapped_column(JSON)  # the blend that made it (by the worker): checkpoint id → weight
    purpose: Mapped[GenerationPurpose] = mapped_column(
        _enum(GenerationPurpose, "generation_purpose"), default=GenerationPurpose.api
    )
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("labelers.id"))
    status: Mapped[GenerationStatus] = mapped_column(_enum(GenerationStatus, "generation_status"))
    error: Mapped[str | None] = mapped_column(Text)
    image_path: Mapped[str | None] = mapped_column(String(500))  # relative to the media dir
    latents_path: Mapped[str | None] = mapped_column(String(500))  # relative to the latents dir
    duration_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An unshown pairing candidate offered to a pair being rendered (DPOLOOP_PAIRING_REUSE): a claim, so
    # two workers never offer the same spare; released when that pair is recorded, stale after a lease.
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Evaluation(Base):
    """Human evaluation of a promotion: the new checkpoint against the one it replaced, as same-seed
    pairs on the fixed evaluation prompts; votes on its comparisons give the new one a win rate. An
    arena match is the same with any two checkpoints (kind match, checkpoint = A, baseline = B).
    Written with its comparisons in one transaction once every image exists; the unique pair makes
    sure two workers that both got there add it once. A candidacy's (the candidate against what
    serves) grows a batch at a time; `pairs` is always its comparison count."""

    __tablename__ = "evaluations"
    __table_args__ = (UniqueConstraint("checkpoint_id", "baseline_id", name="uq_evaluations_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"))
    baseline_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"))
    kind: Mapped[EvaluationKind] = mapped_column(
        _enum(EvaluationKind, "evaluation_kind"), default=EvaluationKind.promotion, server_default="promotion"
    )
    pairs: Mapped[int] = mapped_column(Integer)
    # The automatic judge's verdict on the same pairs: {"judge", "wins", "losses", "ties", "win_rate"}.
    judge_verdict: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Candidacy(Base):
    """A checkpoint that passed the gate and waits for the labelers' verdict against `serving_id` (what
    served when it became a candidate). The tallies are the counted votes (people in good standing)
    as of the last review, frozen at the decision: votes after it do not count."""

    __tablename__ = "candidacies"
    __table_args__ = (Index("ix_candidacies_state", "state", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"), unique=True)
    serving_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"))
    state: Mapped[CandidateState] = mapped_column(_enum(CandidateState, "candidate_state"),
                                                  default=CandidateState.judging)  # fmt: skip
    wins: Mapped[int] = mapped_column(Integer, default=0)
    losses: Mapped[int] = mapped_column(Integer, default=0)
    ties: Mapped[int] = mapped_column(Integer, default=0)
    votes_needed_estimate: Mapped[int | None] = mapped_column(Integer)
    bounds: Mapped[list | None] = mapped_column(JSON)  # [low, high] of the win rate's confidence sequence
    reason: Mapped[str | None] = mapped_column(Text)  # why it was decided (or ended undecided)
    decided_by: Mapped[str | None] = mapped_column(String(100))  # "labelers", an admin's name, or "system"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ArenaMatch(Base):
    """An admin's request to compare two checkpoints (not only a promotion against its predecessor):
    once both have rendered the evaluation set, an Evaluation of A against B holds its pairs."""

    __tablename__ = "arena_matches"
    __table_args__ = (Index("ix_arena_matches_state", "state", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkpoint_a_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"))
    checkpoint_b_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"))
    state: Mapped[MatchState] = mapped_column(_enum(MatchState, "match_state"), default=MatchState.rendering)
    requested_by: Mapped[str] = mapped_column(String(100))
    evaluation_id: Mapped[int | None] = mapped_column(ForeignKey("evaluations.id"))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Comparison(Base):
    __tablename__ = "comparisons"
    __table_args__ = (Index("ix_comparisons_pool", "state", "kind", "checkpoint_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True, default=DEFAULT_CAMPAIGN_ID,
                                             server_default="1")  # fmt: skip
    prompt_id: Mapped[int | None] = mapped_column(ForeignKey("prompts.id"))
    prompt: Mapped[str] = mapped_column(String(1000))
    generation_a_id: Mapped[int] = mapped_column(ForeignKey("generations.id"))
    generation_b_id: Mapped[int] = mapped_column(ForeignKey("generations.id"))
    kind: Mapped[ComparisonKind] = mapped_column(_enum(ComparisonKind, "comparison_kind"))
    state: Mapped[ComparisonState] = mapped_column(_enum(ComparisonState, "comparison_state"))
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"))  # the one it serves for
    # Eval comparisons: the evaluation they belong to (generation A is the new checkpoint's, B the baseline's).
    evaluation_id: Mapped[int | None] = mapped_column(ForeignKey("evaluations.id"), index=True)
    vote_count: Mapped[int] = mapped_column(Integer, default=0)
    leased_by: Mapped[int | None] = mapped_column(ForeignKey("labelers.id"), index=True)  # a labeler's holds
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    gold_answer: Mapped[str | None] = mapped_column(String(16))  # gold pairs: "a" or "both_bad"
    pairing: Mapped[str | None] = mapped_column(String(16))  # train pairs: the strategy that chose them
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    generation_a: Mapped[Generation] = relationship(foreign_keys=[generation_a_id])
    generation_b: Mapped[Generation] = relationship(foreign_keys=[generation_b_id])


class Vote(Base):
    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("comparison_id", "labeler_id", name="uq_votes_comparison_labeler"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comparison_id: Mapped[int] = mapped_column(ForeignKey("comparisons.id"), index=True)
    labeler_id: Mapped[int] = mapped_column(ForeignKey("labelers.id"), index=True)
    choice: Mapped[Choice] = mapped_column(_enum(Choice, "choice"))
    # Which generation this labeler saw on the left: turns left/right into a winner.
    left_generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id"))
    winner_generation_id: Mapped[int | None] = mapped_column(ForeignKey("generations.id"))
    decision_ms: Mapped[int | None] = mapped_column(Integer)
    # The guidelines the labeler had been shown (Guidelines.version; 0: none were set; NULL: not said).
    guidelines_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VoteRetraction(Base):
    """A vote its labeler took back within the undo window (DPOLOOP_UNDO_WINDOW_S). The vote row is gone, so
    nothing trains on it or counts it; this row says it was cast, which keeps the vote counters growing
    and a labeler's undos visible. No foreign key to the comparison: retention may delete an unvoted pair."""

    __tablename__ = "vote_retractions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vote_id: Mapped[int] = mapped_column(Integer)  # the id the vote had
    comparison_id: Mapped[int] = mapped_column(Integer, index=True)
    labeler_id: Mapped[int] = mapped_column(ForeignKey("labelers.id"), index=True)
    choice: Mapped[Choice] = mapped_column(_enum(Choice, "choice"))
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retracted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Guidelines(Base):
    """What labelers are asked (the question over each pair) and told (short rich text, core/guidelines.py);
    each change is a new version, older ones kept so that a vote's version still says what it was."""

    __tablename__ = "guidelines"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # install-wide
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True,
                                             default=DEFAULT_CAMPAIGN_ID, server_default="1")  # fmt: skip
    question: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ServeHandle(Base):
    """The name under which one labeler is served one comparison (core/repo/handles.py): a random token,
    so nothing a labeler is given tells a gold or evaluation pair from a train pair by its row id."""

    __tablename__ = "serve_handles"
    __table_args__ = (UniqueConstraint("comparison_id", "labeler_id", name="uq_serve_handles_comparison_labeler"),)

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    comparison_id: Mapped[int] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"))
    labeler_id: Mapped[int] = mapped_column(ForeignKey("labelers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Report(Base):
    """A labeler's report of an image (harmful, explicit, broken, other): the comparison leaves the
    pool for everyone and the reporter's vote leaves training; the others' leave once an admin confirms."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("comparison_id", "labeler_id", name="uq_reports_comparison_labeler"),
        Index("ix_reports_labeler_created", "labeler_id", "created_at"),  # the per-labeler cap counts these
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comparison_id: Mapped[int] = mapped_column(ForeignKey("comparisons.id"), index=True)
    labeler_id: Mapped[int] = mapped_column(ForeignKey("labelers.id"))
    side: Mapped[str] = mapped_column(String(8))  # left | right | both, as the labeler saw it
    generation_id: Mapped[int | None] = mapped_column(ForeignKey("generations.id"))  # the image (None: both)
    reason: Mapped[ReportReason] = mapped_column(_enum(ReportReason, "report_reason"))
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[ReportStatus] = mapped_column(_enum(ReportStatus, "report_status"), default=ReportStatus.open,
                                                 server_default=ReportStatus.open.value)  # fmt: skip
    decided_by: Mapped[str | None] = mapped_column(String(100))  # the admin who confirmed or dismissed it
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PromptFilter(Base):
    """A word, phrase or pattern no prompt may contain (generations, the prompt set, imports)."""

    __tablename__ = "prompt_filters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pattern: Mapped[str] = mapped_column(String(500), unique=True)
    is_regex: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrainingRound(Base):
    __tablename__ = "training_rounds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True, default=DEFAULT_CAMPAIGN_ID,
                                             server_default="1")  # fmt: skip
    state: Mapped[RoundState] = mapped_column(_enum(RoundState, "round_state"))
    # 1 while queued or running, NULL once finished: the unique index makes "one round at a time" a
    # database fact, whatever number of API processes, beats or admins race to start one.
    active_slot: Mapped[int | None] = mapped_column(Integer, unique=True)
    trigger: Mapped[RoundTrigger] = mapped_column(_enum(RoundTrigger, "round_trigger"))
    requested_by: Mapped[str | None] = mapped_column(String(100))
    config: Mapped[dict] = mapped_column(JSON, default=dict)
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    snapshot_vote_id: Mapped[int | None] = mapped_column(Integer)  # the votes it trains on: id <= this
    start_checkpoint_id: Mapped[int | None] = mapped_column(ForeignKey("checkpoints.id"))
    reference_checkpoint_id: Mapped[int | None] = mapped_column(ForeignKey("checkpoints.id"))
    checkpoint_id: Mapped[int | None] = mapped_column(ForeignKey("checkpoints.id"))  # what it wrote
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # The claim that runs it: heartbeats, its end and its checkpoint count only under this token.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a running round's pulse
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RoundStep(Base):
    """Per-step training metrics, written as they happen (the dashboard's curves)."""

    __tablename__ = "round_steps"

    round_id: Mapped[int] = mapped_column(ForeignKey("training_rounds.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    metrics: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PreferenceSet(Base):
    """Pairs from outside dpoloop (`dpoloop import`): a round of its campaign trains on them when its config
    names the set (`"sources": ["votes", "import:NAME"]`)."""

    __tablename__ = "preference_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), default=DEFAULT_CAMPAIGN_ID)  # its rounds
    source: Mapped[str] = mapped_column(String(1000))  # the path it was read from
    format: Mapped[str] = mapped_column(String(16))  # parquet | datasets | folder
    state: Mapped[ImportState] = mapped_column(_enum(ImportState, "import_state"), default=ImportState.queued)
    rows_total: Mapped[int | None] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)  # rows read so far: where a resumed import goes on
    # Worker starts since the last recorded batch: a batch that kills the worker each time is given up on.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    counts: Mapped[dict] = mapped_column(JSON, default=dict)  # added, duplicates, ties, unlabeled, bad
    bad_rows: Mapped[list] = mapped_column(JSON, default=list)  # [{"row": i, "reason": ...}], the first 100
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RewardModel(Base):
    """One version of a campaign's preference model (worker/reward/), trained on its labelers' decisive
    votes on its pairs up to `snapshot_vote_id`; its files (weights, card) are under the data dir at `path`."""

    __tablename__ = "reward_models"
    __table_args__ = (UniqueConstraint("campaign_id", "slot", name="uq_reward_models_campaign_slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True, default=DEFAULT_CAMPAIGN_ID,
                                             server_default="1")  # fmt: skip
    state: Mapped[RewardModelState] = mapped_column(
        _enum(RewardModelState, "reward_model_state"), default=RewardModelState.queued, index=True
    )
    # 1 while queued or training, NULL once finished: unique per campaign, so one version of a campaign's
    # model is in flight at a time however many requests race (the database refuses the second).
    slot: Mapped[int | None] = mapped_column(Integer)
    features: Mapped[str] = mapped_column(String(200))  # latents+text, or a backbone's name
    requested_by: Mapped[str] = mapped_column(String(100))  # an admin's name, cli, or schedule
    snapshot_vote_id: Mapped[int | None] = mapped_column(Integer)  # the newest vote it could see
    votes: Mapped[int | None] = mapped_column(Integer)  # decisive votes behind its pairs
    train_pairs: Mapped[int | None] = mapped_column(Integer)
    held_out_pairs: Mapped[int | None] = mapped_column(Integer)
    held_out_accuracy: Mapped[float | None] = mapped_column(Float)
    # Ceilings beside it: the labelers' agreement with each other, and the configured judge, on the votes.
    ceilings: Mapped[dict] = mapped_column(JSON, default=dict)
    card: Mapped[dict] = mapped_column(JSON, default=dict)  # settings, counts and timings
    path: Mapped[str | None] = mapped_column(String(500))  # relative to the data dir
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ImportedPair(Base):
    __tablename__ = "imported_pairs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("preference_sets.id"), index=True)
    row_index: Mapped[int] = mapped_column(Integer)
    caption: Mapped[str] = mapped_column(String(1000))
    winner_latents: Mapped[str] = mapped_column(String(500))  # relative to the latents dir
    loser_latents: Mapped[str] = mapped_column(String(500))
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkerHeartbeat(Base):
    """Workers report here every few seconds: liveness that works on every broker, and what they serve."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    queues: Mapped[str] = mapped_column(String(200))
    checkpoint_id: Mapped[int | None] = mapped_column(Integer)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Install(Base):
    """One row: this install's secret, made by the migration and kept with the data. It keys what
    must not be computable from public ids (which side a labeler sees, evaluation seeds)."""

    __tablename__ = "install"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret: Mapped[str] = mapped_column(String(64))


class HousekeepingFailure(Base):
    """A housekeeping task (retention, ...) that failed, and why: the admin overview lists the newest."""

    __tablename__ = "housekeeping_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(100))
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class AlertEvent(Base):
    """Something an operator is told about (core/services/alerts.py): a round finished or failed, a
    verdict, a broken checkpoint, the pool running dry, a labeler flagged. `key` names the happening
    (round:12:failed), so finding it again on the next scan adds nothing."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(50), index=True)  # round.failed, candidate.promoted, ...
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    text: Mapped[str] = mapped_column(Text)  # one line for people (Slack's "text")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event to one webhook URL: posted until the receiver takes it, with backoff between tries."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("alert_events.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    state: Mapped[DeliveryState] = mapped_column(_enum(DeliveryState, "delivery_state"), default=DeliveryState.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertState(Base):
    """What the alert scan last saw of a condition that comes and goes (the pool empty, a labeler
    flagged), so it tells on the change, not on every scan; the row "scan" holds when it last looked."""

    __tablename__ = "alert_states"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    firing: Mapped[bool] = mapped_column(Boolean, default=False)
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
