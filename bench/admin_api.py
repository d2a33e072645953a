"""The admin console's API against a loop with a history: each call must answer in p99 <= 50 ms.

A fresh Postgres database gets a realistic history (defaults: 20 labelers, 300 prompts, 10,000 votes,
50 checkpoints in a lineage with branches, rejected and broken ones, their deployments and human
evaluations, 100 finished rounds of 400 steps each), then the real API (uvicorn, one process) answers
N sequential requests per admin call from one keep-alive client. Printed per call: p50/p95/p99 in
ms, the p99 against the baseline GET /api/v1/admin/health measured in the same run (the token's lookup,
one SELECT and a broker ping: the floor of a request that touches the database), and PASS/FAIL
against 50 ms.

Needs Postgres and Redis (as `bash scripts/test.sh` starts them):
    eval "$(bash scripts/services.sh)" && .venv/bin/python bench/admin_api.py [--requests 300]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text  # noqa: E402

from tests.conftest import create_database, drop_database  # noqa: E402  (a fresh database of its own)
from tests.helpers.stack import Service, dpoloop, free_port, service_env, wait_until  # noqa: E402

TARGET_P99_MS = 50.0
LABELERS = 20  # one of them the admin
PROMPTS = 300
EVAL_PROMPTS = 40  # the fixed evaluation set
SEEDS_PER_PROMPT = 2  # DPOLOOP_EVAL_SEEDS_PER_PROMPT's default: 80 pairs per evaluation
EVAL_VOTE_SHARE = 0.25  # of all votes, on evaluation pairs (the arena's data)
HISTORY = timedelta(days=60)
POOL_TARGET = 24  # DPOLOOP_POOL_TARGET's default: the ready pool of the serving checkpoint
PAIRINGS = ("random", "diverse", "uncertain")  # a history across strategy switches: the overview groups by it


# ---- the history: who labels, what was trained and served, what was voted ----------------------------
@dataclass
class LabelerHabits:
    id: int
    weight: float  # how much of the work this labeler does
    skill: float  # how often a decisive vote picks the better image
    tie: float
    both_bad: float
    skip: float
    median_ms: float


@dataclass
class Rows:
    """Every row to insert, per model, with explicit ids (so votes can name their comparisons)."""

    labelers: list[dict] = field(default_factory=list)
    prompts: list[dict] = field(default_factory=list)
    checkpoints: list[dict] = field(default_factory=list)
    deployments: list[dict] = field(default_factory=list)
    rounds: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    generations: list[dict] = field(default_factory=list)
    evaluations: list[dict] = field(default_factory=list)
    comparisons: list[dict] = field(default_factory=list)
    votes: list[dict] = field(default_factory=list)
    heartbeats: list[dict] = field(default_factory=list)
    matches: list[dict] = field(default_factory=list)
    served: list[tuple[datetime, int]] = field(default_factory=list)  # (from, checkpoint id), in time order

    def serving_at(self, t: datetime) -> int:
        return self.served[max(0, bisect_right([s for s, _ in self.served], t) - 1)][1]


class History:
    """Builds Rows: the lineage first (rounds, checkpoints, deployments, evaluations), then the
    comparisons and votes that fall in each checkpoint's serving time, then the rounds' curves."""

    def __init__(self, args, admin_id: int, now: datetime, seed: int = 0):
        self.args, self.admin_id, self.now = args, admin_id, now
        self.start = now - HISTORY
        self.rng = random.Random(seed)
        self.pairings = random.Random(seed + 1)  # its own stream: the rest of the history stays as before it
        self.rows = Rows()
        self.habits: list[LabelerHabits] = []
        self.voted: set[tuple[int, int]] = set()  # (comparison, labeler): one vote each

    def build(self) -> Rows:
        self.labelers()
        self.prompts()
        self.lineage()
        self.matches()
        self.number_evaluations()
        eval_votes = int(self.args.votes * EVAL_VOTE_SHARE) if self.rows.evaluations else 0
        self.train_pairs_and_votes(self.args.votes - eval_votes)
        self.eval_pairs_and_votes(eval_votes)
        self.pool()
        self.api_generations()
        self.number_votes_in_time_order()
        self.round_snapshots_and_curves()
        self.heartbeats()
        return self.rows

    # -- people and prompts
    def labelers(self) -> None:
        from core.repo.labelers import hash_token

        rng = self.rng
        for i in range(LABELERS):
            labeler_id = self.admin_id if i == 0 else self.admin_id + i
            if i:  # the admin exists already (a real token, made by the service)
                self.rows.labelers.append({"id": labeler_id, "name": f"labeler-{i:02d}", "role": "labeler",
                                           "token_hash": hash_token(uuid.uuid4().hex), "active": i % 9 != 0,
                                           "created_at": self.start + timedelta(days=rng.uniform(0, 20))})  # fmt: skip
            careless = rng.random() < 0.2  # a few click fast and agree less
            self.habits.append(LabelerHabits(
                labeler_id, weight=0.2 if i == 0 else rng.uniform(0.3, 2.0),
                skill=rng.uniform(0.55, 0.65) if careless else rng.uniform(0.72, 0.9),
                tie=rng.uniform(0.02, 0.1), both_bad=rng.uniform(0.01, 0.06), skip=rng.uniform(0.0, 0.05),
                median_ms=rng.uniform(900, 1600) if careless else rng.uniform(2500, 6000),
            ))  # fmt: skip

    def prompts(self) -> None:
        colours = ["red", "blue", "green", "yellow", "purple", "orange", "white", "black", "teal", "pink"]
        shapes = ["circle", "square", "triangle", "star", "ring", "cross"]
        places = ["on grass", "on sand", "in snow", "at night", "under water"]
        combos = [(c, s, p) for c in colours for s in shapes for p in places]
        for i, (colour, shape, place) in enumerate(combos[:PROMPTS], start=1):
            self.rows.prompts.append({"id": i, "text": f"a {colour} {shape} {place}", "source": "shipped",
                                      "active": True, "for_eval": i <= EVAL_PROMPTS,
                                      "created_at": self.start})  # fmt: skip

    # -- lineage
    def lineage(self) -> None:
        """Rounds at even intervals; a round that writes a checkpoint mostly passes the gate and is
        promoted; some fail it (rejected: a dead-end branch) or break on load (rolled back); now and
        then an admin rolls back, and the lineage branches from the older checkpoint."""
        args, rng, rows = self.args, self.rng, self.rows
        rows.served.append((self.start, 1))
        parent_of: dict[int, int | None] = {1: None}
        writers = set(rng.sample(range(args.rounds), min(args.checkpoints - 1, args.rounds)))
        active, checkpoint_id, spacing = 1, 1, (HISTORY - timedelta(days=1)) / args.rounds
        for r in range(args.rounds):
            created = self.start + spacing * (r + 0.5) + timedelta(minutes=rng.uniform(-60, 60))
            if parent_of[active] is not None and rng.random() < 0.06:
                active = parent_of[active]
                self.deploy(active, created - timedelta(hours=2), "admin", "rollback: labelers prefer the older one")
            round_row = self.round_row(r + 1, created, active)
            rows.rounds.append(round_row)
            if r not in writers:
                self.failed_round(round_row)
                continue
            checkpoint_id += 1
            parent_of[checkpoint_id] = active
            outcome = rng.choices(["promoted", "rejected", "broken"], [0.76, 0.18, 0.06])[0]
            rows.checkpoints.append(self.checkpoint_row(checkpoint_id, active, round_row, outcome))
            round_row.update(state="succeeded", checkpoint_id=checkpoint_id,
                             metrics=rows.checkpoints[-1]["metrics"])  # fmt: skip
            finished = round_row["finished_at"]
            if outcome == "rejected":
                continue
            self.deploy(checkpoint_id, finished, "gate", f"round {r + 1} passed the gate")
            if outcome == "broken":  # it failed to load on the workers: back to what served before
                self.deploy(active, finished + timedelta(minutes=20), "system",
                            f"rollback: checkpoint {checkpoint_id} is broken")  # fmt: skip
                continue
            rows.evaluations.append({"checkpoint_id": checkpoint_id,
                                     "baseline_id": active, "pairs": EVAL_PROMPTS * SEEDS_PER_PROMPT,
                                     "created_at": finished + timedelta(minutes=rng.uniform(10, 40))})  # fmt: skip
            active = checkpoint_id

    def deploy(self, checkpoint_id: int, at: datetime, by: str, reason: str) -> None:
        rows = self.rows
        rows.deployments.append({"id": len(rows.deployments) + 2, "checkpoint_id": checkpoint_id, "promoted_at": at,
                                 "promoted_by": by, "reason": reason})  # fmt: skip
        rows.served.append((at, checkpoint_id))

    def round_row(self, round_id: int, created: datetime, start_checkpoint: int) -> dict:
        from core.schemas.rounds import DPOConfig

        rng = self.rng
        by_admin = rng.random() < 0.3
        overrides = {}
        if by_admin:  # an admin's round, with settings of their own
            overrides = {"beta": rng.choice([2000.0, 5000.0]), "learning_rate": rng.choice([1e-3, 2e-3])}
        started = created + timedelta(seconds=rng.uniform(2, 30))
        finished = started + timedelta(seconds=self.args.steps * rng.uniform(1.2, 1.8) + 40)
        return {"id": round_id, "state": "failed", "active_slot": None, "trigger": "admin" if by_admin else "schedule",
                "requested_by": "admin" if by_admin else None,
                "config": DPOConfig(**overrides, steps=self.args.steps).model_dump(), "counts": {}, "metrics": {},
                "error": None, "snapshot_vote_id": None, "start_checkpoint_id": start_checkpoint,
                "reference_checkpoint_id": 1, "checkpoint_id": None, "cancel_requested": False,
                "claim_token": uuid.uuid4().hex, "attempts": 1, "heartbeat_at": finished, "created_at": created,
                "started_at": started, "finished_at": finished}  # fmt: skip

    def failed_round(self, round_row: dict) -> None:
        """A round that trained but wrote nothing: cancelled at its end, or failed while publishing."""
        if self.rng.random() < 0.3:
            round_row.update(state="cancelled", cancel_requested=True, error="cancelled by an admin")
        else:
            round_row["error"] = self.rng.choice([
                "OSError: [Errno 28] No space left on device while writing the checkpoint",
                "the worker running it was lost (silent 300 s)",
                "CUDA out of memory while the judge scored the evaluation set",
            ])  # fmt: skip

    def checkpoint_row(self, checkpoint_id: int, parent: int, round_row: dict, outcome: str) -> dict:
        rng = self.rng
        passed = outcome != "rejected"
        accuracy = rng.uniform(0.58, 0.75) if passed else rng.uniform(0.45, 0.54)
        judge_parent = rng.uniform(0.6, 0.8)
        metrics = {"held_out_pairs": rng.randint(40, 400), "held_out_implicit_accuracy": accuracy,
                   "held_out_reward_margin": rng.uniform(0.05, 0.6), "held_out_winner_drift": rng.uniform(-0.02, 0.08),
                   "final_loss": rng.uniform(0.5, 0.68), "train_seconds": rng.uniform(400, 700),
                   "judge_score": judge_parent + rng.uniform(-0.03, 0.05), "judge_score_parent": judge_parent,
                   "judge_images": 64}  # fmt: skip
        reasons = [] if passed else [f"held-out implicit accuracy {accuracy:.3f} < 0.550"]
        checks = {"finite_loss": True, "accuracy": passed, "winner_drift": True, "judge": True}
        metrics["gate"] = {"passed": passed, "checks": checks, "reasons": reasons}
        kind = "full" if rng.random() < 0.1 else "lora"
        name = f"round-{round_row['id']:04d}-{rng.getrandbits(24):06x}"
        status, reason = {"promoted": ("ready", "passed the gate"), "rejected": ("rejected", "; ".join(reasons)),
                          "broken": ("broken", "failed to load 3 times: CUDA out of memory")}[outcome]  # fmt: skip
        return {"id": checkpoint_id, "name": name, "kind": kind, "path": f"/data/checkpoints/{name}",
                "parent_id": parent, "round_id": round_row["id"], "status": status, "status_reason": reason,
                "metrics": metrics, "created_at": round_row["finished_at"]}  # fmt: skip

    def matches(self) -> None:
        """Arena matches an admin asked for between any two checkpoints: most ready (an evaluation of
        kind match holds their pairs), one still rendering, one failed. Skipped on a tree without them."""
        from core.db import models

        if not hasattr(models, "ArenaMatch"):
            return
        rng, rows = self.rng, self.rows
        compared = {frozenset((e["checkpoint_id"], e["baseline_id"])) for e in rows.evaluations}
        for n in range(max(0, len(rows.checkpoints) // 5)):
            at = self.now - (timedelta(minutes=10) if n == 0 else timedelta(days=rng.uniform(0.1, 20)))
            usable = [1] + [c["id"] for c in rows.checkpoints if c["status"] != "broken" and c["created_at"] < at]
            pair = frozenset(rng.sample(usable, 2)) if len(usable) > 1 else None
            if pair is None or pair in compared:
                continue
            compared.add(pair)
            a, b = sorted(pair, reverse=True)
            match = {"checkpoint_a_id": a, "checkpoint_b_id": b, "state": "rendering", "requested_by": "bench-admin",
                     "evaluation_id": None, "error": None, "created_at": at, "finished_at": None}  # fmt: skip
            if n == 1:
                match.update(state="failed", error=f"checkpoint {a}'s files are missing", finished_at=at)
            elif n > 1:
                evaluation = {"checkpoint_id": a, "baseline_id": b, "kind": "match", "pairs": EVAL_PROMPTS *
                              SEEDS_PER_PROMPT, "created_at": at + timedelta(minutes=40)}  # fmt: skip
                rows.evaluations.append(evaluation)
                match.update(state="ready", evaluation=evaluation, finished_at=evaluation["created_at"])
            rows.matches.append(match)

    def number_evaluations(self) -> None:
        """Ids in creation order, as the database would have given them; matches learn theirs."""
        from core.db import models

        has_kind = "kind" in models.Evaluation.__table__.c  # the column came with arena matches
        self.rows.evaluations.sort(key=lambda e: e["created_at"])
        for i, evaluation in enumerate(self.rows.evaluations, start=1):
            evaluation["id"] = i
            if has_kind:
                evaluation.setdefault("kind", "promotion")
            else:
                evaluation.pop("kind", None)
        for i, match in enumerate(sorted(self.rows.matches, key=lambda m: m["created_at"]), start=1):
            match["id"] = i
            match["evaluation_id"] = match.pop("evaluation")["id"] if "evaluation" in match else None

    # -- pairs and votes
    def generation(self, prompt_id: int, checkpoint_id: int | None, purpose: str, at: datetime, **extra) -> int:
        rows = self.rows
        generation_id = len(rows.generations) + 1
        public_id = f"{self.rng.getrandbits(128):032x}"
        rows.generations.append({
            "id": generation_id, "public_id": public_id, "prompt": rows.prompts[prompt_id - 1]["text"],
            "prompt_id": prompt_id, "seed": self.rng.randrange(2**32), "checkpoint_id": checkpoint_id,
            "requested_checkpoint_id": None, "purpose": purpose, "requested_by": None, "status": "done", "error": None,
            "params": {"negative_prompt": "", "num_inference_steps": 20, "guidance_scale": 4.0, "width": None,
                       "height": None},
            "image_path": f"{public_id}.png", "latents_path": None if purpose == "api" else f"{public_id}.npy",
            "duration_ms": self.rng.uniform(800, 2500), "created_at": at, "finished_at": at + timedelta(seconds=2),
        } | extra)  # fmt: skip
        return generation_id

    def comparison(self, prompt_id: int, a: int, b: int, kind: str, checkpoint_id: int, at: datetime,
                   evaluation_id: int | None = None) -> dict:  # fmt: skip
        row = {"id": len(self.rows.comparisons) + 1, "prompt_id": prompt_id,
               "prompt": self.rows.prompts[prompt_id - 1]["text"], "generation_a_id": a, "generation_b_id": b,
               "kind": kind, "state": "retired", "checkpoint_id": checkpoint_id, "evaluation_id": evaluation_id,
               "vote_count": 0, "leased_by": None, "leased_until": None, "created_at": at,
               "pairing": self.pairings.choice(PAIRINGS) if kind == "train" else None}  # fmt: skip
        self.rows.comparisons.append(row)
        return row

    def voters(self, k: int) -> list[LabelerHabits]:
        """k distinct labelers, busier ones more often."""
        chosen: dict[int, LabelerHabits] = {}
        while len(chosen) < k:
            habit = self.rng.choices(self.habits, [h.weight for h in self.habits])[0]
            chosen[habit.id] = habit
        return list(chosen.values())

    def vote(self, who: LabelerHabits, comparison: dict, a_is_better: bool, at: datetime) -> None:
        rng, a, b = self.rng, comparison["generation_a_id"], comparison["generation_b_id"]
        left = a if rng.random() < 0.5 else b
        draw, winner = rng.random(), None
        if draw < who.tie:
            choice = "tie"
        elif draw < who.tie + who.both_bad:
            choice = "both_bad"
        elif draw < who.tie + who.both_bad + who.skip:
            choice = "skip"
        else:
            winner = (a if a_is_better else b) if rng.random() < who.skill else (b if a_is_better else a)
            choice = "left" if winner == left else "right"
        decision_ms = None if rng.random() < 0.02 else int(rng.lognormvariate(math.log(who.median_ms), 0.6))
        self.voted.add((comparison["id"], who.id))
        self.rows.votes.append({"comparison_id": comparison["id"], "labeler_id": who.id, "choice": choice,
                                "left_generation_id": left, "winner_generation_id": winner,
                                "decision_ms": decision_ms, "created_at": min(at, self.now)})  # fmt: skip
        comparison["vote_count"] += 1
        comparison["state"] = "done"

    def vote_time(self) -> datetime:
        """Mostly spread over the history; a live last hour on top."""
        if self.rng.random() < 0.02:
            return self.now - timedelta(seconds=self.rng.uniform(60, 3600))
        return self.start + (self.now - timedelta(hours=1) - self.start) * self.rng.random()

    def train_pairs_and_votes(self, votes: int) -> None:
        """Train pairs of whatever served then; most get one vote, some two or three (agreement data)."""
        rng, made = self.rng, 0
        while made < votes:
            at = self.vote_time()
            checkpoint_id = self.rows.serving_at(at)
            prompt_id = rng.randint(EVAL_PROMPTS + 1, PROMPTS)
            created = at - timedelta(minutes=rng.uniform(1, 30))
            a, b = (self.generation(prompt_id, checkpoint_id, "pool", created) for _ in range(2))
            comparison = self.comparison(prompt_id, a, b, "train", checkpoint_id, created)
            k = min(votes - made, rng.choices([1, 2, 3], [0.65, 0.25, 0.10])[0])
            a_is_better = rng.random() < 0.5
            for j, who in enumerate(self.voters(k)):
                self.vote(who, comparison, a_is_better, at + timedelta(minutes=3 * j))
            made += k

    def eval_image(self, checkpoint_id: int, prompt_id: int, at: datetime) -> int:
        """A fresh image: each evaluation renders both sides with its own seeds."""
        return self.generation(prompt_id, checkpoint_id, "eval", at)

    def open_until(self, evaluation: dict) -> datetime:
        """A promotion's pairs are served until the next promotion retires them, a match's for a week."""
        at = evaluation["created_at"]
        if evaluation.get("kind") == "match":
            return min(self.now, at + timedelta(days=7))
        later = [e["created_at"] for e in self.rows.evaluations if e.get("kind") != "match" and e["created_at"] > at]
        return min(later, default=self.now)

    def eval_pairs_and_votes(self, votes: int) -> None:
        """Each evaluation's 80 same-seed pairs, voted while they were served; one still served keeps
        half its pairs ready. The new checkpoint is better on most evaluations, worse on a few."""
        rng, evaluations = self.rng, self.rows.evaluations
        for n, evaluation in enumerate(evaluations):
            at, until = evaluation["created_at"], self.open_until(evaluation)
            pairs = [self.comparison(p, self.eval_image(evaluation["checkpoint_id"], p, at),
                                     self.eval_image(evaluation["baseline_id"], p, at), "eval",
                                     evaluation["checkpoint_id"], at, evaluation["id"])
                     for p in range(1, EVAL_PROMPTS + 1) for _ in range(SEEDS_PER_PROMPT)]  # fmt: skip
            new_wins = rng.uniform(0.4, 0.72)
            share = votes // len(evaluations) + (n < votes % len(evaluations))
            still_open = until == self.now
            for comparison in pairs[: len(pairs) // 2] if still_open else ():
                comparison["state"] = "ready"  # still in the pool
            voted = pairs[len(pairs) // 2 :] if still_open else pairs
            better = {c["id"]: rng.random() < new_wins for c in voted}
            share = min(share, len(voted) * LABELERS // 4)  # room to spare: distinct voters stay easy to draw
            placed = 0
            while placed < share:  # a pair its drawn voters all voted on already is drawn again
                comparison = rng.choice(voted)
                who = next((h for h in self.voters(3) if (comparison["id"], h.id) not in self.voted), None)
                if who is not None:
                    self.vote(who, comparison, better[comparison["id"]], at + (until - at) * rng.random())
                    placed += 1

    def pool(self) -> None:
        """The serving checkpoint's ready pool, a few pairs held by labelers, and retired unvoted pairs."""
        rng, active = self.rng, self.rows.serving_at(self.now)
        for i in range(POOL_TARGET + 200):
            ready = i < POOL_TARGET
            at = self.now - timedelta(minutes=rng.uniform(0, 10)) if ready else self.vote_time()
            checkpoint_id = active if ready else self.rows.serving_at(at)
            prompt_id = rng.randint(EVAL_PROMPTS + 1, PROMPTS)
            a, b = (self.generation(prompt_id, checkpoint_id, "pool", at) for _ in range(2))
            comparison = self.comparison(prompt_id, a, b, "train", checkpoint_id, at)
            if ready:
                comparison["state"] = "ready"
                if i < 4:
                    comparison["leased_by"] = self.habits[1 + i].id
                    comparison["leased_until"] = self.now + timedelta(minutes=2)

    def api_generations(self) -> None:
        """Clients' own images, a few failed (the overview lists the last failures)."""
        for _ in range(400):
            at = self.vote_time()
            failed = self.rng.random() < 0.03
            self.generation(self.rng.randint(1, PROMPTS), self.rows.serving_at(at), "api", at,
                            requested_by=self.rng.choice(self.habits).id, status="failed" if failed else "done",
                            error="CUDA out of memory" if failed else None)  # fmt: skip

    def number_votes_in_time_order(self) -> None:
        self.rows.votes.sort(key=lambda v: v["created_at"])
        for i, vote in enumerate(self.rows.votes, start=1):
            vote["id"] = i

    # -- the rounds' data and curves
    def round_snapshots_and_curves(self) -> None:
        times = [v["created_at"] for v in self.rows.votes]
        for round_row in self.rows.rounds:
            snapshot = bisect_right(times, round_row["started_at"])
            decisive = int(snapshot * 0.62)
            round_row["snapshot_vote_id"] = snapshot
            train = int(decisive * 0.9)
            round_row["counts"] = {"votes": snapshot, "votes_left": decisive // 2,
                                   "votes_right": decisive - decisive // 2, "votes_tie": snapshot // 16,
                                   "comparisons": int(snapshot * 0.7), "pairs": decisive, "train_pairs": train,
                                   "held_out_pairs": decisive - train, "missing_latents": 0,
                                   "pairs_beyond_max": max(0, decisive - 4096)}  # fmt: skip
            self.curve(round_row)

    def curve(self, round_row: dict) -> None:
        """Per step what worker/dpo/trainer.py reports (DPOTerms.metrics plus step, lr, grad_norm),
        and the held-out metrics every eval_every steps."""
        rng, config = self.rng, round_row["config"]
        steps, eval_every, warmup = config["steps"], config["eval_every"], config["warmup_steps"]
        for step in range(1, steps + 1):
            progress = step / steps
            err_l = 0.12 + rng.gauss(0, 0.01)
            metrics = {"loss": 0.6931 - 0.15 * progress + rng.gauss(0, 0.04),
                       "implicit_accuracy": min(1.0, max(0.0, 0.5 + 0.2 * progress + rng.gauss(0, 0.1))),
                       "reward_margin": 0.4 * progress + rng.gauss(0, 0.15), "model_err_w": err_l - 0.004 * progress,
                       "model_err_l": err_l + 0.004 * progress, "ref_err_w": err_l, "ref_err_l": err_l,
                       "step": step, "grad_norm": abs(rng.gauss(0.6, 0.2)),
                       "lr": config["learning_rate"] * min(1.0, (step + 1) / max(1, warmup))}  # fmt: skip
            if step % eval_every == 0 or step == steps:
                metrics |= {"held_out_pairs": 120, "held_out_implicit_accuracy": 0.5 + 0.15 * progress,
                            "held_out_reward_margin": 0.3 * progress,
                            "held_out_winner_drift": rng.uniform(-0.02, 0.05)}  # fmt: skip
            at = round_row["started_at"] + (round_row["finished_at"] - round_row["started_at"]) * progress
            self.rows.steps.append({"round_id": round_row["id"], "step": step, "metrics": metrics, "created_at": at})

    def heartbeats(self) -> None:
        active, generate = self.rows.serving_at(self.now), "generate,pool,housekeeping"
        self.rows.heartbeats = [
            {"name": "generate@gpu-0", "queues": generate, "checkpoint_id": active, "last_seen": self.now},
            {"name": "train@gpu-1", "queues": "train", "checkpoint_id": None, "last_seen": self.now},
            {"name": "generate@old-box", "queues": generate, "checkpoint_id": 3, "last_seen": self.now - HISTORY / 20},
        ]


