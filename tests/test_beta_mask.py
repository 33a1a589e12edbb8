"""The Beta mask's maths: Beta product, KL, sampling, straight-through, forced and top-fraction masks."""

import torch

from seq2exp.features.genome import central_slice
from seq2exp.models.beta_mask import (
    beta_product,
    force_mask,
    kl_beta,
    sequence_beta,
    signal_beta,
    straight_through,
    top_fraction_mask,
)


def _log_beta_density(m, a, b):
    return (
        (a - 1) * torch.log(m) + (b - 1) * torch.log1p(-m) - (torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b))
    )


def test_paper_form_is_the_normalised_product_of_sequence_and_geometric_mean_signal_betas():
    grid = torch.linspace(1e-4, 1 - 1e-4, 20001, dtype=torch.float64)
    a_seq, b_seq = torch.tensor(2.3, dtype=torch.float64), torch.tensor(4.1, dtype=torch.float64)
    signals = torch.tensor([[[0.7, 2.5, 0.3]]], dtype=torch.float64)
    b, w = (1.5, 0.2, 1.0), (0.4, 0.4, 0.2)
    alpha_sig, beta_sig = signal_beta(signals, b, w, beta_min=1.0, scale=1.0)
    # weighted geometric mean of the three signal Betas, times the sequence Beta, normalised numerically
    log_density = _log_beta_density(grid, a_seq, b_seq)
    for i in range(3):
        a_i = (signals[0, 0, i] + 1.0) * 1.0
        b_i = torch.tensor((b[i] + 1.0) * 1.0, dtype=torch.float64)
        log_density = log_density + w[i] * _log_beta_density(grid, a_i, b_i)
    density = torch.exp(log_density)
    density = density / torch.trapezoid(density, grid)
    alpha, beta = beta_product(a_seq, b_seq, alpha_sig[0, 0], beta_sig[0, 0], form="paper")
    torch.testing.assert_close(density, torch.exp(_log_beta_density(grid, alpha, beta)), rtol=1e-5, atol=1e-5)
    # the authors' form is that product with +1 on each parameter
    alpha_a, beta_a = beta_product(a_seq, b_seq, alpha_sig[0, 0], beta_sig[0, 0], form="authors")
    torch.testing.assert_close(alpha_a, alpha + 1)
    torch.testing.assert_close(beta_a, beta + 1)


def test_authors_form_matches_its_definition():
    signals = torch.tensor([[[1.0, 0.0, 2.0], [0.0, 3.0, 0.5]]])
    alpha_sig, beta_sig = signal_beta(signals, (1.5, 0.2, 1.0), (0.4, 0.4, 0.2), beta_min=1.0, scale=10.0)
    # alpha = sum_i w_i (s_i + 1) * 10 ; beta = sum_i w_i (b_i + 1) * 10
    torch.testing.assert_close(
        alpha_sig, torch.tensor([[0.4 * 20 + 0.4 * 10 + 0.2 * 30, 0.4 * 10 + 0.4 * 40 + 0.2 * 15]])
    )
    torch.testing.assert_close(beta_sig, torch.full((1, 2), 0.4 * 25 + 0.4 * 12 + 0.2 * 20))
    a_seq, b_seq = sequence_beta(torch.tensor([[[0.0, 2.0], [-1.0, 1.0]]]), beta_min=1.0)
    torch.testing.assert_close(a_seq, torch.log1p(torch.exp(torch.tensor([[0.0, -1.0]]))) + 1)
    alpha, beta = beta_product(a_seq, b_seq, alpha_sig, beta_sig, form="authors")
    torch.testing.assert_close(alpha, a_seq + alpha_sig)
    torch.testing.assert_close(beta, b_seq + beta_sig)


def test_kl_closed_form_equals_monte_carlo_and_torch():
    torch.manual_seed(0)
    a1, b1 = torch.tensor([2.0, 15.0, 1.3]), torch.tensor([5.0, 40.0, 0.9])
    q = torch.distributions.Beta(a1, b1)
    p = torch.distributions.Beta(torch.tensor(10.0), torch.tensor(90.0))
    samples = q.sample((400_000,))
    monte_carlo = (q.log_prob(samples) - p.log_prob(samples)).mean(0)
    closed = kl_beta(a1, b1, 10.0, 90.0)
    torch.testing.assert_close(closed, monte_carlo, rtol=0.02, atol=0.02)
    torch.testing.assert_close(closed, torch.distributions.kl_divergence(q, p), rtol=1e-4, atol=1e-4)


def test_rsample_gives_gradients_to_alpha_and_beta():
    alpha = torch.tensor([2.0, 5.0], requires_grad=True)
    beta = torch.tensor([3.0, 1.5], requires_grad=True)
    torch.distributions.Beta(alpha, beta).rsample((64,)).sum().backward()
    assert torch.isfinite(alpha.grad).all() and (alpha.grad != 0).all()
    assert torch.isfinite(beta.grad).all() and (beta.grad != 0).all()


def test_straight_through_is_exactly_binary_and_passes_gradient():
    soft = torch.rand(1000, generator=torch.Generator().manual_seed(0), requires_grad=True)
    hard = straight_through(soft, 0.5)
    assert set(hard.detach().unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(hard.detach(), (soft >= 0.5).float())
    weights = torch.randn(1000)
    (hard * weights).sum().backward()
    torch.testing.assert_close(soft.grad, weights)


def test_force_mask_central_one_blacklist_zero():
    mask = torch.full((2, 20), 0.3)
    blacklist = torch.zeros(2, 20, dtype=torch.bool)
    blacklist[:, :3] = True
    blacklist[:, 9] = True  # inside the centre: the centre wins
    out = force_mask(mask, blacklist, central_bp=4)
    assert central_slice(20, 4) == slice(8, 12)
    assert out[:, 8:12].eq(1).all() and out[:, :3].eq(0).all() and out[:, 3:8].eq(0.3).all()


def test_top_fraction_mask_keeps_the_highest_positions():
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.7, 0.2, 0.8, 0.3, 0.4, 0.6, 0.0]])
    blacklist = torch.zeros_like(scores, dtype=torch.bool)
    blacklist[0, 1] = True
    mask = top_fraction_mask(scores, 0.3, blacklist)
    assert mask.tolist() == [[0, 0, 0, 1, 0, 1, 0, 0, 1, 0]]
