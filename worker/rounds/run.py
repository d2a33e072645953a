"""One training round, start to end, as a sequence of steps:

    claim → gather the pairs → load the model → judge the start → [reward pairs] → train → judge the result
    → publish

(with DPOLOOP_TRAIN_PROCESSES > 1, training runs first, in processes of its own: worker/rounds/parallel.py)

Every way out leaves the round in a final state with a reason. Nothing touches the served
checkpoint except `publish`, and only for a checkpoint that passed the gate, in the transaction that
ends the round under its claim: a round that fails anywhere before, or was declared lost meanwhile,
leaves the deployment table as it was.
"""

from __future__ import annotations

import logging

from core.services import rounds
from core.services.rounds import RoundClaim, RoundLost
from core.settings import Settings, get_settings
from core.states import RoundState
from worker.rounds.data import gather
from worker.rounds.judge import judge_after_training, judge_before_training, round_judge
from worker.rounds.keepalive import beating
from worker.rounds.model import load_round_model
from worker.rounds.parallel import trained_in_processes
from worker.rounds.publish import publish
from worker.rounds.reward_gate import RewardGate
from worker.rounds.reward_pairs import add_reward_pairs
from worker.rounds.stopped import RoundStopped
from worker.rounds.train import train

log = logging.getLogger(__name__)


def run_round(round_id: int, settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    claim = rounds.claim_round(round_id, settings)
    if claim is None:
        return
    with beating(claim, every_s=max(0.5, settings.round_stale_s / 5)):
        try:
            run_steps(claim, settings)
        except RoundLost:
            log.warning("round %s was declared lost while it ran; nothing it made is registered", round_id)
        except RoundStopped as stop:
            rounds.end_claimed(claim, stop.state, stop.reason)
        except Exception as exc:
            log.exception("round %s failed", round_id)
            rounds.end_claimed(claim, RoundState.failed, f"{type(exc).__name__}: {exc}")


def run_steps(claim: RoundClaim, settings: Settings) -> int:
    """The steps in order; returns the registered checkpoint's id (the round has ended succeeded)."""
    data = gather(claim, settings)
    # The campaign's own preference model (its people's votes) judges its checkpoint; none yet: no rule.
    reward_gate = RewardGate.open(settings, claim.campaign_id)
    if settings.train_processes > 1:
        if claim.config.reward_pairs:  # start_round refuses this; a worker set apart from the API may not agree
            raise RoundStopped(RoundState.failed, "reward pairs need DPOLOOP_TRAIN_PROCESSES=1 on the train worker")
        with trained_in_processes(claim, data, settings) as trained:
            model = load_round_model(claim, settings)  # after the processes: they had the devices to themselves
            judge = round_judge(claim, model, settings)  # decided once: its warning is logged once
            metrics = judge_before_training(claim, model, settings, judge)
            if reward_gate:
                reward_gate.render_parent(model.generator())
            metrics |= trained.put_on(model)
    else:
        model = load_round_model(claim, settings)
        judge = round_judge(claim, model, settings)  # decided once: its warning is logged once
        metrics = judge_before_training(claim, model, settings, judge)
        if reward_gate:
            reward_gate.render_parent(model.generator())
        if claim.config.reward_pairs:
            add_reward_pairs(claim, model, data, settings)
        metrics |= train(claim, model, data)
    metrics |= judge_after_training(claim, model, settings, judge)
    if reward_gate:
        metrics |= reward_gate.measure(model.generator())
    return publish(claim, model, metrics | {"labeler_votes": data.labeler_votes}, data.counts, settings)
