"""Load the authors' trained Seq2Exp weights (a Lightning `.ckpt` of divelab/AIRS, OpenBio/Seq2Exp) into
our `Seq2Exp` model.

Their checkpoint (README of their repository: https://huggingface.co/xingyusu/GeneExp_Seq2Exp) holds the
state of their Lightning module, whose `model` attribute is their `GeneBiMambaMIRNP`
(src/models/sequence/GeneExpformer.py) with the config `configs/model/gene_express_bimamba_MI_RNP.yaml`
and the overrides of their `Seq2Exp.sh`. The mapping below was written from reading that code
(our own code; nothing of theirs is copied). Their key -> our key, "model." prefix stripped:

    seq_input_layer.{weight,bias}                  -> dna_embed.linear.{weight,bias}      Linear(4 -> d)
    signal_input_layer.{weight,bias}               -> signal_embed.linear.{weight,bias}   Linear(3 -> d)
    mask_output.{weight,bias}                      -> beta_head.{weight,bias}   rows swapped (see below)
    pToExpr.{0,2,4}.{weight,bias}                  -> head.mlp.{0,2,4}.{weight,bias}      MLP (d+9) -> d -> d -> 1
    generator.backbone.<caduceus>                  -> generator.<ours>
    encoder.backbone.<caduceus>                    -> predictor.<ours>
      layers.{i}.mixer.mamba_fwd.<p>               -> layers.{i}.mixer.forward_mixer.<p>
      layers.{i}.mixer.mamba_rev.<p>               -> layers.{i}.mixer.reverse_mixer.<p>
          <p> in in_proj.weight, conv1d.{weight,bias}, x_proj.weight, dt_proj.{weight,bias}, A_log, D,
          out_proj.weight (mamba-ssm 1.1.2 `Mamba`, bias=False, conv_bias=True)
      layers.{i}.norm.weight                       -> layers.{i}.norm.weight     (mamba-ssm RMSNorm, no bias)
      norm_f.weight                                -> norm_f.weight
    prior_weights (3,)  log of the normalised signal weights "2,2,1" -> config signal_weights = softmax(.)
    signal_betas  (3,)  (1.5, 0.2, 1.0)                               -> config signal_b

Exact conversions:
  * Beta head: their `posterior_dist` reads alpha from logit[..., 1] and beta from logit[..., 0]; ours
    (`sequence_beta`) reads alpha from column 0. So their rows 0 and 1 are swapped into ours.
  * Tied directions: their BiMambaWrapper with `bidirectional_weight_tie` makes mamba_rev.in_proj /
    out_proj the same Parameter as mamba_fwd's; a state dict then carries both names with equal values,
    and so does ours (BiMamba ties the same two weights). Both their copies are checked to be equal.
  * Their two config-carrying parameters (requires_grad False in the published runs) become config values.
  * Their RMSNorm (mamba-ssm, weight only, eps 1e-5, x * rsqrt(mean(x^2) + eps) * weight) is ours.
  * Their blocks (mamba-ssm `Block`: residual = h + residual; h = mixer(norm(residual)); final
    norm_f(h + residual)) compute x_{k+1} = x_k + mixer(norm(x_k)), norm_f(x_n), as ours.
  * Embeddings: their one-hot is A, C, G, T (src/dataloaders/utils/dna.py) and N all zeros, signals
    (H3K27ac, DNase, Hi-C), features in the order UTR5LEN, CDSLEN, INTRONLEN, UTR3LEN (log10 z-score),
    UTR5GC, CDSGC, UTR3GC, ORFEXONDENSITY, PromoterActivity: ours, so no column is permuted.

What cannot be mapped (an `AuthorsCheckpointError` says which and why):
  * `pos_emb` (1, 200000, d): their hard run (`pos_enc=True` in Seq2Exp.sh) learns a positional
    embedding added to the DNA embedding before the generator and the compacted predictor; our model
    has no positional parameter, so that checkpoint computes a function we cannot express.
  * Shared generator/predictor (`enc_prd_ps=True`, their hard run): their generator then reads
    DNA + signal embeddings, ours reads the DNA embedding only; the weights would load but the
    generator would see another input. Refused.
  * LayerNorm blocks (`rms_norm: false`: norm `.bias` keys): LayerNorm subtracts the mean, RMSNorm
    does not; no RMSNorm weight reproduces it.
  * Untied directions (`bidirectional_weight_tie: false`, mamba_rev.in_proj != mamba_fwd.in_proj):
    our BiMamba ties those weights, so it holds one copy only.
  * in_proj / out_proj biases (`ssm_cfg.bias: true`) and RCPS layouts: our mixer has no such parameters.
  * Config switches with no counterpart in ours (read from the checkpoint's hyper-parameters when they
    can be read): z_scale != 1, post_dist kuma, decouple_x false, interact != concat, gen_signal, prior
    from one signal only, external masks (use_mask_model / use_bio_mask / use_peak_mask),
    merge_peak_mask, include lists, test_top, pool_mask, bidirectional strategy other than "add".

Settings that are not tensors (beta_min, prior_scale_factor -> signal_scale, marginal_mean/scale -> prior,
test_hard -> mask "hard", sample_threshold, center_len -> central/pooled region) come from the
checkpoint's hyper-parameters (`hyper_parameters["model"]["config"]`, read even without omegaconf
installed); where those cannot be read, our defaults apply, which are the published soft run's
(Seq2Exp.sh: beta_min 1, prior_scale_factor 10, marginal_mean 0.1, marginal_scale 10, test_soft).

Forward-pass details that are not weights (noted, not refused): their Beta parameters carry +1e-8;
they ran bf16 with the residual stream in bf16 (`residual_in_fp32: false`); their windows are
[tss - 100 kb, tss + 100 kb) with the ABC GeneList TSS, not reverse-complemented on minus-strand genes;
their features are unscaled (EPInformer's z-scored lengths, raw GC, raw PromoterActivity).
"""

