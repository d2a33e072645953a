"""How a round step ends the round early with a reason (not a crash)."""

from __future__ import annotations

from core.states import RoundState


class RoundStopped(Exception):
    """The round ends here in `state` with `reason`: no pairs, cancelled, refused settings, diverged."""

    def __init__(self, state: RoundState, reason: str):
        super().__init__(reason)
        self.state, self.reason = state, reason
