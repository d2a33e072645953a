"""Every setting of dpoloop, read from environment variables named DPOLOOP_<NAME> (or a .env file).

This class is the one documented list: docs/configuration.md's table is generated from it
(`dpoloop settings --markdown`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from limits import parse
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.paths import EMBEDDED_MODEL_DIR, REPO_ROOT
from core.states import Promotion


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DPOLOOP_", env_file=".env", extra="ignore")

    # Where state lives. Two instances with different data dirs never share anything.
    data_dir: Path = Field(
        default=REPO_ROOT / "data", description="SQLite file, media, latents, checkpoints, broker files."
    )
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite in the data dir.")
    import_root: Path = Field(
        default=Path("imports"),
        description="The one folder imports read from (a relative path is under the data dir; with "
        "DPOLOOP_STORAGE_URL, the store's imports/ instead).",
    )
    storage_url: str | None = Field(
        default=None,
        description="s3://bucket/prefix: images, latents, checkpoints and preference models in an S3-compatible "
        "store that several machines share (credentials and endpoint from AWS_ACCESS_KEY_ID, "
        "AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL); default: the data dir.",
    )
    storage_cache_gb: float = Field(
        default=20, gt=0, description="Local disk each process may fill with files read from the object store, GB."
    )
    media_links: Literal["signed", "presigned"] = Field(
        default="signed",
        description="How browsers get images: the API's own signed links, or the object store's pre-signed URLs "
        "(presigned; needs DPOLOOP_STORAGE_URL and a store browsers can reach).",
    )
    broker_url: str | None = Field(
        default=None, description="Celery broker; default: files in the data dir (redis://… in production)."
    )
    # The model.
    base_model: str = Field(
        default=str(EMBEDDED_MODEL_DIR),
        description="Diffusers pipeline directory (or hub id) of checkpoint 1.",
    )
    device: str | None = Field(
        default=None, description="torch device for workers (default: cuda if present, else cpu)."
    )
    torch_threads: int = Field(default=2, ge=1, description="CPU threads per worker process.")
    adapters_held: int = Field(
        default=4, ge=1, le=32,
        description="LoRA checkpoints a generate worker keeps loaded at once (campaigns' adapters, blends' parts); "
        "switching among them needs no file read. The least recently used is dropped for a new one.",
    )  # fmt: skip
    train_processes: int = Field(
        default=1, ge=1, le=1024,
        description="Processes a round trains on, data-parallel through accelerate (one per GPU; gloo on CPU).",
    )  # fmt: skip
    accelerate_config: str | None = Field(
        default=None,
        description="An `accelerate config` file for rounds on several processes (multi-node, DeepSpeed…).",
    )
    train_memory_gb: float | None = Field(
        default=None, gt=0,
        description="Accelerator memory of one training process, GB: rounds that cannot fit are refused before "
        "they are queued (unset: no check).",
    )  # fmt: skip
    # Generation defaults (clients may override per request).
    default_steps: int = Field(default=20, ge=1, le=200, description="Sampler steps when a request names none.")
    default_guidance: float = Field(default=4.0, ge=0, le=30, description="Guidance scale when a request names none.")
    generation_rate_limit: str = Field(
        default="60/minute",
        description="Generations one token may request (POST /generations), e.g. 60/minute (429 above it).",
    )
    max_pending_generations: int = Field(
        default=8, ge=1, le=10_000, description="Queued or running generations one token may have (429 above it)."
    )
    generation_wait_s: float = Field(
        default=30.0, gt=0, le=600, description="Longest `?wait=true` on POST /generations."
    )
    # The pair pool.
    pool_target: int = Field(
        default=24, ge=0, description="Unlabeled train comparisons kept ready for the active checkpoint."
    )
    pool_batch: int = Field(default=4, ge=1, le=64, description="Pairs generated per pool-filling task.")
    pool_interval_s: float = Field(default=5.0, gt=0, description="How often beat checks the pool.")
    pairing: Literal["random", "diverse", "uncertain", "reward"] = Field(
        default="random",
        description="How a train pair is chosen: random (two seeds of one prompt), diverse (render "
        "DPOLOOP_PAIRING_CANDIDATES seeds, show the two farthest apart, see DPOLOOP_PAIRING_DISTANCE), uncertain "
        "(of those, the far-apart pair whose outcome the served DPO checkpoint's implicit reward can least "
        "predict; diverse while the base serves) or reward (the same, by the campaign's preference model, with "
        "DPOLOOP_PAIRING_RANDOM_SHARE random pairs; diverse until a preference model has trained).",
    )
    pairing_random_share: float = Field(
        default=0.25, ge=0, le=1,
        description="With pairing=reward, the share of pairs shown at random, so the preference model is not "
        "fed only its own doubts.",
    )  # fmt: skip
    pairing_candidates: int = Field(
        default=4, ge=2, le=16, description="Images rendered per train pair when pairing is not random."
    )
    pairing_distance: Literal["judge", "latent"] = Field(
        default="judge",
        description="What 'far apart' means for diverse and uncertain pairs: judge (the gate judge's image "
        "embedding where it has one — clip, pickscore — else the latents) or latent (the final latents).",
    )
    pairing_reuse: bool = Field(
        default=False,
        description="Offer a prompt's unshown candidates (same checkpoint, younger than half the candidate "
        "retention) to its next pair, rendering only the rest (at least two).",
    )
    retention_candidate_hours: float = Field(
        default=24, gt=0, description="Hours an unshown pairing candidate's files are kept before they are reclaimed."
    )
    votes_per_comparison: int = Field(
        default=1, ge=1, description="Votes a comparison collects before it leaves the pool."
    )
    # Gold pairs: made by the system with a known answer, mixed into every labeler's stream.
    gold_rate: float = Field(default=0.1, ge=0, le=0.5, description="Share of served pairs that are gold pairs.")
    gold_pool_target: int = Field(
        default=8,
        ge=0,
        le=1000,
        description="Gold pairs kept ready that each active labeler has not answered yet "
        "(per campaign and serving checkpoint).",
    )
    gold_active_window_s: float = Field(
        default=3600,
        gt=0,
        description="A labeler who voted this recently is active: gold pairs are made for them, and a gold pair "
        "leaves the pool once every active labeler has answered it.",
    )
    gold_both_bad_share: float = Field(
        default=0.2, ge=0, le=1, description="Share of gold pairs where both sides are damaged (answer: both bad)."
    )
    # Labelers in good standing (their votes train): judged once they have enough votes to judge.
    quality_min_gold_accuracy: float = Field(
        default=0.7, ge=0, le=1, description="Gold accuracy whose whole 95% interval lies below this: no training."
    )
    quality_min_gold_votes: int = Field(default=5, ge=1, description="Gold votes before gold accuracy counts.")
    quality_max_side_bias: float = Field(
        default=0.3, ge=0, le=0.5, description="Largest distance of a labeler's share of 'left' from one half."
    )
    quality_min_bias_votes: int = Field(default=20, ge=1, description="Decisive votes before side bias counts.")
    prompt_classifier: str = Field(
        default="", max_length=300,
        description="Optional hook module:function(prompt) -> reason or None, refusing unsafe prompts.",
    )  # fmt: skip
    votes_per_hour_cap: int = Field(default=0, ge=0, description="Votes a labeler may cast per hour (0: no cap).")
    votes_per_day_cap: int = Field(default=0, ge=0, description="Votes a labeler may cast per day (0: no cap).")
    report_rate_limit: str = Field(
        default="20/hour",
        description="Reports one labeler may make, e.g. 20/hour (429 above it): each retires a pair for everyone.",
    )
    quality_fast_decision_ms: int = Field(
        default=600, ge=0, description="Decisions faster than this are counted as fast (shown, not used to exclude)."
    )
    max_held_per_labeler: int = Field(
        default=4, ge=1, le=100,
        description="Pairs one labeler may hold at once (on screen, prefetched); older holds lapse.",
    )  # fmt: skip
    lease_s: float = Field(
        default=120.0, gt=0, description="How long a comparison shown to a labeler is held for them."
    )
    undo_window_s: float = Field(
        default=10.0, ge=0, le=300,
        description="How long after a vote its labeler may take it back (U or Backspace); 0: never.",
    )  # fmt: skip
    # Training rounds.
    round_min_pairs: int = Field(
        default=200, ge=1, description="New decisive pairs since the last round that start one on the schedule."
    )
    round_min_interval_s: float = Field(
        default=600.0, ge=0, description="Shortest time between the starts of two scheduled rounds."
    )
    round_check_interval_s: float = Field(default=30.0, gt=0, description="How often beat looks for a round to start.")
    reward_retrain_votes: int = Field(
        default=200, ge=0,
        description="New decisive human votes in a campaign since its preference model's last version that train "
        "its next one on the schedule (0: only by hand).",
    )  # fmt: skip
    reward_held_out_share: float = Field(
        default=0.2, gt=0, lt=1, description="Share of voted pairs the preference model holds out to measure itself."
    )
    round_schedule: bool = Field(default=True, description="Start rounds on the schedule (false: admins only).")
    round_start_from: Literal["active", "base"] = Field(
        default="active", description="The checkpoint a round trains on top of."
    )
    round_reference: Literal["base", "active"] = Field(
        default="base", description="The frozen reference of the DPO objective."
    )
    round_stale_s: float = Field(
        default=300.0, gt=0, description="A running round silent this long is declared lost (its worker died)."
    )
    dpo_overrides: dict[str, Any] = Field(
        default_factory=dict,
        description='DPO settings over the model family\'s defaults, JSON (e.g. {"beta": 5000, "steps": 1000}).',
    )
    # The gate between a trained checkpoint and the labelers.
    promotion: Promotion = Field(
        default=Promotion.labelers,
        description="Who puts a checkpoint that passed the gate into service: labelers (it becomes a candidate, "
        "judged blind against what serves; core/verdict.py decides) or gate (at once, as for unattended installs).",
    )
    auto_promote: bool = Field(
        default=True, description="With DPOLOOP_PROMOTION=gate: promote a round's checkpoint when it passes the gate."
    )
    gate_min_accuracy: float = Field(
        default=0.55, ge=0, le=1,
        description="Lowest held-out implicit accuracy a checkpoint may have (it fails when its interval's top "
        "is below).",
    )  # fmt: skip
    gate_max_winner_drift: float = Field(
        default=0.10, ge=0,
        description="Highest relative rise of the winners' denoising error over the reference's (collapse guard; "
        "it fails when its interval's bottom is above).",
    )  # fmt: skip
    gate_min_reward_win_rate: float = Field(
        default=0.5, ge=0, le=1,
        description="Lowest win rate over its parent the campaign's preference model may give a checkpoint on the "
        "evaluation prompts (same seeds; it fails when its interval's top is below; no model: no rule).",
    )  # fmt: skip
    reward_gate_images: int = Field(
        default=32, ge=0, le=4096,
        description="Same-seed pairs (checkpoint vs parent) the preference model's gate rule scores (0: no rule).",
    )
    gate_max_judge_drop: float = Field(
        default=0.05, ge=0, le=100,
        description="Largest drop of the judge's mean score on the fixed evaluation set, in the judge's units.",
    )  # fmt: skip
    gate_judge: str = Field(
        default="", max_length=1000,
        description="The gate's automatic judge: scenes, clip:DIR or pickscore:DIR (local weights); "
        "empty: scenes for the embedded model, none for SD/SDXL.",
    )  # fmt: skip
    gate_eval_images: int = Field(
        default=64, ge=0, le=4096, description="Images per checkpoint in the judge's fixed evaluation set."
    )
    gate_draws: int = Field(
        default=8, ge=1, le=256,
        description="Noise draws (at spread timesteps) per held-out pair behind the gate's accuracy and drift.",
    )  # fmt: skip
    gate_confidence: float = Field(
        default=0.95, ge=0.5, lt=1,
        description="Confidence of the intervals over held-out pairs; a rule fails only when its whole interval "
        "lies past the limit.",
    )  # fmt: skip
    # Human evaluation of each promotion (new vs previous checkpoint, same seeds).
    eval_seeds_per_prompt: int = Field(
        default=2, ge=0, le=64,
        description="Same-seed pairs per evaluation prompt after a promotion (0: no human evaluation).",
    )  # fmt: skip
    # The labelers' verdict on a candidate's win rate (core/verdict.py: a sequential test by betting).
    verdict_alpha: float = Field(
        default=0.05, gt=0, lt=0.5, description="False promotion rate of a candidate no better than what serves."
    )
    verdict_beta: float = Field(
        default=0.05, gt=0, lt=0.5, description="False rejection rate of a candidate better by the margin or more."
    )
    verdict_margin: float = Field(
        default=0.10, gt=0, lt=0.5,
        description="Win rate above ½ a candidate must plausibly have to escape rejection (so one exactly as good "
        "as what serves is rejected, not judged to the cap).",
    )  # fmt: skip
    verdict_max_votes: int = Field(
        default=400, ge=1, le=100_000,
        description="Evaluation votes (win, loss or tie) after which an undecided verdict stops and what serves "
        "keeps serving.",
    )  # fmt: skip
    # What is deleted, and when (beat runs it daily).
    retention_api_days: float = Field(default=7, gt=0, description="Days a client generation's image is kept.")
    retention_unvoted_days: float = Field(
        default=2, gt=0, description="Days the files of a retired, unvoted train pair are kept."
    )
    retention_rejected_days: float = Field(
        default=30, gt=0, description="Days a rejected checkpoint's files are kept (unless it ever served)."
    )
    # The API.
    host: str = Field(default="127.0.0.1", description="API bind address for `dpoloop up` / `dpoloop api`.")
    port: int = Field(default=8000, ge=1, le=65535, description="API port.")
    max_body_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024, description="Largest request body the API reads (413 above it)."
    )
    public_url: str | None = Field(
        default=None, description="Base URL printed in login links (default http://host:port)."
    )

    # Operators: metrics and alerts (deploy/prometheus, core/services/alerts.py).
    worker_metrics_port: int = Field(
        default=0, ge=0, le=65535,
        description="Port a worker serves its Prometheus metrics on (0: none; one port per worker on a host).",
    )  # fmt: skip
    webhook_urls: str = Field(
        default="", max_length=10_000,
        description="Comma-separated http(s) URLs that receive signed JSON on rounds, verdicts, broken "
        "checkpoints, an empty pool and flagged labelers.",
    )  # fmt: skip
    webhook_secret: str = Field(
        default="", max_length=1000,
        description="Key of the X-Dpoloop-Signature header (HMAC-SHA256 of the body); needed with webhook_urls.",
    )  # fmt: skip
    webhook_max_attempts: int = Field(
        default=8, ge=1, le=100, description="Tries per event and URL before a delivery is given up (backoff 2^n×10 s)."
    )
    alert_interval_s: float = Field(
        default=20.0, gt=0, description="How often beat looks for what to alert on and posts due webhooks."
    )

    @field_validator("webhook_urls")
    @classmethod
    def _webhook_urls(cls, value: str) -> str:
        for url in _split_urls(value):
            if not url.startswith(("http://", "https://")) or len(url) > 2000:
                raise ValueError(f"webhook URL {url[:100]!r} is not an http(s) URL of at most 2000 characters")
        return value

    @field_validator("storage_url")
    @classmethod
    def _an_s3_url(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("s3://") or len(value) <= len("s3://")
                                  or value[len("s3://")] == "/"):  # fmt: skip
            raise ValueError(f"DPOLOOP_STORAGE_URL {value[:100]!r} is not s3://bucket[/prefix]")
        return value.rstrip("/") if value else None

    @model_validator(mode="after")
    def _presigned_needs_a_store(self) -> Settings:
        if self.media_links == "presigned" and not self.storage_url:
            raise ValueError("DPOLOOP_MEDIA_LINKS=presigned needs DPOLOOP_STORAGE_URL: the data dir cannot sign links")
        return self

    @model_validator(mode="after")
    def _webhooks_are_signed(self) -> Settings:
        if self.webhook_urls.strip() and not self.webhook_secret:
            raise ValueError("DPOLOOP_WEBHOOK_URLS needs DPOLOOP_WEBHOOK_SECRET: receivers check the signature with it")
        return self

    @property
    def webhook_targets(self) -> list[str]:
        return _split_urls(self.webhook_urls)

    @field_validator("generation_rate_limit", "report_rate_limit")
    @classmethod
    def _a_rate_limit(cls, value: str) -> str:
        parse(value)  # ValueError names what it could not read
        return value

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'dpoloop.sqlite3'}"

    @property
    def celery_broker_url(self) -> str:
        return self.broker_url or "dpoloopfs://"  # core/file_broker.py

    @property
    def broker_dir(self) -> Path:
        return self.data_dir / "broker"

    @property
    def broker_folders(self) -> dict[str, Path]:
        """The file broker's folders: messages, processed messages, exchange tables."""
        return {name: self.broker_dir / name for name in ("queue", "processed", "control")}

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def latents_dir(self) -> Path:
        return self.data_dir / "latents"

    @property
    def checkpoints_dir(self) -> Path:
        return self.data_dir / "checkpoints"

    @property
    def reward_dir(self) -> Path:
        return self.data_dir / "reward"

    @property
    def imports_dir(self) -> Path:
        """Where imports are read from, resolved: nothing outside it is ever read."""
        return (self.data_dir / self.import_root).resolve()  # an absolute import_root stays itself

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.media_dir, self.latents_dir, self.checkpoints_dir, self.broker_dir,
                     *self.broker_folders.values(), self.imports_dir):  # fmt: skip
            path.mkdir(parents=True, exist_ok=True)


def _split_urls(value: str) -> list[str]:
    return [url for url in (part.strip() for part in value.replace("\n", ",").split(",")) if url]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