from __future__ import annotations

import pickle
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from ..features.genes import EPINFORMER_MRNA_FEATURES
from ..models.registry import build_model

PREFIX = "model."
CONFIG_PARAMS = ("prior_weights", "signal_betas")

# Their backbone attribute -> ours; their mixer direction -> ours.
_BACKBONES = {"generator": "generator", "encoder": "predictor"}
_DIRECTIONS = {"mamba_fwd": "forward_mixer", "mamba_rev": "reverse_mixer"}
_TOP_LEVEL = {
    "seq_input_layer": "dna_embed.linear",
    "signal_input_layer": "signal_embed.linear",
    "mask_output": "beta_head",
    "pToExpr": "head.mlp",
}


class AuthorsCheckpointError(ValueError):
    """The checkpoint does not map onto our model; the message lists every problem."""


# ---------------------------------------------------------------------------------------------
# Reading a Lightning checkpoint without their packages (omegaconf, their src.*) installed


class _Missing:
    """Stands in for a class the pickle names but this environment lacks (e.g. omegaconf.DictConfig)."""

    def __init__(self, *args, **kwargs):
        self._args, self._kwargs, self._state = args, kwargs, None

    def __setstate__(self, state):
        self._state = state


class _TolerantUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            return type(name, (_Missing,), {"__module__": module})


_TOLERANT_PICKLE = SimpleNamespace(
    Unpickler=_TolerantUnpickler,
    load=lambda f, **kw: _TolerantUnpickler(f, **kw).load(),
    __name__="seq2exp_tolerant_pickle",
)


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict of a Lightning `.ckpt` (classes this environment lacks become stand-ins)."""
    return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_TOLERANT_PICKLE)


def _plain(obj: Any) -> Any:
    """omegaconf containers (real or stand-ins) -> dicts, lists and values, best effort."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(obj, (DictConfig, ListConfig)):
            return OmegaConf.to_container(obj, resolve=False)
    except ImportError:
        pass
    if isinstance(obj, _Missing):
        state = obj._state if isinstance(obj._state, dict) else {}
        if "_content" in state:
            return _plain(state["_content"])
        if "_val" in state:
            return _plain(state["_val"])
        return obj
    if isinstance(obj, Mapping):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def authors_model_config(checkpoint: Mapping) -> dict | None:
    """Their `model.config` hyper-parameters from a checkpoint dict, or None where unreadable."""
    hparams = _plain(checkpoint.get("hyper_parameters"))
    if not isinstance(hparams, Mapping):
        return None
    config = hparams.get("model", {})
    config = config.get("config") if isinstance(config, Mapping) else None
    return dict(config) if isinstance(config, Mapping) else None


