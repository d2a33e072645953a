"""Blends of campaigns' adapters, on SQLite and Postgres: a request names campaigns at weights and the
image is made by what serves each when it runs; the install's default blend is what a request naming
no campaign gets (default's serving checkpoint alone until an admin sets one); a full fine-tune, an
unknown or archived campaign, or weights out of range are refused with the reason."""

import itertools

import pytest
from pydantic import ValidationError
from sqlalchemy import update

from core.db.models import Checkpoint, Generation
from core.db.session import session_scope
from core.refs import Blend, CheckpointRef
from core.repo.checkpoints import promote
from core.schemas.generation import GenerationRequest
from core.services import blends, campaigns, generations, labelers
from core.states import BASE_CHECKPOINT_ID, CheckpointKind, GenerationStatus
from tests.api.test_evaluations_api import new_checkpoint
from tests.services import test_people_measure

any_db = test_people_measure.any_db  # the fixture: SQLite, then Postgres
CLIENTS = itertools.count()  # a fresh labeler name for each request


def adapter_of(tmp_path, campaign: str, kind: str = "lora") -> int:
    """A checkpoint of the campaign's lineage, promoted to serve it."""
    if campaign not in {c.name for c in campaigns.list_campaigns()}:
        campaigns.create(campaign, "", True, "test")
    checkpoint_id = new_checkpoint(tmp_path, f"{campaign}-{kind}")
    if kind == CheckpointKind.full:  # what promote() checks is there
        (tmp_path / f"{campaign}-{kind}" / "unet").mkdir()
        (tmp_path / f"{campaign}-{kind}" / "unet" / "config.json").write_text("{}")
    with session_scope() as session:
        campaign_id = campaigns.by_name(session, campaign).id
        session.execute(update(Checkpoint).where(Checkpoint.id == checkpoint_id)
                        .values(campaign_id=campaign_id, kind=kind))  # fmt: skip
    with session_scope() as session:
        promote(session, checkpoint_id, by="test")
    return checkpoint_id


def ref(checkpoint_id: int) -> CheckpointRef:
    with session_scope() as session:
        row = session.get(Checkpoint, checkpoint_id)
        return CheckpointRef(row.id, row.kind, row.path)


def requested(_db, **body) -> Generation:
    from core.settings import get_settings

    client, _ = labelers.create_labeler(f"client-{next(CLIENTS)}")
    return generations.request_generation(GenerationRequest(prompt="a red circle", **body), client, get_settings())


def test_a_blend_is_made_by_what_serves_each_campaign_when_it_runs(any_db, outbox, tmp_path):
    hands = adapter_of(tmp_path, "hands")
    campaigns.create("sky", "", True, "test")  # serves the base: adds nothing to a blend
    asked = requested(any_db, adapters={"hands": 0.5, "sky": 0.5})
    assert asked.requested_adapters == {"hands": 0.5, "sky": 0.5}
    assert generations.claim_generation(asked.id).checkpoint == Blend(((ref(hands), 0.5),))

    sky = adapter_of(tmp_path, "sky")  # promoted after the request: the image gets it
    later = requested(any_db, adapters={"hands": 0.5, "sky": 0.5})
    job = generations.claim_generation(later.id)
    assert job.checkpoint == Blend(((ref(hands), 0.5), (ref(sky), 0.5)))
    assert job.blend == {str(hands): 0.5, str(sky): 0.5}
    generations.finish_generations([later.id], None, 12.0, blend=job.blend)
    with session_scope() as session:
        done = session.get(Generation, later.id)
        assert (done.status, done.checkpoint_id, done.blend) == (GenerationStatus.done, None, job.blend)

    whole = generations.claim_generation(requested(any_db, adapters={"hands": 1}).id)
    assert whole.checkpoint == ref(hands) and whole.blend is None  # one checkpoint at full weight: as it is
    base = generations.claim_generation(requested(any_db, adapters={"default": 0.3}).id)
    assert base.checkpoint.id == BASE_CHECKPOINT_ID  # default serves the base: a blend of nothing


def test_the_default_blend_is_what_a_request_naming_no_campaign_gets(any_db, outbox, tmp_path):
    assert blends.read_default() == {"default": 1.0}
    assert requested(any_db).requested_adapters is None  # what serves default when it runs, as before blends
    adapter_of(tmp_path, "hands")
    assert blends.set_default({"default": 0.5, "hands": 0.5}) == {"default": 0.5, "hands": 0.5}
    assert requested(any_db).requested_adapters == {"default": 0.5, "hands": 0.5}
    assert requested(any_db, campaign="default").requested_adapters is None  # naming a campaign: just it
    assert requested(any_db, adapters={"hands": 2.0}).requested_adapters == {"hands": 2.0}
    assert campaigns.get("hands").blend_weight == 0.5

    assert blends.set_default({"hands": 1}) == {"hands": 1.0}  # default not named: it leaves the blend
    campaigns.archive("hands")
    assert blends.read_default() == {"default": 1.0}  # nothing left: default's serving checkpoint again
    assert requested(any_db).requested_adapters is None

    for name in ("c1", "c2", "c3", "c4"):
        campaigns.create(name, "", True, "test")
    five = {name: 0.2 for name in ("default", "c1", "c2", "c3", "c4")}
    with pytest.raises(blends.UnusableBlend, match="hold at most 4 adapters"):  # DPOLOOP_ADAPTERS_HELD
        requested(any_db, adapters=five)
    for bad, refusal in (({"nope": 1}, blends.UnusableBlend), ({"hands": 1}, blends.UnusableBlend),
                         (five, blends.UnusableBlend), ({"default": 3}, ValueError), ({"default": 0}, ValueError),
                         ({}, ValueError)):  # fmt: skip
        with pytest.raises(refusal):
            blends.set_default(bad)
    assert blends.read_default() == {"default": 1.0}


def test_a_full_fine_tune_cannot_be_blended(any_db, outbox, tmp_path):
    adapter_of(tmp_path, "hands")
    blends.set_default({"default": 0.5, "hands": 0.5})
    queued = requested(any_db, adapters={"default": 0.5, "hands": 0.5})
    full = adapter_of(tmp_path, "default", kind=CheckpointKind.full)
    with pytest.raises(blends.UnusableBlend, match="full fine-tune"):
        requested(any_db, adapters={"default": 0.5, "hands": 0.5})
    assert requested(any_db).requested_adapters is None  # the default blend cannot be made: default's checkpoint
    assert generations.claim_generation(queued.id) is None  # queued before the promotion: failed, with why
    with session_scope() as session:
        row = session.get(Generation, queued.id)
        assert row.status == GenerationStatus.failed and "full fine-tune" in row.error and str(full) in row.error
    campaigns.archive("hands")
    with pytest.raises(blends.UnusableBlend, match="archived"):
        requested(any_db, adapters={"hands": 1})
    for bad in ({"hands": -0.1}, {"hands": 2.5}, {"Hands": 1}, {}, {"hands": 0}, {f"c{i}": 1 for i in range(9)}):
        with pytest.raises(ValidationError):
            GenerationRequest(prompt="x", adapters=bad)
    with pytest.raises(ValidationError, match="one of checkpoint_id, campaign and adapters"):
        GenerationRequest(prompt="x", adapters={"hands": 1}, campaign="hands")
