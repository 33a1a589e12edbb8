"""Seq2Exp (its generator and mask in training and evaluation) and every registered model end to end."""

import math

import pytest
import torch

from seq2exp.features.genome import central_slice
from seq2exp.models import MODELS, build_model, model_config, one_hot
from seq2exp.models.beta_mask import force_mask, kl_beta
from seq2exp.models.seq2exp import MotifStem

TINY = {"d_model": 16, "n_layer": 1, "d_state": 4, "mlp_hidden": 16, "central_region_bp": 10, "pooled_region_bp": 20}


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
