"""Loading the authors' Seq2Exp checkpoint layout (divelab/AIRS, OpenBio/Seq2Exp) into our model, offline.

The state dicts below are built from their key names and shapes as read from their code:
  - src/models/sequence/GeneExpformer.py, class GeneBiMambaMIRNP (seq_input_layer, signal_input_layer,
    generator / encoder = Caduceus(..., ignore_embed_layer=True), prior_weights, signal_betas, mask_output,
    pToExpr), held by their Lightning module as `self.model` (train.py) -> the "model." prefix;
  - caduceus/modeling_caduceus.py (Caduceus.backbone = CaduceusMixerModel: layers.{i} = mamba-ssm Block
    with .mixer = BiMambaWrapper(mamba_fwd, mamba_rev; in/out projections tied) and .norm = RMSNorm; norm_f);
  - mamba-ssm 1.1.2 mamba_simple.Mamba (in_proj, conv1d, x_proj, dt_proj, A_log, D, out_proj; bias=False).
"""

import math
import sys
import types

import pytest
import torch

from seq2exp.evaluation.authors_weights import AuthorsCheckpointError, load_authors_checkpoint

TINY = dict(d_model=16, n_layer=2, d_state=4, expand=2, d_conv=4, n_signals=3, n_features=9)
EXTRA = {"central_region_bp": 8, "pooled_region_bp": 8}


def their_shapes(d_model, n_layer, d_state, expand, d_conv, n_signals, n_features):
    """Their checkpoint's state_dict keys -> shapes (Lightning "model." prefix included)."""
    d_inner, dt_rank = expand * d_model, math.ceil(d_model / 16)  # dt_rank "auto"
    mixer = {
        "in_proj.weight": (2 * d_inner, d_model),
        "conv1d.weight": (d_inner, 1, d_conv),
        "conv1d.bias": (d_inner,),
        "x_proj.weight": (dt_rank + 2 * d_state, d_inner),
        "dt_proj.weight": (d_inner, dt_rank),
        "dt_proj.bias": (d_inner,),
        "A_log": (d_inner, d_state),
        "D": (d_inner,),
        "out_proj.weight": (d_model, d_inner),
    }
    shapes = {
        "seq_input_layer.weight": (d_model, 4),
        "seq_input_layer.bias": (d_model,),
        "signal_input_layer.weight": (d_model, n_signals),
        "signal_input_layer.bias": (d_model,),
        "prior_weights": (n_signals,),
        "signal_betas": (n_signals,),
        "mask_output.weight": (2, d_model),
        "mask_output.bias": (2,),
        "pToExpr.0.weight": (d_model, d_model + n_features),
        "pToExpr.0.bias": (d_model,),
        "pToExpr.2.weight": (d_model, d_model),
        "pToExpr.2.bias": (d_model,),
        "pToExpr.4.weight": (1, d_model),
        "pToExpr.4.bias": (1,),
    }
    for backbone in ("generator", "encoder"):
        for i in range(n_layer):
            for direction in ("mamba_fwd", "mamba_rev"):
                for name, shape in mixer.items():
                    shapes[f"{backbone}.backbone.layers.{i}.mixer.{direction}.{name}"] = shape
            shapes[f"{backbone}.backbone.layers.{i}.norm.weight"] = (d_model,)
        shapes[f"{backbone}.backbone.norm_f.weight"] = (d_model,)
    return {"model." + k: v for k, v in shapes.items()}


def their_state(sizes=TINY, seed=0):
    """Random tensors in their layout; tied projections share one tensor; the two config parameters
    hold their published values (prior weights "2,2,1" as log of normalised weights, betas 1.5/0.2/1.0)."""
    g = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(shape, generator=g) * 0.1 for k, shape in their_shapes(**sizes).items()}
    for k in list(state):
        if ".mamba_rev.in_proj." in k or ".mamba_rev.out_proj." in k:
            state[k] = state[k.replace("mamba_rev", "mamba_fwd")]
        if k.endswith(".A_log"):
            state[k] = torch.log(torch.rand(state[k].shape, generator=g) * 4 + 1)
    state["model.prior_weights"] = torch.log(torch.tensor([0.4, 0.4, 0.2]))
    state["model.signal_betas"] = torch.tensor([1.5, 0.2, 1.0])
    return state


# Our key -> their key (without "model."), written out independently of the loader.
EXPECTED = [
    (r"dna_embed.linear.{p}", "seq_input_layer.{p}"),
    (r"signal_embed.linear.{p}", "signal_input_layer.{p}"),
    (r"head.mlp.{p}", "pToExpr.{p}"),
    (r"predictor.layers.{p}", "encoder.backbone.layers.{p}"),
    (r"generator.layers.{p}", "generator.backbone.layers.{p}"),
    (r"predictor.norm_f.weight", "encoder.backbone.norm_f.weight"),
    (r"generator.norm_f.weight", "generator.backbone.norm_f.weight"),
]