# ---------------------------------------------------------------------------------------------
# Key mapping


def their_key(our_key: str) -> str:
    """Our Seq2Exp state-dict key -> theirs (without the Lightning "model." prefix)."""
    head, _, rest = our_key.partition(".")
    for theirs, ours in _BACKBONES.items():
        if head == ours:
            m = re.fullmatch(r"layers\.(\d+)\.mixer\.(forward_mixer|reverse_mixer)\.(.+)", rest)
            if m:
                direction = {v: k for k, v in _DIRECTIONS.items()}[m.group(2)]
                return f"{theirs}.backbone.layers.{m.group(1)}.mixer.{direction}.{m.group(3)}"
            return f"{theirs}.backbone.{rest}"  # layers.{i}.norm.weight, norm_f.weight
    for theirs, ours in _TOP_LEVEL.items():
        if our_key.startswith(ours + "."):
            return theirs + our_key[len(ours) :]
    raise KeyError(f"no authors' counterpart known for our key {our_key!r}")


def _convert(our_key: str, tensor: torch.Tensor) -> torch.Tensor:
    """Their tensor -> ours: the Beta head's two output rows are swapped (their alpha is logit 1)."""
    if our_key.startswith("beta_head."):
        return tensor.flip(0)
    return tensor


def strip_prefix(state: Mapping[str, torch.Tensor]) -> tuple[dict, list[str]]:
    """(their model's keys without "model.", keys outside the model). A bare model state dict (no key
    with the prefix) is taken as it is."""
    if not any(k.startswith(PREFIX) for k in state):
        return dict(state), []
    inside = {k[len(PREFIX) :]: v for k, v in state.items() if k.startswith(PREFIX)}
    return inside, sorted(k for k in state if not k.startswith(PREFIX))


def _layers(state: Mapping, backbone: str) -> int:
    found = {int(m.group(1)) for k in state if (m := re.match(rf"{backbone}\.backbone\.layers\.(\d+)\.", k))}
    return max(found) + 1 if found else 0


def infer_options(state: Mapping[str, torch.Tensor]) -> dict:
    """Our backbone and head sizes read off their tensor shapes (the model. prefix stripped)."""
    problems = [
        f"missing {k!r}"
        for k in (
            "seq_input_layer.weight",
            "pToExpr.0.weight",
            "encoder.backbone.layers.0.mixer.mamba_fwd.A_log",
            "encoder.backbone.layers.0.mixer.mamba_fwd.dt_proj.weight",
            "encoder.backbone.layers.0.mixer.mamba_fwd.conv1d.weight",
        )
        if k not in state
    ]
    if problems:
        raise AuthorsCheckpointError("cannot read the model sizes: " + "; ".join(problems))
    d_model = state["seq_input_layer.weight"].shape[0]
    mixer = "encoder.backbone.layers.0.mixer.mamba_fwd."
    d_inner, d_state = state[mixer + "A_log"].shape
    n_layer, gen_layers = _layers(state, "encoder"), _layers(state, "generator")
    if gen_layers and gen_layers != n_layer:
        raise AuthorsCheckpointError(
            f"generator has {gen_layers} layers and predictor {n_layer}; "
            "our Seq2Exp builds both from one backbone config"
        )
    options = dict(
        d_model=d_model,
        n_layer=n_layer,
        d_state=d_state,
        expand=d_inner // d_model,
        d_conv=state[mixer + "conv1d.weight"].shape[-1],
        dt_rank=state[mixer + "dt_proj.weight"].shape[1],
        n_features=state["pToExpr.0.weight"].shape[1] - d_model,
        mlp_hidden=state["pToExpr.0.weight"].shape[0],
    )
    if "signal_input_layer.weight" in state:
        options["n_signals"] = state["signal_input_layer.weight"].shape[1]
    if "prior_weights" in state:
        options["signal_weights"] = tuple(torch.softmax(state["prior_weights"].float(), 0).tolist())
    if "signal_betas" in state:
        options["signal_b"] = tuple(state["signal_betas"].float().tolist())
    return options


