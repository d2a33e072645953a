"""Candidates, on SQLite and Postgres: a round's checkpoint that passed the gate is judged blind by the
labelers against what serves (core/verdict.py) and serves only when their counted votes say it is
better; losing, the cap, a newer candidate, an admin's word or a change of what serves end it."""

import threading

import pytest
from sqlalchemy import select, update

from core.db.models import Candidacy, Checkpoint, Comparison, Deployment, Evaluation, Generation, Vote
from core.db.session import session_scope
from core.repo.checkpoints import active_checkpoint_id, checkpoint_folder
from core.repo.comparisons import record_vote
from core.services import candidates, checkpoints, labeling, quality, rounds
from core.settings import get_settings
from core.states import (
    CandidateState,
    CheckpointStatus,
    Choice,
    ComparisonKind,
    ComparisonState,
    EvaluationKind,
    RoundTrigger,
)
from core.verdict import VerdictRule, judge
from tests.conftest import apply_settings
from tests.helpers.data import make_comparisons, make_labeler, sees_a_on_the_left, serve
from tests.services.test_checkpoints_service import published

WIN, LOSS, TIE = "win", "loss", "tie"


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request, monkeypatch):
    """Deciding once, counting and serving are SQL: each database answers them."""
    request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_settings")
    apply_settings(monkeypatch, votes_per_comparison=10)  # several labelers vote on one eval pair
    return get_settings()


def candidacy_of(checkpoint_id: int) -> Candidacy:
    with session_scope() as session:
        return session.scalar(select(Candidacy).where(Candidacy.checkpoint_id == checkpoint_id))


def eval_pairs(candidate: int, serving: int, count: int) -> list[int]:
    """The candidacy's evaluation as the generate worker writes it: one Evaluation of the candidate against
    what serves, `count` eval comparisons with image A the candidate's and image B the serving one's."""
    with session_scope() as session:
        evaluation = Evaluation(
            checkpoint_id=candidate, baseline_id=serving, pairs=count, kind=EvaluationKind.promotion
        )
        session.add(evaluation)
        session.flush()
        evaluation_id = evaluation.id
    ids = make_comparisons(count, checkpoint_id=candidate, seed=evaluation_id)
    with session_scope() as session:
        session.execute(update(Comparison).where(Comparison.id.in_(ids))
                        .values(kind=ComparisonKind.eval, evaluation_id=evaluation_id))  # fmt: skip
        b_sides = select(Comparison.generation_b_id).where(Comparison.id.in_(ids)).scalar_subquery()
        session.execute(update(Generation).where(Generation.id.in_(b_sides)).values(checkpoint_id=serving))
    return ids


def cast(comparison_id: int, labeler_id: int, outcome: str) -> None:
    """A labeler's vote through the labeling service (the pair served to them first), from the candidate's side."""
    a_left = sees_a_on_the_left(comparison_id, labeler_id)
    choice = {WIN: Choice.left if a_left else Choice.right, LOSS: Choice.right if a_left else Choice.left,
              TIE: Choice.tie}[outcome]  # fmt: skip
    serve(comparison_id, labeler_id)
    labeling.vote(comparison_id, labeler_id, choice, 1500, get_settings())


@pytest.fixture
def candidate(any_db, tmp_path) -> int:
    """A round's checkpoint that passed the gate in labelers mode (the default)."""
    return published(tmp_path, passed=True, promotion="labelers")


def test_a_checkpoint_that_passes_the_gate_is_a_candidate_in_labelers_mode_and_serves_in_gate_mode(any_db, tmp_path):
    assert get_settings().promotion == "labelers"  # the default
    judged = published(tmp_path, passed=True, promotion="labelers")
    row = candidacy_of(judged)
    assert (row.state, row.serving_id, row.decided_at) == (CandidateState.judging, 1, None)
    assert checkpoints.active_ref().id == 1 and checkpoints.registry(False).candidacies[judged].state == "judging"
    failed = published(tmp_path, passed=False, promotion="labelers")
    assert candidacy_of(failed) is None  # a gate-failed checkpoint is no candidate
    served = published(tmp_path, passed=True, promotion="gate")
    assert checkpoints.active_ref().id == served and candidacy_of(served) is None
    # what serves changed under the judged candidacy: the backstop review ends it undecided
    assert candidates.review(get_settings()) == CandidateState.undecided
    assert "what serves changed" in candidacy_of(judged).reason and candidacy_of(judged).decided_by == "system"


