"""Seq2Exp's mask math (Beta product, KL, sampling, straight-through) and every registered model end to end."""

import math

import pytest
import torch

from seq2exp.models import MODELS, build_model, model_config, one_hot, top_fraction_mask
from seq2exp.models.seq2exp import (
    MotifStem,
    beta_product,
    central_slice,
    force_mask,
    kl_beta,
    sequence_beta,
    signal_beta,
    straight_through,
)

TINY = {"d_model": 16, "n_layer": 1, "d_state": 4, "mlp_hidden": 16, "central_region_bp": 10, "pooled_region_bp": 20}


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


def _batch(batch=2, length=60, seed=0):
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 4, (batch, length), generator=gen)
    return {
        "dna": torch.eye(4)[codes],
        "signals": torch.rand(batch, length, 3, generator=gen),
        "features": torch.randn(batch, 9, generator=gen),
        "target": torch.rand(batch, generator=gen) * 3,
        "blacklist": torch.zeros(batch, length, dtype=torch.bool),
        "mask": (torch.rand(batch, length, generator=gen) > 0.7).float(),
        "peaks": torch.rand(batch, length, generator=gen) > 0.7,
    }


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_trains_one_step_and_reports_its_metrics(name):
    torch.manual_seed(0)
    model = build_model(name, {**TINY, **({"bin_size": 4} if name == "enformer" else {})})
    batch = _batch()
    output = model(batch)
    assert output.prediction.shape == (2,)
    loss, metrics = model.loss(output, batch["target"])
    loss.backward()
    assert torch.isfinite(loss)
    assert ("kl" in metrics) == (name in ("seq2exp_soft", "seq2exp_hard"))
    assert ("mask_ratio" in metrics) == (name.startswith("seq2exp") or name == "peaks_mask")
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not no_grad, f"{name}: parameters without gradient {no_grad}"


def test_soft_mask_samples_in_training_and_is_the_mean_in_evaluation():
    torch.manual_seed(0)
    model = build_model("seq2exp_soft", TINY)
    batch = _batch()
    a, b = model.train()(batch).mask, model(batch).mask
    assert not torch.equal(a, b)
    model.eval()
    out = model(batch)
    expected = force_mask(out.alpha / (out.alpha + out.beta), batch["blacklist"], TINY["central_region_bp"])
    torch.testing.assert_close(out.mask, expected)
    assert out.mask[:, 25:35].eq(1).all()
    torch.testing.assert_close(model.loss(out, batch["target"])[1]["mask_ratio"], out.mask.mean())


def test_hard_mask_shared_and_compacted_predicts_from_selected_positions_only():
    torch.manual_seed(0)
    model = build_model("seq2exp_hard", TINY).eval()
    assert model.generator is model.predictor
    batch = _batch()
    out = model(batch)
    assert set(out.mask.unique().tolist()) <= {0.0, 1.0}
    changed = dict(batch, dna=torch.where(out.mask[..., None].bool(), batch["dna"], batch["dna"].roll(1, -1)))
    changed["signals"] = torch.where(out.mask[..., None].bool(), batch["signals"], torch.zeros_like(batch["signals"]))
    # the generator sees the DNA, so fix its mask and compare the predictor through the fixed-mask model
    fixed = build_model("peaks_mask", {**TINY, "compact": True}).eval()
    fixed.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith(("generator", "beta_head"))})
    with_mask = dict(batch, mask=out.mask)
    torch.testing.assert_close(fixed(with_mask).prediction, out.prediction)
    torch.testing.assert_close(fixed(dict(changed, mask=out.mask)).prediction, out.prediction)


def test_kl_weight_and_prior_enter_the_loss():
    torch.manual_seed(0)
    model = build_model("seq2exp_soft", {**TINY, "kl_weight": 0.5}).eval()
    batch = _batch()
    out = model(batch)
    loss, metrics = model.loss(out, batch["target"])
    torch.testing.assert_close(loss, metrics["smooth_l1"] + 0.5 * metrics["kl"])
    torch.testing.assert_close(out.kl, kl_beta(out.alpha, out.beta, 10.0, 90.0).mean(-1).mean())


def test_bf16_autocast_keeps_parameters_and_mask_in_float32():
    torch.manual_seed(0)
    model = build_model("seq2exp_soft", TINY)
    batch = _batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch)
        loss, _ = model.loss(out, batch["target"])
    loss.backward()
    assert out.alpha.dtype == out.mask.dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert torch.isfinite(loss)