def expected_source(our_key):
    for ours, theirs in EXPECTED:
        prefix = ours.split("{p}")[0]
        if our_key == ours or ("{p}" in ours and our_key.startswith(prefix)):
            rest = our_key[len(prefix) :] if "{p}" in ours else ""
            key = theirs.format(p=rest)
            return key.replace("forward_mixer", "mamba_fwd").replace("reverse_mixer", "mamba_rev")
    raise AssertionError(f"test has no expectation for {our_key}")


def test_every_parameter_gets_its_tensor():
    state = their_state()
    model = load_authors_checkpoint(state, EXTRA)
    ours = model.state_dict()
    for key, value in ours.items():
        if key.startswith("beta_head."):
            continue
        assert torch.equal(value, state["model." + expected_source(key)]), key
    # their alpha is logit 1, beta logit 0; ours alpha is column 0
    assert torch.equal(ours["beta_head.weight"][0], state["model.mask_output.weight"][1])
    assert torch.equal(ours["beta_head.weight"][1], state["model.mask_output.weight"][0])
    assert torch.equal(ours["beta_head.bias"], state["model.mask_output.bias"].flip(0))
    cfg = model.cfg
    assert cfg.signal_weights == pytest.approx((0.4, 0.4, 0.2))
    assert cfg.signal_b == pytest.approx((1.5, 0.2, 1.0))
    assert (cfg.backbone.d_model, cfg.backbone.n_layer, cfg.backbone.d_state) == (16, 2, 4)
    # the tie holds after loading: one Parameter for both directions
    mixer = model.predictor.layers[1].mixer
    assert mixer.reverse_mixer.in_proj.weight is mixer.forward_mixer.in_proj.weight


def test_forward_runs_and_beta_head_matches_their_reading():
    state = their_state()
    model = load_authors_checkpoint(state, EXTRA)
    g = torch.Generator().manual_seed(1)
    length = 32
    batch = {
        "dna": torch.eye(4)[torch.randint(0, 4, (2, length), generator=g)],
        "signals": torch.rand(2, length, 3, generator=g),
        "features": torch.randn(2, 9, generator=g),
    }
    with torch.no_grad():
        out = model(batch)
        assert out.prediction.shape == (2,) and torch.isfinite(out.prediction).all()
        # their posterior: alpha = softplus(logit[..., 1]) + beta_min with their mask_output weights
        states = model.generator(model.dna_embed(batch["dna"]))
        logits = states @ state["model.mask_output.weight"].T + state["model.mask_output.bias"]
        their_alpha_seq = torch.nn.functional.softplus(logits[..., 1]) + 1.0
        sig_alpha = ((batch["signals"] + 1.0) * 10.0 * torch.tensor([0.4, 0.4, 0.2])).sum(-1)
        torch.testing.assert_close(out.alpha, their_alpha_seq + sig_alpha)


def test_paper_size_maps_and_returns_state_dict():
    sizes = dict(TINY, d_model=128, n_layer=4, d_state=16)
    converted, options = load_authors_checkpoint(their_state(sizes), return_state_dict=True)
    assert options["model"] == "seq2exp_soft"
    assert (options["d_model"], options["n_layer"], options["d_state"], options["dt_rank"]) == (128, 4, 16, 8)
    assert converted["predictor.layers.3.mixer.forward_mixer.x_proj.weight"].shape == (40, 256)
    assert converted["head.mlp.0.weight"].shape == (128, 137)


def test_missing_key_is_named():
    state = their_state()
    del state["model.encoder.backbone.layers.1.mixer.mamba_fwd.D"]
    with pytest.raises(
        AuthorsCheckpointError, match=r"missing key 'encoder\.backbone\.layers\.1\.mixer\.mamba_fwd\.D'"
    ):
        load_authors_checkpoint(state, EXTRA)


def test_wrong_shape_and_unmapped_key_are_named_with_the_file(tmp_path):
    state = their_state()
    state["model.generator.backbone.layers.0.mixer.mamba_fwd.conv1d.bias"] = torch.zeros(7)
    state["model.something_new.weight"] = torch.zeros(3)
    path = tmp_path / "authors.ckpt"
    torch.save({"state_dict": state, "hyper_parameters": {}}, path)
    with pytest.raises(AuthorsCheckpointError) as err:
        load_authors_checkpoint(path, EXTRA)
    message = str(err.value)
    assert str(path) in message
    assert "shape of 'generator.backbone.layers.0.mixer.mamba_fwd.conv1d.bias' is (7,)" in message
    assert "unmapped key 'something_new.weight'" in message


def _pickled_under_missing_module(content):
    """An object like omegaconf's DictConfig (state {"_content": ...}) whose class's module is gone
    at load time, as omegaconf is here."""
    module = types.ModuleType("not_installed_omegaconf")

    class DictConfig:
        def __init__(self, content):
            self._content = content

    DictConfig.__module__ = module.__name__
    DictConfig.__qualname__ = "DictConfig"
    module.DictConfig = DictConfig
    return module, DictConfig(content)


