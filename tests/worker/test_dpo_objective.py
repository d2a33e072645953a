"""The Diffusion-DPO objective against hand-computed values and its defining properties."""

import math

import pytest
import torch

from worker.dpo.objective import denoising_error, diffusion_dpo_loss


def t(*values):
    return torch.tensor(values, dtype=torch.float32)


def test_hand_computed_values():
    # err_w - err_l = 0.1 - 0.3 = -0.2; ref: 0.2 - 0.2 = 0; inside = -100/2 * (-0.2 - 0) = 10.
    terms = diffusion_dpo_loss(t(0.1), t(0.3), t(0.2), t(0.2), beta=100)
    assert terms.inside.item() == pytest.approx(10.0)
    assert terms.loss.item() == pytest.approx(-math.log(1 / (1 + math.exp(-10))), rel=1e-6)
    assert terms.implicit_accuracy == 1.0 and terms.reward_margin == pytest.approx(10.0)
    # Two pairs, one right and one wrong: inside = [+1, -3].
    terms = diffusion_dpo_loss(t(0.0, 0.3), t(0.2, 0.0), t(0.1, 0.0), t(0.1, 0.0), beta=10)
    assert terms.inside.tolist() == pytest.approx([1.0, -1.5])
    expected = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(1.5))) / 2
    assert terms.loss.item() == pytest.approx(expected, rel=1e-6)
    assert terms.implicit_accuracy == 0.5


def test_starts_at_ln2_when_the_model_is_the_reference():
    err_w, err_l = torch.rand(8), torch.rand(8)
    terms = diffusion_dpo_loss(err_w, err_l, err_w.clone(), err_l.clone(), beta=5000)
    assert terms.loss.item() == pytest.approx(math.log(2), abs=1e-7)
    assert terms.implicit_accuracy == 0.5  # every pair is a tie, counted one half
    assert terms.reward_margin == 0.0


def test_swapping_winner_and_loser_flips_the_sign_of_inside():
    err = torch.rand(4, 6)
    a = diffusion_dpo_loss(err[0], err[1], err[2], err[3], beta=7.0)
    b = diffusion_dpo_loss(err[1], err[0], err[3], err[2], beta=7.0)
    assert torch.allclose(a.inside, -b.inside)


def test_denoising_error_is_the_per_sample_mean_over_c_h_w():
    prediction = torch.zeros(2, 4, 3, 3)
    target = torch.ones(2, 4, 3, 3)
    target[1] *= 2
    assert denoising_error(prediction, target).tolist() == [1.0, 4.0]


def test_reference_errors_carry_no_gradient():
    ref = torch.rand(3, requires_grad=True)
    model = torch.rand(3, requires_grad=True)
    diffusion_dpo_loss(model, model.detach() * 2, ref, ref * 0.5, beta=3).loss.backward()
    assert ref.grad is None and model.grad is not None


def test_one_step_lowers_the_winners_error_relative_to_the_losers():
    """A toy denoiser: one SGD step on the DPO loss must favour the winner, as the paper intends."""
    torch.manual_seed(0)
    model = torch.nn.Linear(16, 16)
    reference = torch.nn.Linear(16, 16)
    reference.load_state_dict(model.state_dict())
    x_w, x_l = torch.randn(8, 16), torch.randn(8, 16)
    noise = torch.randn(8, 16)  # the same noise for winner and loser

    def errors(net):
        return denoising_error(net(x_w + noise), noise), denoising_error(net(x_l + noise), noise)

    before_w, before_l = (e.detach() for e in errors(model))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2)
    with torch.no_grad():
        ref_w, ref_l = errors(reference)
    err_w, err_l = errors(model)
    diffusion_dpo_loss(err_w, err_l, ref_w, ref_l, beta=50).loss.backward()
    optimizer.step()
    after_w, after_l = (e.detach() for e in errors(model))
    assert ((after_w - after_l) - (before_w - before_l)).mean() < 0


def test_the_winner_penalty_costs_only_when_the_winner_is_worse_than_under_the_reference():
    # Margin +10 as in the hand-computed case, but the winner's error 0.1 above the reference's:
    # DPO-Positive subtracts beta/2 * lambda * 0.1 = 100/2 * 1 * 0.1 = 5 inside the sigmoid.
    worse = diffusion_dpo_loss(t(0.3), t(0.5), t(0.2), t(0.2), beta=100, winner_penalty=1.0)
    assert worse.inside.item() == pytest.approx(10.0)  # the reported margin stays plain DPO's
    assert worse.loss.item() == pytest.approx(math.log1p(math.exp(-5.0)), rel=1e-5)
    # A winner no worse than under the reference pays nothing: the loss is plain DPO's.
    better = diffusion_dpo_loss(t(0.1), t(0.3), t(0.2), t(0.2), beta=100, winner_penalty=1.0)
    plain = diffusion_dpo_loss(t(0.1), t(0.3), t(0.2), t(0.2), beta=100)
    assert better.loss.item() == plain.loss.item()
    # Its gradient pushes the winner's error down harder than plain DPO's.
    err_w = t(0.3).requires_grad_()
    diffusion_dpo_loss(err_w, t(0.5), t(0.2), t(0.2), beta=100, winner_penalty=1.0).loss.backward()
    penalised = err_w.grad.item()
    err_w.grad = None
    diffusion_dpo_loss(err_w, t(0.5), t(0.2), t(0.2), beta=100).loss.backward()
    assert penalised > err_w.grad.item() > 0
