"""The mask's path through Seq2Exp: the regression loss alone trains the generator, positions the mask
zeroes cannot reach the prediction, and the head pools the TSS region. Each test fails for a plausible
bug: the mask not multiplied into the predictor's input, sample() instead of rsample(), the mask
detached before the predictor, no straight-through gradient in the hard mask, pooling at the window start."""

import pytest
import torch
import torch.nn as nn

from seq2exp.models import build_model, one_hot

pytestmark = pytest.mark.mask_path

LENGTH = 64
TINY = {
    "d_model": 8,
    "n_layer": 1,
    "d_state": 4,
    "mlp_hidden": 8,
    "central_region_bp": 8,
    "pooled_region_bp": 8,
    "kl_weight": 0.0,
}
VARIANTS = {
    "soft": ("seq2exp_soft", {}),
    "hard": ("seq2exp_hard", {"share_weights": False, "compact": False}),
    "hard shared": ("seq2exp_hard", {"share_weights": True, "compact": False}),
    "hard compact": ("seq2exp_hard", {"share_weights": True, "compact": True}),
    "soft motif stem": ("seq2exp_soft", {"generator_motif_bp": 5, "generator_pool_bp": 7}),
}


def _batch(seed=0, batch=4):
    g = torch.Generator().manual_seed(seed)
    return {
        "dna": one_hot(torch.randint(0, 4, (batch, LENGTH), generator=g)),
        "signals": torch.rand(batch, LENGTH, 3, generator=g) * 3,
        "features": torch.randn(batch, 9, generator=g),
        "target": torch.randn(batch, generator=g),
    }


def _model(variant, **extra):
    name, options = VARIANTS[variant]
    torch.manual_seed(0)
    return build_model(name, {**TINY, **options, **extra})


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_regression_loss_alone_trains_the_generator(variant):
    model = _model(variant)
    model.train()
    batch = _batch()
    loss, _ = model.loss(model(batch), batch["target"])
    loss.backward()
    generator = model.generator if not model.cfg.share_weights else model.predictor
    parts = [("beta_head", model.beta_head), ("generator", generator)]
    if model.motif_stem is not None:
        parts.append(("motif stem", model.motif_stem))
    for name, module in parts:
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        assert grads and sum(float(g.abs().sum()) for g in grads) > 0, f"{variant}: no gradient reaches the {name}"
    # the generator's own (unshared) parameters get gradient only through the mask
    if not model.cfg.share_weights:
        assert model.beta_head.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("variant", ["soft", "hard"])
def test_positions_the_mask_zeroes_cannot_change_the_prediction(variant):
    model = _model(variant)
    model.eval()
    batch = _batch()
    blacklist = torch.zeros(4, LENGTH, dtype=torch.bool)
    blacklist[:, :20] = True  # forced to 0 by the mask
    batch["blacklist"] = blacklist
    with torch.no_grad():
        output = model(batch)
        assert (output.mask[:, :20] == 0).all()
        perturbed = dict(batch, dna=batch["dna"].clone(), signals=batch["signals"].clone())
        perturbed["dna"][:, :20] = one_hot(torch.randint(0, 4, (4, 20)))
        perturbed["signals"][:, :20] += 5.0
        # the generator sees the change (its Beta moves), the predictor must not
        unchanged = model(perturbed).prediction
        torch.testing.assert_close(unchanged, output.prediction)
        selected = output.mask[0] > 0.5
        moved = dict(batch, signals=batch["signals"].clone())
        moved["signals"][:, selected] += 5.0
        assert (model(moved).prediction - output.prediction).abs().max() > 1e-4


class _Identity(nn.Module):
    """A backbone that passes its input through, so the head's input is the masked embedding itself."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg

    def forward(self, x, block_size=None):
        return x


def test_head_pools_the_central_region_around_the_tss():
    model = _model("soft", central_region_bp=8, pooled_region_bp=12)
    model.predictor = _Identity(model.predictor.cfg)
    model.eval()
    batch = _batch(batch=2)
    seen = {}
    model.head.mlp[0].register_forward_hook(lambda module, inputs, output: seen.update(x=inputs[0]))
    with torch.no_grad():
        output = model(batch)
        embedded = (model.dna_embed(batch["dna"]) + model.signal_embed(batch["signals"])) * output.mask[..., None]
    centre = LENGTH // 2
    expected = embedded[:, centre - 6 : centre + 6].mean(1)
    torch.testing.assert_close(seen["x"][:, : model.cfg.backbone.d_model], expected)
    torch.testing.assert_close(seen["x"][:, model.cfg.backbone.d_model :], batch["features"])


def test_a_soft_mask_value_reaches_a_one_block_predictor_through_the_inputs_not_the_embeddings():
    """Halving a soft mask outside the pooled centre: with the paper's M ⊙ X (mask_applies_to
    inputs) the prediction moves. Scaling the embeddings instead (the authors' code) is undone by
    the first block's RMSNorm (to within its eps), so a one-block predictor reads the mask's value
    only at the centre, where it is forced to 1, and the regression cannot train it (the demo's
    case). At initialisation the backbone carries little from distal positions, hence the ratio."""
    batch = _batch()
    mask = torch.full((4, LENGTH), 0.8)
    halved = mask.clone()
    halved[:, : LENGTH // 2 - 8] = 0.4
    moved = {}
    for applies_to in ("inputs", "embeddings"):
        torch.manual_seed(0)
        model = build_model("peaks_mask", {**TINY, "mask_applies_to": applies_to}).eval()
        with torch.no_grad():
            moved[applies_to] = float(
                (model(dict(batch, mask=mask)).prediction - model(dict(batch, mask=halved)).prediction).abs().max()
            )
    assert moved["inputs"] > 100 * moved["embeddings"], moved
