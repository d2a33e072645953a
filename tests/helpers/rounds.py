"""Rounds in-process for tests: a round started through the service (its task caught at the seam)."""

from __future__ import annotations

import pytest

from core.db.models import TrainingRound
from core.db.session import session_scope
from core.queue import TRAIN_ROUND, sending_to
from core.services import rounds
from core.settings import get_settings
from core.states import RoundTrigger
from tests.conftest import apply_settings
from tests.helpers.data import make_labeler
from tests.helpers.loop import Decisive, fresh_model_server, generate_pool, label_pool

QUICK = {"steps": 12, "eval_every": 6, "batch_pairs": 4, "held_out_share": 0.25}


@pytest.fixture
def loop_db(monkeypatch, tmp_path, embedded_model):
    from core.services.prompts import seed_shipped_prompts
    from tests.helpers.migrated import migrated

    apply_settings(monkeypatch, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", data_dir=tmp_path / "data",
                   base_model=embedded_model, pool_target=12, pool_batch=4, default_steps=6, gate_eval_images=4,
                   gate_min_accuracy=0.0, gate_max_winner_drift=10, gate_max_judge_drop=1,
                   eval_seeds_per_prompt=0, gold_rate=0, promotion="gate")  # fmt: skip
    migrated()
    seed_shipped_prompts()
    fresh_model_server(monkeypatch)
    return tmp_path


def start(config: dict, campaign: str = "default") -> int:
    """Start a round of the campaign through the service; its task is observed at the seam and run in-process."""
    sent = []
    with sending_to(lambda name, args: sent.append((name, args))):
        round_id = rounds.start_round(get_settings(), RoundTrigger.admin, config, campaign=campaign).id
    assert sent == [(TRAIN_ROUND, [round_id])]
    return round_id


def round_row(round_id: int) -> TrainingRound:
    with session_scope() as session:
        row = session.get(TrainingRound, round_id)
        session.expunge(row)
        return row


def labeled_pool(pairs: int, policy="smaller") -> int:
    """A pool of `pairs` real pairs, each voted on decisively by a simulated labeler (so each gives a
    training pair); returns the labeler's id."""
    generate_pool(pairs)
    labeler_id, _ = make_labeler("sim")
    label_pool(labeler_id, Decisive(policy), pairs)
    return labeler_id
