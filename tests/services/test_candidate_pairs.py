"""A judging candidate's evaluation pairs are served as the serving checkpoint's are, on SQLite and
Postgres: to people in good standing before train pairs (the candidate serves nothing else, so they
would otherwise never be shown), never to AI labelers, and no longer once the candidacy has ended."""

from core.db.models import Candidacy
from core.db.session import session_scope
from core.services import labeling
from core.settings import get_settings
from core.states import CandidateState, EvaluationKind
from tests.api.test_evaluations_api import new_checkpoint
from tests.helpers.data import make_comparisons, make_labeler
from tests.services import test_people_measure
from tests.services.test_people_measure import measured

any_db = test_people_measure.any_db  # the fixture: SQLite, then Postgres


def served_to(labeler_id: int, count: int) -> set[int]:
    served, handles = [], []
    for _ in range(count):  # the pair on screen asked away (by its handle) each time, as the UI does to prefetch
        pair = labeling.next_comparison(labeler_id, get_settings(), exclude=handles)
        served.append(pair.id)
        handles.append(pair.handle)
    return set(served)


def test_a_judging_candidates_pairs_go_to_people_in_good_standing_before_train_pairs(any_db, tmp_path):
    candidate = new_checkpoint(tmp_path, "candidate")  # what serves is the base
    with session_scope() as session:
        row = Candidacy(checkpoint_id=candidate, serving_id=1, state=CandidateState.judging)
        session.add(row)
        session.flush()
        candidacy_id = row.id
    eval_ids = measured(candidate, 1, 3, EvaluationKind.promotion)
    train_ids = make_comparisons(6, checkpoint_id=1, seed=7)
    person, robot = make_labeler("person")[0], make_labeler("ai-scenes", ai=True)[0]

    assert served_to(robot, 3) <= set(train_ids)  # an AI labeler: train pairs only
    assert served_to(person, 3) == set(eval_ids)  # a person: the candidate's pairs first

    with session_scope() as session:  # the candidacy ends: its pairs measure nothing any more
        session.get(Candidacy, candidacy_id).state = CandidateState.rejected
    assert served_to(make_labeler("late")[0], 3) <= set(train_ids)