# Their hyper-parameter -> required value (what our model computes).
_REQUIRED = {
    "z_scale": 1.0,
    "post_dist": "beta",
    "post_sample": True,
    "decouple_x": True,
    "only_x_sig": False,
    "interact": "concat",
    "gen_signal": False,
    "prior_signal": "all",
    "use_mask_model": False,
    "use_bio_mask": False,
    "use_peak_mask": False,
    "merge_peak_mask": False,
    "use_include_list": False,
    "test_top": False,
    "pool_mask": 0,
    "pos_enc": False,
    "enc_prd_ps": False,
    "rcps": False,
    "bidirectional": True,
    "bidirectional_strategy": "add",
    "bidirectional_weight_tie": True,
    "rms_norm": True,
    "useRNAFeat": True,
    "max_pool_size": 0,
}


def options_from_hparams(config: Mapping) -> tuple[dict, list[str]]:
    """(our options, problems) from their `model.config` hyper-parameters."""
    problems = [
        f"hyper-parameter {k}={config[k]!r} (ours computes {v!r})"
        for k, v in _REQUIRED.items()
        if k in config and config[k] != v
    ]
    options: dict = {}
    if "beta_min" in config:
        options["beta_min"] = float(config["beta_min"])
    if "prior_scale_factor" in config:
        options["signal_scale"] = float(config["prior_scale_factor"])
    if "marginal_mean" in config and "marginal_scale" in config:
        mean, scale = float(config["marginal_mean"]), float(config["marginal_scale"])
        options["prior"] = (scale, scale * (1 - mean) / mean)
    if config.get("test_hard") and not config.get("test_soft"):
        options["mask"] = "hard"
    if "sample_threshold" in config:
        options["threshold"] = float(config["sample_threshold"])
    if "center_len" in config:
        options["central_region_bp"] = options["pooled_region_bp"] = int(config["center_len"])
    return options, problems


def _structural_problems(state: Mapping[str, torch.Tensor]) -> list[str]:
    """Parts of their layout that have no exact counterpart in ours (see the module docstring)."""
    problems = []
    if "pos_emb" in state:
        problems.append(
            f"pos_emb {tuple(state['pos_emb'].shape)}: a learned positional embedding (their "
            "pos_enc=True, the hard run); our model has no positional parameter"
        )
    if "mask_model" in {k.split(".")[0] for k in state}:
        problems.append("mask_model.*: a frozen mask model (use_mask_model); ours takes external masks as input")
    for key in sorted(state):
        if re.search(r"\.norm(_f)?\.bias$", key):
            problems.append(f"{key}: LayerNorm (rms_norm false); ours is RMSNorm, which no weight makes a LayerNorm")
        if re.search(r"\.(in_proj|out_proj)\.bias$", key):
            problems.append(f"{key}: a projection bias (ssm_cfg.bias true); our mixer has none")
    for backbone in _BACKBONES:
        for i in range(_layers(state, backbone)):
            for p in ("in_proj.weight", "out_proj.weight"):
                fwd = state.get(f"{backbone}.backbone.layers.{i}.mixer.mamba_fwd.{p}")
                rev = state.get(f"{backbone}.backbone.layers.{i}.mixer.mamba_rev.{p}")
                if fwd is not None and rev is not None and (fwd.shape != rev.shape or not torch.equal(fwd, rev)):
                    problems.append(
                        f"{backbone}.backbone.layers.{i}.mixer.mamba_rev.{p} differs from mamba_fwd's "
                        "(bidirectional_weight_tie false); our BiMamba ties the two directions"
                    )
    gen = {k[len("generator.") :]: v for k, v in state.items() if k.startswith("generator.")}
    enc = {k[len("encoder.") :]: v for k, v in state.items() if k.startswith("encoder.")}
    if gen and gen.keys() == enc.keys() and all(torch.equal(gen[k], enc[k]) for k in gen):
        problems.append(
            "generator.* equals encoder.* (enc_prd_ps=True, the hard run): their shared backbone "
            "reads DNA + signal embeddings as generator, ours reads the DNA embedding only"
        )
    return problems


