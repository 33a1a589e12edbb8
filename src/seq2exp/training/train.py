"""Training one model on one cell type: the Lightning module, the trainer, resumable work folders,
and the predictions (and masks) of the best checkpoint for every gene.

A job's work folder (`.../models/<cell>/<model>/work/`) is not a declared output, so it survives
Snakemake's clean-up of failed jobs; its `last.ckpt` is resumed only when `manifest.json` beside it
matches the job (config hash, split, store checksums). The declared outputs are written last:
`best.ckpt`, `manifest.json`, `metrics.csv`, `predictions.tsv` and, for models with a mask, `masks.h5`.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import math
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from lightning.fabric.utilities.seed import _collect_rng_states, _set_rng_states
from lightning.pytorch.utilities import move_data_to_device, rank_zero_only

from ..config import training_settings
from ..features.genome import central_slice
from ..files import atomic_output, read_checksum, sha256sum, write_tsv
from ..models import build_model, rc_averaged_predict, reverse_complement_sample, tune_allocator
from ..models.beta_mask import force_mask
from ..models.head import ModelOutput
from ..models.seq2exp import Seq2Exp
from .batches import BatchMaker, FeatureScaling, IndexedWindows, MaskSource, check_channel_order, split_indices
from .dataset import GeneWindows
from .masks import MaskWriter
from .specs import MODEL_SPECS, model_options

log = logging.getLogger(__name__)


# --- schedule and module -------------------------------------------------------------------


def warmup_cosine(
    step: int, lr: float, warmup_steps: int, warmup_start_lr: float, min_lr: float, max_steps: int
) -> float:
    """Linear warm-up from `warmup_start_lr` to `lr`, then a cosine down to `min_lr` at `max_steps`."""
    if step < warmup_steps:
        return warmup_start_lr + (lr - warmup_start_lr) * step / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, max_steps - warmup_steps))
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * progress))


class ExpressionModule(L.LightningModule):
    """A registry model with its optimiser, schedule, augmentation and validation metrics."""

    def __init__(self, model: str, options: dict, training: dict, scaling: dict):
        super().__init__()
        self.save_hyperparameters()
        self.spec = MODEL_SPECS[model]
        self.model = build_model(self.spec.registry_name, options)
        self.training_cfg = training
        self._val: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, batch: dict):
        return self.model(batch)

    def evaluate(self, batch: dict) -> tuple[torch.Tensor, ModelOutput]:
        """(the prediction, the model's output on the forward strand, whose mask the predictor saw)."""
        output = self.model(batch)
        if self.spec.reverse_complement:
            return rc_averaged_predict(self.model, batch, output), output
        return output.prediction, output

    def predict_batch(self, batch: dict) -> torch.Tensor:
        return self.evaluate(batch)[0]

    def training_step(self, batch: dict, batch_idx: int):
        if self.spec.reverse_complement and torch.rand(()) < 0.5:
            batch = reverse_complement_sample(batch)
        loss, metrics = self.model.loss(self.model(batch), batch["target"])
        self.log_dict({f"train/{k}": v for k, v in metrics.items()}, batch_size=len(batch["target"]))
        self.log("lr", self.trainer.optimizers[0].param_groups[0]["lr"], batch_size=len(batch["target"]))
        return loss

    def validation_step(self, batch: dict, batch_idx: int):
        self._val.append((batch["row"], self.predict_batch(batch).float(), batch["target"].float()))

    def on_validation_epoch_end(self):
        if not self._val:
            return
        rows, prediction, target = (torch.cat(parts) for parts in zip(*self._val))
        self._val.clear()
        # Under DDP each process validated a share of the genes, and the sampler repeats a few to even
        # the shares: every process scores all validation genes once, so all pick the same best step.
        rows, prediction, target = (self.all_gather(x).reshape(-1).cpu() for x in (rows, prediction, target))
        first = torch.from_numpy(np.unique(rows.numpy(), return_index=True)[1])
        prediction, target = prediction[first], target[first]
        self.log_dict({"val/mse": F.mse_loss(prediction, target), "val/pearson": pearson(prediction, target)})

    def configure_optimizers(self):
        t = self.training_cfg
        optimizer = torch.optim.AdamW(
            self.parameters(), lr=t["lr"], weight_decay=t["weight_decay"], betas=tuple(t["betas"])
        )
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda step: (
                warmup_cosine(step, t["lr"], t["warmup_steps"], t["warmup_start_lr"], t["min_lr"], t["max_steps"])
                / t["lr"]
            ),
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def pearson(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x, y = x - x.mean(), y - y.mean()
    return (x * y).sum() / (x.norm() * y.norm()).clamp(min=1e-12)


# --- manifest and resume ----------------------------------------------------------------


def config_hash(settings: dict) -> str:
    """Hash of a job's `training_settings`: everything in the config that shapes its training (the
    window, split and target reach it through the store and gene table, checksummed apart)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def changed_keys(old: dict, new: dict, prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two nested mappings."""
    keys = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += changed_keys(a, b, f"{prefix}{key}.")
        elif a != b:
            keys.append(f"{prefix}{key}")
    return keys


def code_version() -> str:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=10,
        )
        if out.returncode == 0:
            return out.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    from importlib.metadata import version

    return f"seq2exp {version('seq2exp')}"


def make_manifest(
    config: dict, model: str, cell: str, store_dir: str, genes: pd.DataFrame, extra_inputs: dict[str, str]
) -> dict:
    """The job's manifest; its split is that of the gene table the job read, never the config's."""
    split = {part: sorted(genes.loc[genes["split"] == part, "gene_id"]) for part in ("valid", "test")}
    settings = training_settings(config, model)
    return {
        "model": model,
        "cell_type": cell,
        "seed": config["training"]["seed"],
        "config_hash": config_hash(settings),
        "settings": settings,
        "split_hash": hashlib.sha256(json.dumps(split).encode()).hexdigest()[:16],
        "split": {
            **{part: sorted(genes.loc[genes["split"] == part, "chrom"].unique()) for part in ("valid", "test")},
            **{f"n_{part}": int((genes["split"] == part).sum()) for part in ("train", "valid", "test")},
        },
        "store_checksum": {name: read_checksum(str(Path(store_dir) / name)) for name in ("sequence.h5", f"{cell}.h5")},
        "inputs_checksum": {k: sha256sum(v) for k, v in extra_inputs.items()},
        "code_version": code_version(),
        "config": {
            "model": model_options(config, model),
            "training": config["training"],
            "window": config["window"],
            "target": config.get("target"),
        },
    }


RESUME_KEYS = ("config_hash", "split_hash", "store_checksum", "inputs_checksum")


def resume_checkpoint(work: Path, manifest: dict) -> tuple[str | None, list[int]]:
    """work/last.ckpt when its manifest matches this job, and the steps at which the job has resumed
    so far, this one included. Otherwise (None, []), saying what changed, and a stale work folder
    is moved aside to work.stale-<time>, not deleted: it may hold days of training."""
    last, saved = work / "last.ckpt", work / "manifest.json"
    if not last.exists():
        return None, []
    old = json.loads(saved.read_text()) if saved.exists() else {}
    differs = [k for k in RESUME_KEYS if old.get(k) != manifest[k]]
    if differs:
        if "config_hash" in differs and "settings" in old:
            keys = changed_keys(old["settings"], manifest["settings"])
            differs[differs.index("config_hash")] = f"config_hash ({', '.join(keys)})"
        stale = work.with_name(f"work.stale-{time.strftime('%Y%m%dT%H%M%S')}")
        work.rename(stale)
        log.warning(
            "%s: not resuming, the job's %s changed; training starts afresh (the old work folder is now %s)",
            last,
            "; ".join(differs),
            stale,
        )
        return None, []
    step = torch.load(last, map_location="cpu", weights_only=False, mmap=True)["global_step"]
    log.info("resuming from %s at step %d", last, step)
    return str(last), [*old.get("resumed_at_steps", []), int(step)]


class ResumableBatchSampler(torch.utils.data.BatchSampler):
    """The batches DataLoader(shuffle=True) draws from its generator, drawn the same way, whose
    next epoch can resume part-way: `resume_at(epoch_state, done)` makes it redraw the order from
    `epoch_state` (the generator's state when the interrupted epoch drew it) and leave out the first
    `done` batches, already trained on."""

    def __init__(self, sampler: torch.utils.data.RandomSampler, batch_size: int, drop_last: bool):
        super().__init__(sampler, batch_size, drop_last)
        self.generator = sampler.generator
        self.epoch_state = self.generator.get_state()
        self._resume: tuple[torch.Tensor, int] | None = None

    def resume_at(self, epoch_state: torch.Tensor, done: int) -> None:
        self._resume = (epoch_state, done)

    def __iter__(self):
        epoch_state, done = self._resume or (self.generator.get_state(), 0)
        self._resume = None
        self.generator.set_state(epoch_state)
        self.epoch_state = epoch_state
        yield from itertools.islice(super().__iter__(), done, None)


class ExactResume(L.Callback):
    """Keeps in each checkpoint what a resumed job needs to go on as the killed one would have: the
    global random states (Python, NumPy, torch CPU and CUDA) and the training batches' generator,
    at the checkpoint and where its epoch began; restores them on resume. Lightning restores the
    weights, optimiser, schedule and step counts, not these."""

    def __init__(self, batches: ResumableBatchSampler):
        self.batches = batches
        self._global_states: dict | None = None

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint["random_states"] = {
            "global": _global_random_states(),
            "batches": self.batches.generator.get_state(),
            "epoch": self.batches.epoch_state,
            "batches_done": trainer.fit_loop.epoch_loop.batch_progress.current.ready,
        }

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        states = checkpoint.get("random_states")
        if states is None:
            log.warning("the checkpoint predates saved random states: resumed, but not exactly as uninterrupted")
            return
        self.batches.generator.set_state(states["batches"])  # an epoch that ended: the next draws from here
        if 0 < states["batches_done"] < len(self.batches):
            self.batches.resume_at(states["epoch"], states["batches_done"])
        self._global_states = states["global"]

    def on_train_start(self, trainer, pl_module) -> None:
        """The global states last, once Lightning has restored and set up everything else."""
        if self._global_states is not None:
            name, key, *rest = self._global_states["numpy"]
            _set_rng_states({**self._global_states, "numpy": (name, np.array(key, dtype=np.uint32), *rest)})
            self._global_states = None


def _global_random_states() -> dict:
    """Lightning's collection of them, NumPy's key as a list: checkpoints stay loadable with
    torch.load(weights_only=True), which refuses NumPy arrays."""
    states = _collect_rng_states()
    name, key, *rest = states["numpy"]
    return {**states, "numpy": (name, key.tolist(), *rest)}


# --- the job ------------------------------------------------------------------------------


@dataclass
class JobPaths:
    store_dir: str
    genes: str  # the gene table with the split column
    out_dir: str  # results/<run>/models/<cell>/<model>
    soft_masks: str | None = None  # seq2exp-soft's masks.h5, for seq2exp-retrain

    @property
    def work(self) -> Path:
        return Path(self.out_dir) / "work"


def train_job(config: dict, model: str, cell: str, paths: JobPaths, threads: int = 1) -> None:
    """Train (or resume), then write the best checkpoint, manifest, metrics, predictions and masks.

    With several processes (`training_processes`) Lightning starts the others inside rank 0's
    `trainer.fit`, each running this function; they share the training, then stop: rank 0 alone
    writes every file and predicts every gene, on its device."""
    tune_allocator()
    _, processes = training_processes(config)
    process_threads = max(1, threads // processes)
    torch.set_num_threads(process_threads)
    if processes > 1:  # else Lightning gives each process the node's cores / processes, not the job's share
        os.environ["OMP_NUM_THREADS"] = str(process_threads)
    t = config["training"]
    genes = pd.read_csv(paths.genes, sep="\t")
    windows = GeneWindows(paths.store_dir, cell)
    check_channel_order(windows)
    rows = split_indices(windows, genes)
    scaling = FeatureScaling.fit(windows.features[rows["train"]])
    spec = MODEL_SPECS[model]
    mask_source = _mask_source(spec, paths, config)
    extra = {"soft_masks": paths.soft_masks} if spec.mask_source == "retrain" else {}
    manifest = make_manifest(config, model, cell, paths.store_dir, genes, extra)
    work = paths.work
    ckpt, manifest["resumed_at_steps"] = resume_checkpoint(
        work, manifest
    )  # ranks > 0 start once rank 0 has settled `work`
    if rank_zero_only.rank == 0:
        work.mkdir(parents=True, exist_ok=True)
        (work / "manifest.json").write_text(json.dumps(manifest, indent=1))

    L.seed_everything(t["seed"], workers=True, verbose=False)
    module = ExpressionModule(model, model_options(config, model), t, scaling.to_dict())
    log.info(
        "%s / %s: %d parameters; genes train %d, valid %d, test %d",
        cell,
        model,
        sum(p.numel() for p in module.parameters()),
        *(len(rows[p]) for p in ("train", "valid", "test")),
    )
    collate = BatchMaker(scaling, mask_source, peaks=spec.peaks)
    loader = _loaders(windows, rows, collate, t, t["batch_size"] // processes, processes)
    trainer, best = _trainer(config, work, loader["train"].batch_sampler if processes == 1 else None)
    trainer.fit(module, loader["train"], loader["valid"], ckpt_path=ckpt)
    if trainer.global_rank:
        return
    log.info("%s / %s: best validation MSE %s at %s", cell, model, best.best_model_score, best.best_model_path)

    device = trainer.strategy.root_device
    best_module = ExpressionModule.load_from_checkpoint(best.best_model_path, map_location=device)
    out = Path(paths.out_dir)
    with atomic_output(str(out / "best.ckpt")) as tmp:
        shutil.copyfile(best.best_model_path, tmp)
    write_metrics(work, out / "metrics.csv")
    everything = np.arange(len(windows))
    untrained = _untrained(model, config, scaling).to(device) if spec.untrained_mask else None
    for m in (best_module, untrained):
        stream_scans(m, t.get("predict_block_size"))
    log.info("%s / %s: predicting %d genes on %s", cell, model, len(everything), device)
    with windows:  # the last read of the store: its files close here
        predictions = predict(
            best_module,
            windows,
            everything,
            collate,
            genes,
            t["batch_size"],
            masks_path=str(out / "masks.h5") if spec.has_mask else None,
            untrained=untrained,
            untrained_rows=rows["test"],
            bf16=trainer.precision == "bf16-mixed",
        )
    write_tsv(predictions, str(out / "predictions.tsv"))
    test = predictions[predictions["split"] == "test"]
    log.info(
        "%s / %s: test MSE %.4f, Pearson %.4f over %d genes (target SD %.3f)",
        cell,
        model,
        float(((test["prediction"] - test["target"]) ** 2).mean()),
        test["prediction"].corr(test["target"]),
        len(test),
        test["target"].std(),
    )
    with atomic_output(str(out / "manifest.json")) as tmp:
        Path(tmp).write_text(
            json.dumps(
                {**manifest, "best_val_mse": float(best.best_model_score), "steps": int(trainer.global_step)}, indent=1
            )
        )


def train_model(
    config: dict,
    model: str,
    cell: str,
    cell_store: str,
    genes: str,
    checkpoint: str,
    soft_masks: str | None = None,
    threads: int = 1,
) -> None:
    """The train_model rule: `train_job` on the store folder holding `cell_store`, writing beside
    `checkpoint` (the job's out_dir); `soft_masks`, seq2exp-soft's masks for seq2exp-retrain (empty for the others)."""
    paths = JobPaths(
        store_dir=str(Path(cell_store).parent),
        genes=genes,
        out_dir=str(Path(checkpoint).parent),
        soft_masks=soft_masks or None,
    )
    train_job(config, model, cell, paths, threads=threads)


def training_processes(config: dict) -> tuple[str, int]:
    """(accelerator, processes) of a training job: one DDP process per GPU of `resources.training.gpu`,
    else `resources.training.cpu_processes` (1 unless set) on the CPU."""
    resources = config["resources"]["training"]
    if resources["gpu"]:
        return "gpu", resources["gpu"]
    return "cpu", resources.get("cpu_processes", 1)


def _mask_source(spec, paths: JobPaths, config: dict) -> MaskSource | None:
    if spec.mask_source is None:
        return None
    if spec.mask_source == "retrain" and not paths.soft_masks:
        raise ValueError("seq2exp-retrain needs the masks of seq2exp-soft (JobPaths.soft_masks)")
    return MaskSource(
        spec.mask_source, paths.soft_masks, config["training"]["retrain_fraction"], config["window"]["central_region"]
    )


def _untrained(model: str, config: dict, scaling: FeatureScaling) -> "ExpressionModule":
    """The model as initialised at step 0 (same seed), for comparing masks before and after training."""
    L.seed_everything(config["training"]["seed"], workers=True, verbose=False)
    return ExpressionModule(model, model_options(config, model), config["training"], scaling.to_dict())


def _loaders(windows, rows, collate, t, batch_size: int, processes: int) -> dict:
    """`batch_size`: genes per process and step (`training.batch_size` split over the DDP processes).
    One process draws its batches through a ResumableBatchSampler (exact resume); several draw
    through the DistributedSampler Lightning puts in, which shuffles by seed and epoch."""
    generator = torch.Generator().manual_seed(t["seed"])
    common = dict(collate_fn=collate, num_workers=t["num_workers"], persistent_workers=t["num_workers"] > 0)
    train = IndexedWindows(windows, rows["train"])
    drop_last = len(rows["train"]) > t["batch_size"]
    if processes > 1:
        train_loader = torch.utils.data.DataLoader(
            train, batch_size=batch_size, shuffle=True, drop_last=drop_last, generator=generator, **common
        )
    else:
        batches = ResumableBatchSampler(
            torch.utils.data.RandomSampler(train, generator=generator), batch_size, drop_last=drop_last
        )
        train_loader = torch.utils.data.DataLoader(train, batch_sampler=batches, generator=generator, **common)
    return {
        "train": train_loader,
        "valid": torch.utils.data.DataLoader(IndexedWindows(windows, rows["valid"]), batch_size=batch_size, **common),
    }


def _trainer(
    config: dict, work: Path, batches: ResumableBatchSampler | None
) -> tuple[L.Trainer, L.pytorch.callbacks.ModelCheckpoint]:
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger
    from lightning.pytorch.plugins.environments import LightningEnvironment

    t = config["training"]
    best = ModelCheckpoint(
        dirpath=work,
        filename="best",
        monitor="val/mse",
        mode="min",
        save_top_k=1,
        save_on_train_epoch_end=False,
        enable_version_counter=False,
    )
    last = ModelCheckpoint(
        dirpath=work,
        filename="last",
        every_n_train_steps=t["checkpoint_every_steps"],
        save_top_k=1,
        enable_version_counter=False,
    )
    accelerator, processes = training_processes(config)
    # Lightning starts the other DDP processes itself: the job is one SLURM task (the SLURM executor
    # runs it with `srun -n1`), so SLURM's environment must not be taken to have started them.
    distributed = dict(strategy="ddp", plugins=[LightningEnvironment()]) if processes > 1 else {}
    trainer = L.Trainer(
        max_steps=t["max_steps"],
        val_check_interval=t["val_every_steps"],
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        gradient_clip_val=t["gradient_clip"],
        accelerator=accelerator,
        devices=processes,
        precision="bf16-mixed" if accelerator == "gpu" else "32-true",
        callbacks=[best, last, *([ExactResume(batches)] if batches else [])],
        logger=CSVLogger(str(work), name="logs"),
        log_every_n_steps=t["log_every_steps"],
        enable_progress_bar=t["progress_bar"],
        enable_model_summary=False,
        default_root_dir=str(work),
        deterministic=False,
        **distributed,
    )
    return trainer, best


def write_metrics(work: Path, path: Path) -> None:
    """All CSV logs of the work folder (one per run of the job: resumes add one) as one CSV."""
    logs = sorted((work / "logs").glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1]))
    table = pd.concat([pd.read_csv(p) for p in logs], ignore_index=True) if logs else pd.DataFrame()
    with atomic_output(str(path)) as tmp:
        table.to_csv(tmp, index=False)


# --- predictions and masks -----------------------------------------------------------------


@torch.no_grad()
def predict(
    module: ExpressionModule,
    windows: GeneWindows,
    rows: np.ndarray,
    collate: BatchMaker,
    genes: pd.DataFrame,
    batch_size: int,
    masks_path: str | None = None,
    untrained: ExpressionModule | None = None,
    untrained_rows: np.ndarray | None = None,
    bf16: bool = False,
) -> pd.DataFrame:
    """Predictions of `rows` (store order) on the module's device as a table; with `masks_path`, the
    masks as well: `mask` (what the predictor saw), `soft` (the Beta mean, hard model) and, with
    `untrained`, `mask_untrained` (its generator's mask) of the rows in `untrained_rows` (default:
    all); the others read as NaN. One forward per batch gives the prediction and the mask (two with
    reverse-complement averaging); `bf16`: under bf16 autocast."""
    module.eval()
    if untrained is not None:
        untrained.eval()
    loader = torch.utils.data.DataLoader(IndexedWindows(windows, rows), batch_size=batch_size, collate_fn=collate)
    records = []
    writer = MaskWriter.for_module(masks_path, windows, module) if masks_path else None
    with writer or contextlib.nullcontext(), torch.autocast(module.device.type, torch.bfloat16, enabled=bf16):
        for batch in loader:
            batch = move_data_to_device(batch, module.device)
            prediction, output = module.evaluate(batch)
            prediction = prediction.float().cpu()
            mask = soft = None
            if writer:
                mask, soft = applied_mask(module.model, output, batch)
                writer.add(batch["row"], mask=mask, soft=soft)
                if untrained is not None:
                    _add_untrained_masks(writer, untrained, batch, rows if untrained_rows is None else untrained_rows)
                mask = mask.float().cpu()
            for i, gene_id in enumerate(batch["gene_id"]):
                records.append(_record(gene_id, batch["target"][i], prediction[i], mask, i, module))
    table = pd.DataFrame(records)
    info = genes.set_index("gene_id")[["gene_name", "chrom", "split"]]
    return info.reindex(table["gene_id"]).reset_index().merge(table, on="gene_id")


def _add_untrained_masks(writer: MaskWriter, untrained: ExpressionModule, batch: dict, stored_rows) -> None:
    """`mask_untrained` of the batch's genes among `stored_rows` (no forward when there are none)."""
    chosen = torch.from_numpy(np.isin(batch["row"].cpu().numpy(), stored_rows))
    if chosen.any():
        writer.add(
            batch["row"].cpu()[chosen],
            mask_untrained=untrained.model.generator_mask(batch)[0][chosen.to(untrained.device)],
        )


def _record(gene_id, target, prediction, mask, i, module) -> dict:
    record = {"gene_id": gene_id, "target": float(target), "prediction": float(prediction)}
    if mask is not None:
        m = mask[i]
        outside = torch.ones_like(m, dtype=torch.bool)
        outside[central_slice(len(m), module.model.cfg.central_region_bp)] = False
        record.update(mask_ratio=float(m.mean()), mask_ratio_no_centre=float(m[outside].mean()))
    return record


def applied_mask(model, output: ModelOutput, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
    """From the model's `output` on `batch` in evaluation: (the mask the predictor saw, the Beta mean
    where it differs from it: hard model)."""
    if not isinstance(model, Seq2Exp) or model.cfg.mask == "soft":
        return output.mask, None
    soft = force_mask(output.alpha / (output.alpha + output.beta), batch.get("blacklist"), model.cfg.central_region_bp)
    return output.mask, soft


def stream_scans(module: ExpressionModule | None, block_size: int | None) -> None:
    """Each selective scan of the module's backbones in blocks of `block_size` positions carrying the
    state (None: whole windows): the same result in the memory of a block (200 kb on a CPU).
    Models without a Mamba backbone have nothing to stream."""
    if module is not None and hasattr(module.model, "block_size"):
        module.model.block_size = block_size