def seed(args) -> tuple[str, int]:
    """Fill the migrated database; returns the admin's token and a round id to follow."""
    from core.db import models as m
    from core.db.session import engine_for, session_scope
    from core.services.labelers import create_labeler
    from core.settings import get_settings

    admin, token = create_labeler("bench-admin", admin=True)  # through the service: a real, working token
    now = datetime.now(UTC)
    rows = History(args, admin.id, now).build()
    tables = [(m.Labeler, rows.labelers), (m.Prompt, rows.prompts), (m.Checkpoint, rows.checkpoints),
              (m.Deployment, rows.deployments), (m.TrainingRound, rows.rounds), (m.RoundStep, rows.steps),
              (m.Generation, rows.generations), (m.Evaluation, rows.evaluations), (m.Comparison, rows.comparisons),
              (m.Vote, rows.votes), (m.WorkerHeartbeat, rows.heartbeats)]  # fmt: skip
    if rows.matches:
        tables.append((m.ArenaMatch, rows.matches))
    with session_scope() as session:
        session.execute(text("UPDATE checkpoints SET created_at = :t WHERE id = 1"), {"t": now - HISTORY})
        session.execute(text("UPDATE deployments SET promoted_at = :t WHERE id = 1"), {"t": now - HISTORY})
        for model, batch in tables:
            for start in range(0, len(batch), 5000):
                session.execute(insert(model), batch[start : start + 5000])
        for table in ("labelers", "prompts", "checkpoints", "deployments", "training_rounds", "generations",
                      "evaluations", "comparisons", "votes", *(["arena_matches"] if rows.matches else [])):  # fmt: skip
            # Explicit ids: move each sequence past them, as if the rows had been made one by one.
            sequence = f"pg_get_serial_sequence('{table}', 'id')"
            session.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM {table}))"))
    # Settle the tables as a long-lived install's are: planner statistics, visibility maps, and no
    # insert-triggered autovacuum landing in the middle of the timings.
    with engine_for(get_settings().sqlalchemy_url).connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    print("seeded: the admin, " + ", ".join(f"{len(batch)} {model.__tablename__}" for model, batch in tables))
    succeeded = [r["id"] for r in rows.rounds if r["state"] == "succeeded"]
    return token, (succeeded or [rows.rounds[-1]["id"]])[-1]


