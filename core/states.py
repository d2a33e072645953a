"""Every state and kind that a row can be in, one StrEnum each (stored as their string values).

A StrEnum compares equal to its value, so rows written before a column became an enum read the same.
"""

from __future__ import annotations

import enum

DEFAULT_CAMPAIGN_ID = 1  # campaign 1 is `default`: an install's data from before campaigns (migration 0021)
BASE_CHECKPOINT_ID = 1  # checkpoint 1 is the base model (settings.base_model); the first migration makes it


class Role(enum.StrEnum):
    labeler = "labeler"
    admin = "admin"


class Choice(enum.StrEnum):
    left = "left"
    right = "right"
    tie = "tie"
    both_bad = "both_bad"
    skip = "skip"


DECISIVE = (Choice.left, Choice.right)  # the choices that name a winner


class ComparisonKind(enum.StrEnum):
    train = "train"  # two seeds of the served checkpoint: Diffusion-DPO data
    eval = "eval"  # new vs previous checkpoint on a fixed prompt and seed: win rates
    match = "match"  # an arena match: any two checkpoints, same prompt and seed, served whatever serves
    gold = "gold"  # made with a known answer (one side damaged): measures labelers, never trains


class EvaluationKind(enum.StrEnum):
    promotion = "promotion"  # a promoted checkpoint against the one it replaced
    match = "match"  # an arena match an admin asked for


class ImportState(enum.StrEnum):
    queued = "queued"  # waiting for the train worker
    importing = "importing"  # rows being decoded and encoded, a batch at a time (resumable)
    done = "done"
    failed = "failed"  # the source could not be read (error says why); bad rows alone never fail it


class RewardModelState(enum.StrEnum):
    queued = "queued"  # waiting for the train worker
    training = "training"
    ready = "ready"  # the newest ready version is the campaign's preference model
    failed = "failed"  # error says why; the last ready version stays in use


class MatchState(enum.StrEnum):
    rendering = "rendering"  # the generate worker is making both checkpoints' evaluation images
    ready = "ready"  # its pairs are in the pool
    failed = "failed"  # could not be made (error says why)


class GoldAnswer(enum.StrEnum):
    a = "a"  # generation A is the undamaged image
    both_bad = "both_bad"  # both sides damaged


class ReportReason(enum.StrEnum):
    harmful = "harmful"
    explicit = "explicit"
    broken = "broken"  # a broken image
    other = "other"


class ReportStatus(enum.StrEnum):
    open = "open"  # the reporter's own vote is out of training; the others' still train
    confirmed = "confirmed"  # an admin agreed: no vote on the pair trains
    dismissed = "dismissed"  # an admin disagreed: the others' votes train (the reporter's stays out)


class ComparisonState(enum.StrEnum):
    ready = "ready"  # in the pool
    done = "done"  # collected its votes
    retired = "retired"  # its checkpoint no longer serves; votes stay valid data


class GenerationStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


GENERATION_FINISHED = (GenerationStatus.done, GenerationStatus.failed)


class GenerationPurpose(enum.StrEnum):
    api = "api"  # a client's request: someone waits for it
    pool = "pool"  # one side of a train comparison
    eval = "eval"  # one side of an evaluation comparison


class CheckpointKind(enum.StrEnum):
    base = "base"  # the base pipeline itself (settings.base_model)
    lora = "lora"  # a LoRA over the base: pytorch_lora_weights.safetensors
    full = "full"  # a whole fine-tuned denoiser: unet/ (SD, SDXL) or transformer/ (SD3, FLUX)


class CheckpointStatus(enum.StrEnum):
    ready = "ready"  # may serve
    rejected = "rejected"  # failed the gate; an admin may still promote it by hand
    broken = "broken"  # failed to load; never serves


class CandidateState(enum.StrEnum):
    """A checkpoint that passed the gate, judged blind by the labelers against what serves (core/verdict.py)."""

    judging = "judging"  # its evaluation pairs are served; it serves nothing else
    promoted = "promoted"  # the labelers (or an admin) found it better: it serves
    rejected = "rejected"  # the labelers (or an admin) found it not better: it never serves unless promoted by hand
    undecided = "undecided"  # the vote cap, a change of what serves, or a newer candidate ended it: it does not serve


class Promotion(enum.StrEnum):
    """Who decides that a gated checkpoint serves (DPOLOOP_PROMOTION)."""

    labelers = "labelers"  # the gate makes a candidate; the labelers' blind verdict promotes it
    gate = "gate"  # the gate promotes at once (unattended installs); the labelers evaluate afterwards


class RoundTrigger(enum.StrEnum):
    schedule = "schedule"
    admin = "admin"


class RoundState(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


ROUND_FINISHED = (RoundState.succeeded, RoundState.failed, RoundState.cancelled)
ROUND_ACTIVE = (RoundState.queued, RoundState.running)


class DeliveryState(enum.StrEnum):
    pending = "pending"  # to be posted (again) at next_attempt_at
    delivered = "delivered"  # the receiver answered 2xx
    failed = "failed"  # given up: a 4xx, or every attempt failed


class PromptSource(enum.StrEnum):
    shipped = "shipped"  # the embedded model's prompt files
    admin = "admin"  # added through the API or the CLI
    imported = "import"  # read from a file
