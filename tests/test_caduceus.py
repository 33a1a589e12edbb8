"""Caduceus / Mamba backbones: RCPS equivariance, tied bidirectional projections, causality, streaming."""

import pytest
import torch

from seq2exp.models.caduceus import Caduceus, InputEmbedding, flip_streams, merge_rc_streams
from seq2exp.models.dna import one_hot, reverse_complement, reverse_complement_sample
from seq2exp.models.mamba import BackboneConfig, MambaMixer
from seq2exp.models.registry import build_model


def _tiny(**kw):
    return BackboneConfig(**{"d_model": 16, "n_layer": 2, "d_state": 4, "chunk_size": 32, **kw})


def _dna(batch=2, length=101, seed=0):
    return one_hot(torch.randint(0, 5, (batch, length), generator=torch.Generator().manual_seed(seed)))


def test_rcps_backbone_is_reverse_complement_equivariant():
    torch.manual_seed(0)
    cfg = _tiny(rcps=True)
    embed, net = InputEmbedding(4, 16, rcps=True, complement=True), Caduceus(cfg)
    x = _dna()
    h, h_rc = net(embed(x)), net(embed(reverse_complement(x)))
    assert h.shape == (2, 101, 32)
    torch.testing.assert_close(h_rc, flip_streams(h))
    torch.testing.assert_close(merge_rc_streams(h_rc), merge_rc_streams(h).flip(1))


def test_rcps_regressor_prediction_is_strand_invariant():
    torch.manual_seed(0)
    model = build_model(
        "caduceus",
        {"d_model": 16, "n_layer": 2, "d_state": 4, "rcps": True, "pooled_region_bp": 20, "central_region_bp": 20},
    ).eval()
    batch = {"dna": _dna(length=100), "features": torch.randn(2, 9)}
    torch.testing.assert_close(model(reverse_complement_sample(batch)).prediction, model(batch).prediction)


def test_bidirectional_projections_are_tied_and_directions_differ():
    net = Caduceus(_tiny())
    bi = net.layers[0].mixer
    assert bi.forward_mixer.in_proj.weight is bi.reverse_mixer.in_proj.weight
    assert bi.forward_mixer.out_proj.weight is bi.reverse_mixer.out_proj.weight
    assert bi.forward_mixer.conv1d.weight is not bi.reverse_mixer.conv1d.weight
    n_shared = bi.forward_mixer.in_proj.weight.numel() + bi.forward_mixer.out_proj.weight.numel()
    one_direction = sum(p.numel() for p in bi.forward_mixer.parameters())
    assert sum(p.numel() for p in bi.parameters()) == 2 * one_direction - n_shared


def test_plain_mamba_is_causal_and_caduceus_is_not():
    torch.manual_seed(0)
    x = torch.randn(1, 64, 16)
    x2 = x.clone()
    x2[:, 40:] += 1.0
    causal = Caduceus(_tiny(bidirectional=False))
    torch.testing.assert_close(causal(x)[:, :40], causal(x2)[:, :40])
    bidirectional = Caduceus(_tiny())
    assert not torch.allclose(bidirectional(x)[:, :40], bidirectional(x2)[:, :40])


@pytest.mark.parametrize("bidirectional", [True, False])
def test_streamed_inference_equals_full_forward(bidirectional):
    torch.manual_seed(0)
    net = Caduceus(_tiny(bidirectional=bidirectional))
    x = torch.randn(2, 150, 16)
    with torch.no_grad():
        torch.testing.assert_close(net(x, block_size=37), net(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_fresh_weights_follow_mamba_ssms_initialisation(bidirectional):
    torch.manual_seed(0)
    cfg = BackboneConfig(d_model=64, n_layer=4, d_state=16, dt_min=1e-3, dt_max=1e-1, bidirectional=bidirectional)
    options = {"d_model": 64, "n_layer": 4, "d_state": 16, "mlp_hidden": 32, "bidirectional": bidirectional}
    model = build_model("seq2exp_soft" if bidirectional else "mamba", options)
    assert model.predictor.cfg.d_inner == cfg.d_inner and model.predictor.cfg.n_layer == 4
    mixers = [m for m in model.modules() if isinstance(m, MambaMixer)]
    assert len(mixers) == (16 if bidirectional else 4)  # seq2exp-soft: generator and predictor
    # PyTorch's Linear: kaiming uniform (a = sqrt 5), std 1 / sqrt(3 fan_in); out_proj divided by sqrt(n_layer)
    out_proj = torch.cat([m.out_proj.weight.flatten() for m in mixers])
    in_proj = torch.cat([m.in_proj.weight.flatten() for m in mixers])
    assert out_proj.std().item() * (3 * cfg.d_inner) ** 0.5 * 4**0.5 == pytest.approx(1.0, rel=0.03)
    assert in_proj.std().item() * (3 * cfg.d_model) ** 0.5 == pytest.approx(1.0, rel=0.03)
    for mixer in mixers:
        dt = torch.nn.functional.softplus(mixer.dt_proj.bias.detach())
        assert dt.min() >= cfg.dt_min * (1 - 1e-5) and dt.max() <= cfg.dt_max * (1 + 1e-5)
        assert dt.log().std() > 0.25 * (torch.log(torch.tensor(cfg.dt_max / cfg.dt_min)))  # log-uniform spread
        torch.testing.assert_close(mixer.A_log.detach(), torch.log(torch.arange(1.0, 17.0)).repeat(cfg.d_inner, 1))
        assert (mixer.D.detach() == 1).all()
    heads = [model.head] + ([model.beta_head] if bidirectional else [])
    assert all((m.bias == 0).all() for head in heads for m in head.modules() if isinstance(m, torch.nn.Linear))
    assert (model.dna_embed.linear.bias != 0).all()  # kept: it is what masking the inputs differs by