def test_the_motif_stem_marks_every_base_of_the_element_around_a_motif():
    """A matched filter for one 7 bp motif: its response is positive only where the motif sits, and the
    max-pool spreads it over pool_bp bases centred there (an element's length), nowhere else."""
    motif, length, at = torch.tensor([0, 2, 3, 3, 1, 0, 2]), 200, 90  # AGTTCAG at 90..96
    stem = MotifStem(width=1, motif_bp=7, pool_bp=21)
    with torch.no_grad():
        stem.conv.weight.copy_(one_hot(motif).T[None].float())
        stem.conv.bias.fill_(-6.5)  # only all seven bases matching clear 0
    dna = one_hot(torch.full((1, length), 1))  # poly-C: no match anywhere
    dna[0, at : at + 7] = one_hot(motif)
    marked = (stem(dna)[0, :, 0] > 0).nonzero().squeeze(-1)
    centre = at + 3  # the response sits at the motif's centre
    assert marked.tolist() == list(range(centre - 10, centre + 11))


def test_centred_generator_logits_rank_positions_and_leave_the_level_to_the_signals():
    """With centre_generator_logits a push of every position one way (what the KL and the regression's
    noise give the Beta head's bias) cannot move the sequence Beta: its logits average 0 over each
    window, for alpha and beta separately. Free logits follow the push (and saturate softplus)."""
    batch = {"dna": one_hot(torch.randint(0, 4, (2, 64))), "signals": torch.rand(2, 64, 3)}
    for centred in (True, False):
        torch.manual_seed(0)
        model = build_model("seq2exp_soft", {**TINY, "centre_generator_logits": centred}).eval()
        with torch.no_grad():
            before = model.generator_logits(batch["dna"], model.dna_embed(batch["dna"]))
            model.beta_head.bias.add_(torch.tensor([-3.0, 5.0]))
            after = model.generator_logits(batch["dna"], model.dna_embed(batch["dna"]))
        if centred:
            torch.testing.assert_close(before.mean(1), torch.zeros(2, 2), atol=1e-5, rtol=0)
            torch.testing.assert_close(after, before)
        else:
            torch.testing.assert_close(after - before, torch.tensor([-3.0, 5.0]).expand_as(before))


def test_config_errors_name_the_problem():
    with pytest.raises(KeyError, match="d_modle"):
        build_model("seq2exp_soft", {"d_modle": 8})
    with pytest.raises(ValueError, match="mask"):
        build_model("seq2exp_hard", {"mask": "soft"})
    with pytest.raises(ValueError, match="sum to 1"):
        model_config({"signal_weights": [0.5, 0.5, 0.5]})
    with pytest.raises(ValueError, match="rcps"):
        model_config({"generator_motif_bp": 15, "rcps": True})
    with pytest.raises(ValueError, match="generator_pool_bp"):
        model_config({"generator_motif_bp": 15, "generator_pool_bp": 0})
    with pytest.raises(KeyError, match="unknown model"):
        build_model("transformer")
    assert model_config({}).prior == (10.0, 90.0) and math.isclose(model_config({}).kl_weight, 0.01)


def test_macs3_mask_is_the_raw_peak_mask_unless_the_centre_is_forced():
    batch = _batch()
    batch["blacklist"][:, 1] = True
    peaks = torch.zeros_like(batch["blacklist"], dtype=torch.float32)
    peaks[:, :5] = 1.0  # peaks away from the centre only
    centre = central_slice(peaks.shape[-1], TINY["central_region_bp"])
    raw = build_model("peaks_mask", TINY).eval()(dict(batch, mask=peaks)).mask
    torch.testing.assert_close(raw, peaks.masked_fill(batch["blacklist"], 0.0))
    forced = build_model("peaks_mask", {**TINY, "force_central": True}).eval()(dict(batch, mask=peaks)).mask
    assert (forced[:, centre] == 1).all()
    retrain = build_model("seq2exp_retrain", TINY).eval()(dict(batch, mask=peaks)).mask
    assert (retrain[:, centre] == 1).all()
    with pytest.raises(KeyError, match="force_central"):
        build_model("seq2exp_retrain", {**TINY, "force_central": False})