def test_checkpoint_file_with_unimportable_hparams_and_their_switches(tmp_path, monkeypatch):
    state = their_state()
    path = tmp_path / "soft.ckpt"
    config = {
        "beta_min": 1,
        "prior_scale_factor": 10.0,
        "marginal_mean": 0.1,
        "marginal_scale": 10.0,
        "test_soft": True,
        "center_len": 8,
    }
    module, hparams = _pickled_under_missing_module({"model": {"config": config}})
    with monkeypatch.context() as m:
        m.setitem(sys.modules, module.__name__, module)
        torch.save({"state_dict": state, "hyper_parameters": hparams}, path)
    assert module.__name__ not in sys.modules
    model = load_authors_checkpoint(path)
    assert model.cfg.prior == pytest.approx((10.0, 90.0))
    assert model.cfg.signal_scale == 10.0 and model.cfg.central_region_bp == 8
    config.update(z_scale=2.0)
    torch.save({"state_dict": state, "hyper_parameters": {"model": {"config": config}}}, path)
    with pytest.raises(AuthorsCheckpointError, match="z_scale=2.0"):
        load_authors_checkpoint(path)


def test_unmappable_layouts_are_explained():
    state = their_state()
    state["model.pos_emb"] = torch.zeros(1, 32, 16)
    state["model.encoder.backbone.layers.0.norm.bias"] = torch.zeros(16)
    key = "model.generator.backbone.layers.1.mixer.mamba_rev.in_proj.weight"
    state[key] = state[key] + 1  # untied directions
    with pytest.raises(AuthorsCheckpointError) as err:
        load_authors_checkpoint(state, EXTRA)
    message = str(err.value)
    assert "pos_emb (1, 32, 16)" in message and "positional" in message
    assert "LayerNorm" in message
    assert "generator.backbone.layers.1.mixer.mamba_rev.in_proj.weight differs" in message


def test_shared_generator_and_predictor_is_refused():
    state = their_state()
    for k in list(state):
        if k.startswith("model.encoder."):
            state[k] = state[k.replace("model.encoder.", "model.generator.")]
    with pytest.raises(AuthorsCheckpointError, match="enc_prd_ps"):
        load_authors_checkpoint(state, EXTRA)


def test_evaluation_on_a_store_feeds_raw_features_and_writes_the_predictions_table(tmp_path):
    import numpy as np
    import pandas as pd
    from test_training import make_store

    from seq2exp.cli import main
    from seq2exp.evaluation.authors_weights import evaluate_authors_weights
    from seq2exp.training.dataset import GeneWindows

    make_store(tmp_path / "store")
    ckpt = tmp_path / "authors.ckpt"
    torch.save({"state_dict": their_state()}, ckpt)
    genes = str(tmp_path / "store" / "genes.tsv")
    table = evaluate_authors_weights(
        ckpt, str(tmp_path / "store"), "CELL", genes, str(tmp_path / "p.tsv"), EXTRA, batch_size=2, block_size=16
    )
    assert list(table["split"].unique()) == ["test"] and (table["source"] == "authors-weights").all()
    assert {"gene_id", "target", "prediction", "mask_ratio"} <= set(table.columns)
    # same numbers as our model on the store's items with the unscaled features, unstreamed
    model = load_authors_checkpoint(their_state(), EXTRA)
    windows = GeneWindows(str(tmp_path / "store"), "CELL")
    rows = [i for i, g in enumerate(windows.gene_ids) if g in set(table["gene_id"])]
    items = [windows[i] for i in rows]
    batch = {
        "dna": torch.eye(5)[torch.from_numpy(np.stack([it["dna"] for it in items])).long()][..., :4],
        "signals": torch.from_numpy(np.stack([it["signals"] for it in items])).float().transpose(1, 2),
        "blacklist": torch.from_numpy(np.stack([it["blacklist"] for it in items])),
        "features": torch.from_numpy(np.stack([it["features"] for it in items])).float(),
    }
    with torch.no_grad():
        expected = model(batch).prediction
    got = table.set_index("gene_id").loc[[windows.gene_ids[i] for i in rows], "prediction"].to_numpy()
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-4, atol=1e-5)
    main(
        [
            "authors-weights",
            "--checkpoint",
            str(ckpt),
            "--store",
            str(tmp_path / "store"),
            "--cell",
            "CELL",
            "--genes-table",
            genes,
            "--out",
            str(tmp_path / "all.tsv"),
            "--all-genes",
            "--central-region",
            "8",
        ]
    )
    assert len(pd.read_csv(tmp_path / "all.tsv", sep="\t")) == 12


def test_evaluation_refuses_a_store_whose_hic_channel_is_abcs(tmp_path):
    import h5py
    from test_training import make_store

    from seq2exp.evaluation.authors_weights import evaluate_authors_weights
    from seq2exp.files import write_checksum

    make_store(tmp_path / "store")
    cell = tmp_path / "store" / "CELL.h5"
    with h5py.File(cell, "a") as handle:
        handle.attrs["hic_recipe"] = "abc"
    write_checksum(str(cell))
    with pytest.raises(AuthorsCheckpointError, match=r"CELL\.h5: its Hi-C channel was made by the 'abc' recipe"):
        evaluate_authors_weights(
            their_state(),
            str(tmp_path / "store"),
            "CELL",
            str(tmp_path / "store" / "genes.tsv"),
            options=EXTRA,
            block_size=16,
        )