# ---- timing ----------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


@dataclass
class Timing:
    name: str
    ms: list[float]
    bytes: int

    def p(self, q: float) -> float:
        return percentile(self.ms, q)


def time_endpoint(client, path: str, requests: int, warmup: int, budget_s: float) -> Timing | int:
    """Sequential requests on one keep-alive connection; the status code when the first answer is
    not a 200 (404/405: a route that is not there yet)."""
    response = client.get(path)
    if response.status_code != 200:
        return response.status_code
    for _ in range(warmup):
        client.get(path)
    ms, deadline = [], time.perf_counter() + budget_s
    while len(ms) < requests and time.perf_counter() < deadline:
        started = time.perf_counter()
        response = client.get(path)
        ms.append((time.perf_counter() - started) * 1e3)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
    return Timing(path, ms, len(response.content))


def report(baseline: Timing, timings: list[tuple[str, Timing | int]]) -> list[str]:
    """Print the table; returns the calls over the target."""
    print(f"{'call':46} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'p99/health':>10} "
          f"{'KiB':>7}  p99<=50ms")  # fmt: skip
    over = []
    for label, timing in [("GET /api/v1/admin/health (baseline)", baseline), *timings]:
        if isinstance(timing, int):
            why = "not there yet" if timing in (404, 405) else "not measured"
            print(f"{label:46} skipped (HTTP {timing}: {why})")
            continue
        p99 = timing.p(0.99)
        verdict = "" if timing is baseline else ("PASS" if p99 <= TARGET_P99_MS else "FAIL")
        if verdict == "FAIL":
            over.append(label)
        print(f"{label:46} {len(timing.ms):>4} {timing.p(0.5):>8.1f} {timing.p(0.95):>8.1f} {p99:>8.1f} "
              f"{max(timing.ms):>8.1f} {p99 / baseline.p(0.99):>9.1f}× {timing.bytes / 1024:>7.1f}  "
              f"{verdict}")  # fmt: skip
    return over