def test_counted_votes_promote_the_candidate_as_soon_as_the_verdict_says(candidate):
    pairs = eval_pairs(candidate, 1, 30)
    person, other = make_labeler("person")[0], make_labeler("other")[0]
    robot, excluded = make_labeler("ai-scenes", ai=True)[0], make_labeler("excluded")[0]
    quality.set_override(excluded, quality.EXCLUDED)
    stream = [WIN, WIN, LOSS, WIN, TIE, WIN, WIN, WIN, LOSS, WIN, WIN, WIN, WIN, WIN, WIN, WIN, WIN, WIN, WIN, WIN]
    rule = VerdictRule.from_settings(get_settings())
    decides_at = next(n for n in range(1, len(stream) + 1) if judge(stream[:n], rule).state != "judging")
    assert judge(stream[:decides_at], rule).state == "promoted"
    for n, (pair, outcome) in enumerate(zip(pairs, stream, strict=False), start=1):
        for nobody in (robot, excluded):  # they vote against it first: their votes move nothing
            cast(pair, nobody, LOSS)
        cast(pair, person if n % 2 else other, outcome)
        row, expected = candidacy_of(candidate), judge(stream[:n], rule)
        assert (row.wins, row.losses, row.ties) == (expected.wins, expected.losses, expected.ties)
        if n < decides_at:
            assert row.state == "judging" and row.bounds == list(expected.bounds) and row.votes_needed_estimate
            assert checkpoints.active_ref().id == 1
        else:
            break
    assert (row.state, row.decided_by, row.votes_needed_estimate) == ("promoted", "labelers", None)
    assert "found it better" in row.reason and row.decided_at is not None
    assert checkpoints.active_ref().id == candidate  # the hot swap: one deployment row, by the labelers
    assert checkpoints.deployments()[0].promoted_by == "labelers"
    with session_scope() as session:  # its open eval pairs left the pool
        states = set(session.scalars(select(Comparison.state).where(Comparison.id.in_(pairs[decides_at:]))))
    assert states == {ComparisonState.retired}
    with pytest.raises(labeling.NotOpen):  # a pair on someone's screen takes no vote after the decision
        cast(pairs[decides_at], person, LOSS)
    with session_scope() as session:  # votes that got in anyway (a pair served and voted on meanwhile) ...
        session.execute(update(Comparison).where(Comparison.id.in_(pairs[decides_at:])).values(state="ready"))
        for pair in pairs[decides_at : decides_at + 6]:
            serve_and_record(session, pair, other, LOSS)
    assert candidates.review(get_settings()) is None  # ... change nothing: the decision is final
    assert (candidacy_of(candidate).wins, candidacy_of(candidate).losses) == (row.wins, row.losses)


def serve_and_record(session, pair: int, labeler_id: int, outcome: str) -> None:
    a_left = sees_a_on_the_left(pair, labeler_id)
    choice = Choice.left if (outcome == WIN) == a_left else Choice.right
    session.execute(update(Comparison).where(Comparison.id == pair).values(leased_by=labeler_id))
    record_vote(session, pair, labeler_id, choice, 1500, 10)


