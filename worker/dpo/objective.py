"""The Diffusion-DPO objective (Wallace et al. 2023, arXiv 2311.12908, eq. 14), and nothing else.

For a preferred image x_w and a rejected x_l, both noised with the SAME noise at the SAME timestep,
the trained model and the frozen reference each predict the noise. With per-sample errors

    err = || target - prediction ||²   averaged over C×H×W,

the loss is

    inside = -beta/2 * ((err_w - err_l) - (ref_err_w - ref_err_l))
    loss   = -log sigmoid(inside)

It falls when the model denoises the winner better, relative to the reference, than the loser.
beta here is the reference code's; diffusers' example trainer has no 1/2 (its beta_dpo = beta / 2).
`inside` is the implicit reward margin; it is 0 while model == reference, so training starts at
loss ln 2 and implicit accuracy 1/2.

Flow matching (SD3, FLUX): the same loss, with `target` the velocity noise − x0 that a rectified-flow
model predicts at x_t = (1 − t)·x0 + t·noise (winner and loser share noise and t; worker/dpo/noising.py
draws t as each family's training script does). This is Diffusion-DPO's loss carried to rectified
flow as in Flow-DPO (Liu et al. 2025, arXiv 2501.13918) and in the DPO fine-tune of the SD3 paper
(Esser et al. 2024, arXiv 2403.03206). Since velocity error = noise error / (1 − t)², the same beta
would weigh flow errors far more: core/schemas/rounds.py starts the flow families at beta 500.

Optional, off by default: DPO-Positive's penalty (Pal et al. 2024, arXiv 2402.13228) in its
diffusion form. The margin alone can grow while the winner gets *worse* than under the reference,
as long as the loser gets worse faster (docs/what-the-code-relies-on.md); with winner_penalty = lambda > 0

    loss = -log sigmoid(inside - beta/2 * lambda * max(0, err_w - ref_err_w))

so a winner denoised worse than the reference costs loss. `inside` stays the plain margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def denoising_error(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample mean squared error over every non-batch dimension (fp32 for a stable loss)."""
    return (prediction.float() - target.float()).pow(2).mean(dim=tuple(range(1, prediction.dim())))


@dataclass
class DPOTerms:
    loss: torch.Tensor  # scalar, differentiable
    inside: torch.Tensor  # per pair: the implicit reward margin
    model_err_w: torch.Tensor
    model_err_l: torch.Tensor
    ref_err_w: torch.Tensor
    ref_err_l: torch.Tensor

    @property
    def implicit_accuracy(self) -> float:
        """Share of pairs the model ranks right; a tie (inside == 0) counts one half."""
        inside = self.inside.detach()
        return ((inside > 0).float() + 0.5 * (inside == 0).float()).mean().item()

    @property
    def reward_margin(self) -> float:
        return self.inside.detach().mean().item()

    def metrics(self) -> dict[str, float]:
        """What a training step reports (and the dashboard plots)."""
        return {
            "loss": self.loss.item(),
            "implicit_accuracy": self.implicit_accuracy,
            "reward_margin": self.reward_margin,
            "model_err_w": self.model_err_w.detach().mean().item(),
            "model_err_l": self.model_err_l.detach().mean().item(),
            "ref_err_w": self.ref_err_w.detach().mean().item(),
            "ref_err_l": self.ref_err_l.detach().mean().item(),
        }


def diffusion_dpo_loss(
    model_err_w: torch.Tensor,
    model_err_l: torch.Tensor,
    ref_err_w: torch.Tensor,
    ref_err_l: torch.Tensor,
    beta: float,
    winner_penalty: float = 0.0,
) -> DPOTerms:
    """The loss from the four per-pair errors (reference errors carry no gradient)."""
    ref_err_w, ref_err_l = ref_err_w.detach(), ref_err_l.detach()
    inside = -0.5 * beta * ((model_err_w - model_err_l) - (ref_err_w - ref_err_l))
    penalty = 0.5 * beta * winner_penalty * (model_err_w - ref_err_w).clamp(min=0)
    loss = -F.logsigmoid(inside - penalty).mean()
    return DPOTerms(loss, inside, model_err_w, model_err_l, ref_err_w, ref_err_l)