def measure(base: str, token: str, round_id: int, args) -> None:
    import httpx

    tail = max(0, args.steps - 10)
    calls = ["/api/v1/admin/overview", "/api/v1/admin/pairing", "/api/v1/admin/rounds?limit=50",
             f"/api/v1/admin/rounds/{round_id}", f"/api/v1/admin/rounds/{round_id}?after_step={tail}",
             "/api/v1/checkpoints", "/api/v1/admin/evaluations", "/api/v1/admin/arena", "/api/v1/admin/labelers/stats",
             "/api/v1/admin/labelers", "/api/v1/admin/deployments", "/api/v1/admin/prompts",
             "/api/v1/admin/arena/matches"]  # fmt: skip
    load_at_start = os.getloadavg()[0]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
        baseline = time_endpoint(client, "/api/v1/admin/health", args.requests, args.warmup, args.budget)
        assert isinstance(baseline, Timing), f"GET /api/v1/admin/health answered {baseline}"
        timings = []
        for path in [c for c in calls if not args.only or any(o in c for o in args.only)]:
            timing = time_endpoint(client, path, args.requests, args.warmup, args.budget)
            timings.append((f"GET {path}", timing))
            done = f"HTTP {timing}, skipped" if isinstance(timing, int) else f"{len(timing.ms)} requests"
            print(f"  {path}: {done}", flush=True)
    print(f"\n== admin API, Postgres on loopback, 1 uvicorn process, {args.votes} votes, {args.checkpoints} "
          f"checkpoints, {args.rounds} rounds × {args.steps} steps; {args.requests} sequential requests a call "
          f"(at most {args.budget:.0f} s) ==")  # fmt: skip
    print(f"load average {load_at_start:.2f} at the start, {os.getloadavg()[0]:.2f} at the end (2 cores: above 1, "
          "something else competes for the CPU)")  # fmt: skip
    over = report(baseline, timings)
    print(f"\nover {TARGET_P99_MS:.0f} ms p99: {', '.join(over) if over else 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="timed requests per call")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per call first")
    parser.add_argument("--budget", type=float, default=60, help="seconds at most per call (slow ones get fewer)")
    parser.add_argument("--votes", type=int, default=10_000)
    parser.add_argument("--checkpoints", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--steps", type=int, default=400, help="steps per round")
    parser.add_argument("--only", action="append", help="time only the calls whose path contains this (repeatable)")
    args = parser.parse_args()
    admin_url = os.environ.get("DPOLOOP_TEST_POSTGRES_URL")
    redis_url = os.environ.get("DPOLOOP_TEST_REDIS_URL")
    if not admin_url or not redis_url:
        sys.exit('start the services first: eval "$(bash scripts/services.sh)"')

    database_url = create_database(admin_url)
    tmp = Path(tempfile.mkdtemp(prefix="dpoloop-bench-admin-"))
    settings = {"database_url": database_url, "broker_url": f"{redis_url}/13", "data_dir": tmp / "data"}
    for key, value in settings.items():  # before anything reads the settings (cached on first use)
        os.environ[f"DPOLOOP_{key.upper()}"] = str(value)
    api = None
    try:
        from core.db.migrate import upgrade

        upgrade()
        started = time.perf_counter()
        token, round_id = seed(args)
        print(f"seeding took {time.perf_counter() - started:.1f} s", flush=True)
        port = free_port()
        api = Service("api", dpoloop("api"), service_env(**settings, port=port), tmp)
        base = f"http://127.0.0.1:{port}"
        import httpx

        wait_until(lambda: httpx.get(f"{base}/api/v1/health").status_code == 200, 60, "the API", proc=api)
        measure(base, token, round_id, args)
    finally:
        if api is not None:
            api.stop()
        drop_database(admin_url, database_url)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