def test_a_losing_stream_rejects_the_candidate_and_it_never_serves(candidate):
    pairs = eval_pairs(candidate, 1, 12)
    person = make_labeler("person")[0]
    for pair in pairs[:5]:
        cast(pair, person, LOSS)
    assert candidacy_of(candidate).state == "judging"
    cast(pairs[5], person, LOSS)  # six straight losses: the rule rejects
    row = candidacy_of(candidate)
    assert (row.state, row.decided_by, row.losses) == ("rejected", "labelers", 6)
    with session_scope() as session:
        checkpoint = session.get(Checkpoint, candidate)
        assert checkpoint.status == CheckpointStatus.rejected and "not better" in checkpoint.status_reason
        assert session.scalar(select(Deployment.id).where(Deployment.checkpoint_id == candidate)) is None
        assert candidates.generation_refusal(session, candidate) is not None
        ready = Comparison.state == ComparisonState.ready
        assert list(session.scalars(select(Comparison.id).where(Comparison.id.in_(pairs), ready))) == []
    assert checkpoints.active_ref().id == 1
    checkpoints.promote(candidate, by="root", reason="I know better")  # an admin may still serve it by hand
    with session_scope() as session:
        assert candidates.generation_refusal(session, candidate) is None
    assert candidacy_of(candidate).state == "rejected"  # the labelers' verdict stays on record


def test_the_vote_cap_ends_the_candidacy_undecided(candidate, monkeypatch):
    apply_settings(monkeypatch, verdict_max_votes=6)
    pairs = eval_pairs(candidate, 1, 8)
    person = make_labeler("person")[0]
    for pair, outcome in zip(pairs, [WIN, LOSS, WIN, LOSS, WIN, LOSS], strict=False):
        cast(pair, person, outcome)
    row = candidacy_of(candidate)
    assert (row.state, row.decided_by, row.wins, row.losses) == ("undecided", "labelers", 3, 3)
    assert "within 6 votes" in row.reason and checkpoints.active_ref().id == 1


def test_a_newer_candidate_supersedes_the_judged_one(candidate, tmp_path):
    pairs = eval_pairs(candidate, 1, 3)
    newer = published(tmp_path, passed=True, promotion="labelers")
    old = candidacy_of(candidate)
    assert (old.state, old.decided_by, old.reason) == ("undecided", "system", f"superseded by checkpoint {newer}")
    assert candidacy_of(newer).state == "judging" and checkpoints.active_ref().id == 1
    with session_scope() as session:
        assert set(session.scalars(select(Comparison.state).where(Comparison.id.in_(pairs)))) == {"retired"}


def test_an_admin_promotes_or_rejects_the_candidate_and_other_promotions_end_it(candidate, tmp_path):
    checkpoints.promote(candidate, by="root", reason="looks right")
    row = candidacy_of(candidate)
    assert (row.state, row.decided_by) == ("promoted", "root") and checkpoints.active_ref().id == candidate

    second = published(tmp_path, passed=True, promotion="labelers")
    assert candidacy_of(second).serving_id == candidate  # judged against what serves now
    checkpoints.promote(1, by="root", reason="roll back")  # what it was judged against no longer serves
    row = candidacy_of(second)
    assert (row.state, row.decided_by) == ("undecided", "root") and "what serves changed" in row.reason
    assert checkpoints.active_ref().id == 1

    third = published(tmp_path, passed=True, promotion="labelers")
    with pytest.raises(checkpoints.NotJudged, match="not a candidate under judgement"):
        checkpoints.reject(1, by="root")  # never a candidate
    with pytest.raises(checkpoints.NotJudged, match="ended undecided"):
        checkpoints.reject(second, by="root")
    with pytest.raises(LookupError):
        checkpoints.reject(999, by="root")
    checkpoints.reject(third, by="root", reason="artifacts")
    row = candidacy_of(third)
    assert (row.state, row.decided_by, row.reason) == ("rejected", "root", "rejected by root: artifacts")
    assert checkpoints.active_ref().id == 1


def test_a_round_started_while_a_candidate_is_judged_starts_from_what_serves(candidate, outbox):
    assert candidacy_of(candidate).state == "judging"
    row = rounds.start_round(get_settings(), RoundTrigger.admin)
    claim = rounds.claim_round(row.id, get_settings())
    assert claim.start.id == 1 and claim.reference.id == 1  # not the candidate