def convert_state_dict(
    state: Mapping[str, torch.Tensor],
    options: Mapping | None = None,
    source: str = "state dict",
    hparams: Mapping | None = None,
) -> tuple[dict, dict]:
    """(our Seq2Exp state dict, our registry options) from their state dict (with or without the
    Lightning "model." prefix). `options` override what the tensors and `hparams` imply. Every key of
    theirs must map, every key of ours must be filled, every shape must match; otherwise an
    AuthorsCheckpointError lists all problems, naming `source`."""
    theirs, outside = strip_prefix(state)
    problems = [f"unmapped key {k!r} (outside the {PREFIX!r} model)" for k in outside]
    problems += _structural_problems(theirs)
    try:
        opts = infer_options(theirs)
    except AuthorsCheckpointError as err:
        raise AuthorsCheckpointError(f"{source}: {err}") from None
    if hparams is not None:
        from_hparams, hp_problems = options_from_hparams(hparams)
        opts.update(from_hparams)
        problems += hp_problems
    opts.update(options or {})
    if problems:
        raise AuthorsCheckpointError(f"{source} does not map onto our Seq2Exp:\n  " + "\n  ".join(problems))
    name = "seq2exp_hard" if opts.get("mask") == "hard" else "seq2exp_soft"
    opts.setdefault("share_weights", False)
    opts.setdefault("compact", False)
    model = build_model(name, opts)
    ours = model.state_dict()
    converted, used = {}, set(CONFIG_PARAMS)
    missing, mismatched = [], []
    for key, target in ours.items():
        src = their_key(key)
        if src not in theirs:
            missing.append(f"missing key {src!r} (for our {key!r}, shape {tuple(target.shape)})")
            continue
        used.add(src)
        tensor = _convert(key, theirs[src])
        if tuple(tensor.shape) != tuple(target.shape):
            mismatched.append(f"shape of {src!r} is {tuple(tensor.shape)}, our {key!r} needs {tuple(target.shape)}")
            continue
        converted[key] = tensor.detach().to(dtype=target.dtype).clone()
    unmapped = [f"unmapped key {k!r} {tuple(theirs[k].shape)}" for k in sorted(set(theirs) - used)]
    problems = unmapped + missing + mismatched
    if problems:
        raise AuthorsCheckpointError(f"{source} does not map onto our Seq2Exp:\n  " + "\n  ".join(problems))
    return converted, {"model": name, **opts}


def load_authors_checkpoint(
    path_or_state_dict: str | Path | Mapping, options: Mapping | None = None, return_state_dict: bool = False
):
    """Our Seq2Exp (eval mode) holding the authors' weights, from their Lightning `.ckpt` path, a loaded
    checkpoint dict (with "state_dict") or a bare state dict. With `return_state_dict`, (our state
    dict, our options) instead. `options` are our registry options (e.g. central_region_bp) and win
    over what the checkpoint implies; the model's registry name is in the returned options["model"]."""
    hparams = None
    if isinstance(path_or_state_dict, (str, Path)):
        source = str(path_or_state_dict)
        checkpoint = read_checkpoint(path_or_state_dict)
    else:
        source, checkpoint = "the given state dict", path_or_state_dict
    if isinstance(checkpoint, Mapping) and "state_dict" in checkpoint:
        hparams = authors_model_config(checkpoint)
        state = checkpoint["state_dict"]
    else:
        state = checkpoint
    if not isinstance(state, Mapping):
        raise AuthorsCheckpointError(f"{source}: no state dict found")
    converted, opts = convert_state_dict(state, options, source, hparams)
    if return_state_dict:
        return converted, opts
    model = build_model(opts["model"], {k: v for k, v in opts.items() if k != "model"})
    model.load_state_dict(converted, strict=True)
    model.authors_options = opts
    return model.eval()


# ---------------------------------------------------------------------------------------------
# Evaluating the authors' weights on our store

