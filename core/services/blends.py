"""Blends: several campaigns' serving adapters worn at once, each at a weight (a weighted sum of their
LoRA updates over the base). A client asks for one by campaign name (`adapters` in a generation); the
install's default blend, an admin's setting, is what a request naming no campaign gets. Names are
resolved to checkpoints when the image is made, so a promotion in one campaign reaches the blends that
include it, and a full fine-tune, which replaces the denoiser, cannot be part of one."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.db.models import Campaign, Checkpoint
from core.db.session import read_scope, session_scope
from core.refs import Blend, CheckpointRef
from core.repo.checkpoints import active_checkpoint_id, checkpoint_ref
from core.schemas.generation import check_blend
from core.services import campaigns
from core.settings import get_settings
from core.states import CheckpointKind

FOLLOW_DEFAULT = {campaigns.DEFAULT: 1.0}  # the blend of an install that never set one


class UnusableBlend(ValueError):
    """A blend names a campaign that does not exist, is archived, or serves a full fine-tune."""


def _serving(session: Session, adapters: dict[str, float]) -> list[tuple[Campaign, Checkpoint, float]]:
    """The named campaigns with what serves each and their weights; UnusableBlend for one that cannot be
    part of a blend now."""
    found = []
    for name, weight in adapters.items():
        try:
            campaign = campaigns.by_name(session, name, active=True)
        except (campaigns.UnknownCampaign, campaigns.CampaignRefused) as exc:
            raise UnusableBlend(str(exc)) from exc
        serving = session.get(Checkpoint, active_checkpoint_id(session, campaign.id))
        if serving.kind == CheckpointKind.full:
            raise UnusableBlend(f"campaign {name!r} serves checkpoint {serving.id}, a full fine-tune, "
                                f"which replaces the model and cannot be blended")  # fmt: skip
        found.append((campaign, serving, weight))
    return found


def check(session: Session, adapters: dict[str, float], held: int) -> list[tuple[Campaign, Checkpoint, float]]:
    """The named campaigns with what serves each and their weights; UnusableBlend unless every one can take
    part in a blend now, and the workers, holding `held` adapters each (DPOLOOP_ADAPTERS_HELD), can wear
    them all at once."""
    parts = sum(weight > 0 for weight in adapters.values())
    if parts > held:
        raise UnusableBlend(f"a blend of {parts} campaigns; this install's workers hold at most {held} adapters "
                            f"at once (DPOLOOP_ADAPTERS_HELD)")  # fmt: skip
    return _serving(session, adapters)


def usable(session: Session, adapters: dict[str, float], held: int) -> bool:
    try:
        check(session, adapters, held)
    except UnusableBlend:
        return False
    return True


def resolve(session: Session, adapters: dict[str, float]) -> Blend:
    """What each named campaign serves now, at its weight (campaigns serving the base add nothing);
    UnusableBlend, or UnusableCheckpoint for a serving checkpoint marked broken."""
    parts: list[tuple[CheckpointRef, float]] = []
    for _, serving, weight in _serving(session, adapters):
        ref = checkpoint_ref(session, serving.id)  # the row _serving read: refused if broken
        if ref.kind == CheckpointKind.lora and weight > 0:
            parts.append((ref, weight))
    return Blend(tuple(parts))


# ---- the install's default blend ----------------------------------------------------------------------
def default_blend(session: Session) -> dict[str, float]:
    """Campaign name → weight for the active campaigns in the default blend ({"default": 1} until an admin
    sets one)."""
    blend = {c.name: c.blend_weight for c in campaigns.active_campaigns(session) if c.blend_weight > 0}
    return blend or dict(FOLLOW_DEFAULT)


def read_default() -> dict[str, float]:
    with read_scope() as session:
        return default_blend(session)


def set_default(adapters: dict[str, float]) -> dict[str, float]:
    """Make this the default blend (campaigns not named leave it); ValueError for a malformed blend,
    UnusableBlend for a campaign that cannot take part or more campaigns than a worker holds."""
    check_blend(adapters)
    with session_scope() as session:
        named = {campaign.id: weight for campaign, _, weight in check(session, adapters, get_settings().adapters_held)}
        for campaign in campaigns.active_campaigns(session):
            campaign.blend_weight = named.get(campaign.id, 0.0)
        return default_blend(session)


def follows_default(adapters: dict[str, float]) -> bool:
    """True for the blend that is just `default`'s serving checkpoint at full weight: such a request is made
    by whatever serves default when it runs, exactly as before blends existed."""
    return adapters == FOLLOW_DEFAULT