def test_a_failed_review_never_loses_or_fails_the_vote(candidate, monkeypatch, caplog):
    pair = eval_pairs(candidate, 1, 1)[0]
    person = make_labeler("person")[0]

    def broken(settings):
        raise RuntimeError("the database went away mid-review")

    with monkeypatch.context() as patched:
        patched.setattr(candidates, "review", broken)  # a fault injected into the review after the vote
        cast(pair, person, WIN)
    with session_scope() as session:
        assert session.scalar(select(Vote.choice).where(Vote.comparison_id == pair)) is not None
    assert "the periodic review retries" in caplog.text
    assert candidates.review(get_settings()) == "judging" and candidacy_of(candidate).wins == 1


def test_two_reviews_at_once_apply_the_decision_once(candidate):
    pairs = eval_pairs(candidate, 1, 10)
    person = make_labeler("person")[0]
    with session_scope() as session:  # recorded without the review after each vote: it is due now
        for pair in pairs:
            serve_and_record(session, pair, person, WIN)
    barrier, results = threading.Barrier(4), []

    def review() -> None:
        barrier.wait()
        results.append(candidates.review(get_settings()))

    threads = [threading.Thread(target=review) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, results)).count("promoted") == 1, results
    with session_scope() as session:
        assert session.scalars(select(Deployment.promoted_by).where(Deployment.checkpoint_id == candidate)).all() == [
            "labelers"
        ]
    assert active_checkpoint_id_now() == candidate


def active_checkpoint_id_now() -> int:
    with session_scope() as session:
        return active_checkpoint_id(session)


def test_a_pinned_client_generation_never_names_the_judged_candidate(candidate):
    from core.schemas.generation import GenerationRequest
    from core.services import generations

    admin = make_labeler("root", admin=True)[0]
    with session_scope() as session:
        from core.db.models import Labeler

        root = session.get(Labeler, admin)
    with pytest.raises(generations.UnusableCheckpoint, match="under the labelers' judgement"):
        generations.request_generation(GenerationRequest(prompt="a red circle", checkpoint_id=candidate), root,
                                       get_settings())  # fmt: skip


def test_the_cli_lists_the_candidacy_and_rejects_the_candidate(candidate):
    from typer.testing import CliRunner

    from cli.main import cli

    listed = CliRunner().invoke(cli, ["checkpoints", "list"]).output  # what an admin reads in a terminal
    assert "candidate judging (0-0-0 vs 1)" in listed
    refused = CliRunner().invoke(cli, ["checkpoints", "reject", "1"])
    assert refused.exit_code == 1 and "not a candidate under judgement" in refused.output
    assert CliRunner().invoke(cli, ["checkpoints", "reject", str(candidate), "--reason", "soft"]).exit_code == 0
    assert (candidacy_of(candidate).state, candidacy_of(candidate).reason) == ("rejected", "rejected by cli: soft")


def test_a_candidate_that_cannot_serve_ends_undecided(candidate, tmp_path):
    pairs = eval_pairs(candidate, 1, 10)
    with session_scope() as session:
        folder = checkpoint_folder(session.get(Checkpoint, candidate))
    (folder / "pytorch_lora_weights.safetensors").unlink()  # its files went missing while it was judged
    person = make_labeler("person")[0]
    for pair in pairs[:9]:  # nine straight wins: the rule promotes
        cast(pair, person, WIN)
    row = candidacy_of(candidate)
    assert (row.state, row.decided_by, row.wins) == ("undecided", "system", 9)  # the verdict was "better"
    assert "found it better, but it cannot serve" in row.reason and checkpoints.active_ref().id == 1

    second = published(tmp_path, passed=True, promotion="labelers")
    checkpoints.mark_broken(second, "failed to load 3 times: MemoryError")  # the evaluation's renderer gave up on it
    assert candidates.review(get_settings()) == CandidateState.undecided
    assert "it cannot serve: failed to load" in candidacy_of(second).reason