# The extra features their head reads, in order (their ExperInteractDataset): the eight mRNA features
# of EPInformer's table, then ABC's PromoterActivity; unscaled. Our store's names for them:
AUTHORS_FEATURES = (*EPINFORMER_MRNA_FEATURES, "promoter_activity")


def authors_module(path_or_state_dict, options: Mapping | None = None):
    """An `ExpressionModule` (as `train.predict` takes) holding the authors' weights; features pass
    unscaled (their head was trained on raw features), so its scaling is the identity."""
    from seq2exp.training.batches import FeatureScaling
    from seq2exp.training.specs import MODEL_SPECS
    from seq2exp.training.train import ExpressionModule

    converted, opts = load_authors_checkpoint(path_or_state_dict, options, return_state_dict=True)
    name = {spec.registry_name: key for key, spec in MODEL_SPECS.items()}[opts["model"]]
    import numpy as np

    n = opts["n_features"]
    identity = FeatureScaling(np.zeros(n), np.ones(n)).to_dict()
    module = ExpressionModule(name, {k: v for k, v in opts.items() if k != "model"}, {}, identity)
    module.model.load_state_dict(converted, strict=True)
    return module.eval()


def evaluate_authors_weights(
    checkpoint,
    store_dir: str,
    cell_type: str,
    genes_path: str,
    out_tsv: str | None = None,
    options: Mapping | None = None,
    batch_size: int = 1,
    block_size: int | None = None,
    device: str = "cpu",
    masks_path: str | None = None,
    splits=("test",),
):
    """Predictions of the authors' weights for the store's genes of `splits` (all genes: None), in
    `train.predict`'s table layout (mask ratios included) plus `source = authors-weights`; written to
    `out_tsv` if given, the masks to `masks_path` if given.
    `block_size` streams each scan in blocks (a 200 kb window on a CPU). The store's features must be
    the nine the authors' head reads, in their order; they are fed unscaled."""
    import h5py
    import numpy as np
    import pandas as pd

    from seq2exp.files import write_tsv
    from seq2exp.training.batches import BatchMaker, FeatureScaling, check_channel_order
    from seq2exp.training.dataset import GeneWindows
    from seq2exp.training.train import predict

    windows = GeneWindows(store_dir, cell_type)
    check_channel_order(windows)
    with h5py.File(windows.cell_path, "r") as handle:
        columns = tuple(handle.attrs.get("feature_columns", ()))
        hic_recipe = handle.attrs.get("hic_recipe", "authors")
    if hic_recipe != "authors":
        raise AuthorsCheckpointError(
            f"{windows.cell_path}: its Hi-C channel was made by the {hic_recipe!r} "
            "recipe; the authors' weights read their own (set hic.recipe: authors)"
        )
    if columns and columns != AUTHORS_FEATURES:
        raise AuthorsCheckpointError(
            f"{windows.cell_path}: features {columns}; the authors' head reads "
            f"{AUTHORS_FEATURES} (genes.mrna_features must be EPInformer's table)"
        )
    module = authors_module(checkpoint, options)
    if module.model.cfg.n_features != windows.features.shape[1]:
        raise AuthorsCheckpointError(
            f"{windows.cell_path}: {windows.features.shape[1]} features per gene, the "
            f"checkpoint's head reads {module.model.cfg.n_features}"
        )
    module.model.block_size = block_size
    module.to(device)
    genes = pd.read_csv(genes_path, sep="\t")
    split_of = genes.set_index("gene_id")["split"].reindex(windows.gene_ids).to_numpy()
    rows = np.arange(len(windows)) if splits is None else np.flatnonzero(np.isin(split_of, list(splits)))
    n = windows.features.shape[1]
    collate = BatchMaker(FeatureScaling(np.zeros(n), np.ones(n)))
    with windows, tempfile.TemporaryDirectory() as scratch:  # predict() reports mask ratios only while writing masks
        table = predict(
            module, windows, rows, collate, genes, batch_size, masks_path=masks_path or str(Path(scratch) / "masks.h5")
        )
    table.insert(0, "source", "authors-weights")
    if out_tsv:
        write_tsv(table, out_tsv)
    return table
