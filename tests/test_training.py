"""Training: batches from the store, the retrain mask, the schedule, manifests and resuming a killed job."""

import copy
import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from seq2exp.files import write_checksum
from seq2exp.models import build_model
from seq2exp.training.batches import (
    BatchMaker,
    FeatureScaling,
    IndexedWindows,
    check_channel_order,
    retrain_mask,
    split_indices,
)
from seq2exp.training.dataset import GeneWindows
from seq2exp.training.masks import open_masks
from seq2exp.training.train import warmup_cosine

LENGTH = 40
SPLITS = ["train"] * 6 + ["valid"] * 3 + ["test"] * 3


def make_store(root, n_genes=12, length=LENGTH, seed=0, channels=("h3k27ac", "dnase", "hic"), n_features=9):
    """A hand-made store in the store's layout, each channel holding recognisable values."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    gene_ids = np.array([f"G{i:03d}" for i in range(n_genes)])
    dna = rng.integers(0, 5, (n_genes, length)).astype(np.uint8)
    blacklist = np.zeros((n_genes, length), dtype=bool)
    blacklist[:, :3] = True
    peaks = np.zeros((n_genes, length), dtype=bool)
    peaks[:, 5:9] = True
    h3k27ac = np.arange(length, dtype=np.float16)[None].repeat(n_genes, 0)  # 0, 1, 2, ...
    dnase = np.full((n_genes, length), 7.0, dtype=np.float16)  # constant 7
    hic = (np.arange(n_genes, dtype=np.float16)[:, None] / 4).repeat(length, 1)  # per gene
    with h5py.File(root / "sequence.h5", "w") as seq:
        seq.attrs.update(half_width=length // 2, reverse_complement_minus_strand=False)
        seq["gene_id"] = gene_ids.astype("S")
        seq.create_dataset("dna", data=dna, chunks=(1, length))
        seq.create_dataset("blacklist", data=np.packbits(blacklist, axis=1), chunks=(1, -(-length // 8)))
    with h5py.File(root / "CELL.h5", "w") as cell:
        cell.attrs.update(half_width=length // 2, channels=list(channels))
        cell["gene_id"] = gene_ids.astype("S")
        cell["target"] = rng.normal(2, 0.5, n_genes).astype(np.float32)
        cell["features"] = rng.normal(3, 2, (n_genes, n_features)).astype(np.float32)
        cell.create_dataset("signals", data=np.stack([h3k27ac, dnase, hic], axis=1), chunks=(1, 3, length))
        cell.create_dataset("peaks", data=np.packbits(peaks, axis=1), chunks=(1, -(-length // 8)))
    for name in ("sequence.h5", "CELL.h5"):
        write_checksum(str(root / name))
    genes = pd.DataFrame(
        {
            "gene_id": gene_ids,
            "gene_name": [f"N{i}" for i in range(n_genes)],
            "chrom": "chr1",
            "tss": 1000 + 100 * np.arange(n_genes),
            "strand": "+",
            "split": (SPLITS * n_genes)[:n_genes] if n_genes != 12 else SPLITS,
        }
    )
    genes.to_csv(root / "genes.tsv", sep="\t", index=False)
    return dna, blacklist, peaks


def test_each_channel_lands_where_the_model_reads_it(tmp_path):
    dna, blacklist, peaks = make_store(tmp_path)
    windows = GeneWindows(str(tmp_path), "CELL")
    check_channel_order(windows)
    genes = pd.read_csv(tmp_path / "genes.tsv", sep="\t")
    rows = split_indices(windows, genes)
    scaling = FeatureScaling.fit(windows.features[rows["train"]])
    batch = BatchMaker(scaling)([IndexedWindows(windows, [2, 5])[i] for i in range(2)])
    assert batch["dna"].shape == (2, LENGTH, 4) and batch["signals"].shape == (2, LENGTH, 3)
    codes = dna[[2, 5]]
    for code, base in enumerate("ACGT"):
        assert torch.equal(batch["dna"][..., code] == 1, torch.from_numpy(codes == code)), base
    assert (batch["dna"][torch.from_numpy(codes == 4)] == 0).all()  # N: all zeros
    torch.testing.assert_close(batch["signals"][0, :, 0], torch.arange(LENGTH, dtype=torch.float32))  # H3K27ac
    assert (batch["signals"][..., 1] == 7.0).all()  # DNase
    torch.testing.assert_close(batch["signals"][:, 0, 2], torch.tensor([0.5, 1.25]))  # Hi-C
    assert torch.equal(batch["blacklist"], torch.from_numpy(blacklist[[2, 5]]))
    train_features = windows.features[rows["train"]]
    np.testing.assert_allclose(scaling.apply(train_features).mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(
        batch["features"].numpy(),
        (windows.features[[2, 5]] - train_features.mean(0)) / train_features.std(0),
        rtol=1e-5,
    )
    # the model's signal Beta reads H3K27ac, DNase and Hi-C with weights 0.4, 0.4, 0.2
    model = build_model(
        "seq2exp_soft",
        {"d_model": 8, "n_layer": 1, "d_state": 4, "central_region_bp": 4, "pooled_region_bp": 4, "signal_scale": 1.0},
    )
    alpha, _ = model.mask_distribution(batch, model.dna_embed(batch["dna"]))
    from seq2exp.models.beta_mask import sequence_beta

    seq_alpha, _ = sequence_beta(model.beta_head(model.generator(model.dna_embed(batch["dna"]))), 1.0)
    h3k27ac, dnase, hic = np.arange(LENGTH), 7.0, 0.5
    torch.testing.assert_close(
        alpha[0] - seq_alpha[0],
        torch.tensor(0.4 * (h3k27ac + 1) + 0.4 * (dnase + 1) + 0.2 * (hic + 1), dtype=torch.float32),
    )


def test_a_store_with_other_channel_order_is_refused(tmp_path):
    make_store(tmp_path, channels=("dnase", "h3k27ac", "hic"))
    with pytest.raises(ValueError, match="signal channels"):
        check_channel_order(GeneWindows(str(tmp_path), "CELL"))


def test_fixed_masks_come_from_the_peaks_and_the_soft_mask(tmp_path):
    _, _, peaks = make_store(tmp_path)
    windows = GeneWindows(str(tmp_path), "CELL")
    from seq2exp.training.batches import MaskSource

    items = [IndexedWindows(windows, [0, 1])[i] for i in range(2)]
    batch = BatchMaker(FeatureScaling.fit(windows.features), MaskSource("peaks"))(items)
    assert torch.equal(batch["mask"].bool(), torch.from_numpy(peaks[[0, 1]]))


def test_retrain_mask_is_exactly_the_fraction_with_the_centre_inside():
    torch.manual_seed(0)
    soft = torch.rand(3, 200)
    blacklist = torch.zeros(3, 200, dtype=torch.bool)
    blacklist[:, :50] = True
    soft[:, :50] = 2.0  # would win if the blacklist were ignored
    mask = retrain_mask(soft, 0.1, central_bp=8, blacklist=blacklist)
    assert (mask.sum(-1) == 20).all()  # exactly 10.00%
    assert (mask[:, 96:104] == 1).all()  # the central region, counted inside
    assert (mask[:, :50] == 0).all()
    outside = soft.clone()
    outside[:, 96:104] = -1
    outside[:, :50] = -1
    top = outside.topk(12, dim=-1).indices
    assert (mask.gather(-1, top) == 1).all()  # then the highest soft values


def test_schedule_warms_up_linearly_then_follows_a_cosine_to_the_floor():
    args = dict(lr=5e-4, warmup_steps=5000, warmup_start_lr=1e-5, min_lr=1e-4, max_steps=50000)
    assert warmup_cosine(0, **args) == pytest.approx(1e-5)
    assert warmup_cosine(2500, **args) == pytest.approx((1e-5 + 5e-4) / 2)
    assert warmup_cosine(5000, **args) == pytest.approx(5e-4)
    assert warmup_cosine(27500, **args) == pytest.approx((5e-4 + 1e-4) / 2)
    assert warmup_cosine(50000, **args) == pytest.approx(1e-4)


def test_a_split_without_genes_is_an_error(tmp_path):
    make_store(tmp_path)
    genes = pd.read_csv(tmp_path / "genes.tsv", sep="\t").assign(split="train")
    with pytest.raises(ValueError, match=r"no gene in split\(s\) \['valid', 'test'\]"):
        split_indices(GeneWindows(str(tmp_path), "CELL"), genes)


JOB = """
import json, logging, sys
from seq2exp.training.train import train_model
logging.basicConfig(level=logging.INFO)  # as the workflow's log_to does: the job's own messages
config = json.load(open(sys.argv[1]))
store, out = sys.argv[3], sys.argv[4]
train_model(config, sys.argv[2], "CELL", store + "/CELL.h5", store + "/genes.tsv", out + "/best.ckpt", soft_masks=[])
"""


def _job_config(repo, **training):
    from seq2exp.config import load_config, validate_config

    config = validate_config(load_config(repo / "config/demo.yaml"), repo / "workflow/schemas/config.schema.yaml")
    config["window"].update(half_width=LENGTH // 2, central_region=4, pooled_region=4)
    config["model"].update(d_model=4, d_state=2, mlp_hidden=4)
    config["training"].update(
        batch_size=2,
        max_steps=3000,
        val_every_steps=100,
        checkpoint_every_steps=20,
        warmup_steps=10,
        log_every_steps=10,
        **training,
    )
    return config


def _run_job(config, model, store, out, tmp_path, wait=True, env=None):
    path = tmp_path / f"config_{time.monotonic_ns()}.json"
    path.write_text(json.dumps(config))
    script = tmp_path / "job.py"  # a file, as the rule's script: Lightning reruns it for each further DDP process
    script.write_text(JOB)
    process = subprocess.Popen(
        [sys.executable, str(script), str(path), model, str(store), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=None if env is None else {**os.environ, **env},
    )
    if wait:
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output
        return output
    return process


@pytest.mark.parametrize("model", ["features-only", "caduceus"])
def test_without_mrna_features_every_model_trains_on_promoter_activity_alone(repo, tmp_path, model):
    from seq2exp.training.train import ExpressionModule, JobPaths, train_job

    make_store(tmp_path / "store", n_features=1)
    config = _job_config(repo)
    config["training"].update(max_steps=4, val_every_steps=2, checkpoint_every_steps=2, warmup_steps=1)
    config["genes"].update(mrna_features=None, mrna_feature_columns=[])
    out = tmp_path / model
    train_job(config, model, "CELL", JobPaths(str(tmp_path / "store"), str(tmp_path / "store/genes.tsv"), str(out)))
    best = ExpressionModule.load_from_checkpoint(str(out / "best.ckpt"), map_location="cpu")
    assert best.hparams.options["n_features"] == 1
    assert pd.read_csv(out / "predictions.tsv", sep="\t")["prediction"].notna().all()


@pytest.mark.slow
def test_a_killed_job_resumes_and_its_step_count_continues(repo, tmp_path):
    make_store(tmp_path / "store")
    out = tmp_path / "models" / "seq2exp-soft"
    config = _job_config(repo)
    process = _run_job(config, "seq2exp-soft", tmp_path / "store", out, tmp_path, wait=False)
    last = out / "work" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not last.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)  # what a scheduler's kill does to the job's process group
    process.wait()
    assert not (out / "best.ckpt").exists()
    killed_at = torch.load(last, map_location="cpu", weights_only=False)["global_step"]
    assert 0 < killed_at < 3000
    output = _run_job(config, "seq2exp-soft", tmp_path / "store", out, tmp_path)
    assert "seq2exp.training.train:resuming from" in output  # our message, not Lightning's mid-epoch warning
    logs = sorted((out / "work" / "logs").glob("version_*/metrics.csv"))
    assert len(logs) == 2
    resumed = pd.read_csv(logs[1])
    assert resumed["step"].min() >= killed_at  # continues, does not start at 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["steps"] == 3000
    metrics = pd.read_csv(out / "metrics.csv")
    assert metrics["step"].max() == 2999 and metrics["step"].min() < killed_at
    predictions = pd.read_csv(out / "predictions.tsv", sep="\t")
    assert len(predictions) == 12 and set(predictions["split"]) == {"train", "valid", "test"}
    assert predictions["prediction"].notna().all() and predictions["mask_ratio"].between(0, 1).all()
    with open_masks(str(out / "masks.h5")) as masks:
        assert masks["mask"].shape == (12, LENGTH) and "mask_untrained" in masks and masks["mask"].written.all()
    # `seq2exp predict` on the best checkpoint reproduces the job's predictions, streamed or not
    from seq2exp.cli import main

    (tmp_path / "genome.fa.fai").write_text("chr1\t5000\t6\t60\t61\n")
    common = [
        "predict",
        "--checkpoint",
        str(out / "best.ckpt"),
        "--store",
        str(tmp_path / "store"),
        "--cell",
        "CELL",
        "--genes-table",
        str(tmp_path / "store" / "genes.tsv"),
        "--split",
        "test",
        "--fai",
        str(tmp_path / "genome.fa.fai"),
    ]
    expected = predictions[predictions["split"] == "test"].set_index("gene_id")["prediction"]
    for extra in ([], ["--block-size", "7"]):
        cli_out = tmp_path / f"cli{len(extra)}.tsv"
        assert main([*common, "--out", str(cli_out), "--masks-bed", str(tmp_path / "cli.bed"), *extra]) == 0
        got = pd.read_csv(cli_out, sep="\t").set_index("gene_id")["prediction"]
        pd.testing.assert_series_equal(got.loc[expected.index], expected, atol=1e-4, rtol=0)
    assert set(pd.read_csv(tmp_path / "cli.bed", sep="\t")["gene_id"]) <= set(expected.index)
    # a changed recipe does not resume from the old checkpoint: it says why and starts afresh
    config["training"]["lr"] = 1e-3
    config["training"]["max_steps"] = 200
    output = _run_job(config, "seq2exp-soft", tmp_path / "store", out, tmp_path)
    assert "not resuming, the job's config_hash (training.lr, training.max_steps) changed" in output
    assert json.loads((out / "manifest.json").read_text())["steps"] == 200


def test_a_work_folder_resumes_across_logging_edits_and_is_kept_aside_otherwise(repo, tmp_path, caplog):
    """Logging, checkpoint and progress-bar keys leave a killed job's work/ resumable; a changed
    recipe or model names its keys and moves work/ aside rather than deleting it. The manifest's
    split is the gene table's, whatever the config says."""
    from seq2exp.training.train import make_manifest, resume_checkpoint

    make_store(tmp_path / "store")
    genes = pd.read_csv(tmp_path / "store/genes.tsv", sep="\t")
    genes.loc[genes["split"] == "test", "chrom"] = "chr22"
    config = _job_config(repo)
    config["split"]["test"] = ["chr9"]  # not what the gene table the job reads says
    manifest = make_manifest(config, "seq2exp-soft", "CELL", str(tmp_path / "store"), genes, {})
    assert manifest["split"] == {"valid": ["chr1"], "test": ["chr22"], "n_train": 6, "n_valid": 3, "n_test": 3}
    work = tmp_path / "work"
    work.mkdir()
    torch.save({"global_step": 72}, work / "last.ckpt")
    (work / "manifest.json").write_text(json.dumps({**manifest, "resumed_at_steps": [30]}))
    config["training"].update(log_every_steps=1, checkpoint_every_steps=7, progress_bar=True)
    assert resume_checkpoint(
        work, make_manifest(config, "seq2exp-soft", "CELL", str(tmp_path / "store"), genes, {})
    ) == (str(work / "last.ckpt"), [30, 72])
    config["training"]["lr"] = 1e-3
    config["model"]["d_model"] = 8
    with caplog.at_level("WARNING"):
        assert resume_checkpoint(
            work, make_manifest(config, "seq2exp-soft", "CELL", str(tmp_path / "store"), genes, {})
        ) == (None, [])
    assert "the job's config_hash (model.d_model, training.lr) changed" in caplog.text
    stale = list(tmp_path.glob("work.stale-*"))
    assert not work.exists() and len(stale) == 1 and (stale[0] / "last.ckpt").exists()
    assert f"the old work folder is now {stale[0]}" in caplog.text


KILLED_JOB = JOB.replace(
    "train_model(config",
    """import os, signal
from lightning.pytorch.callbacks import ModelCheckpoint
save = ModelCheckpoint._save_checkpoint
def save_then_die(self, trainer, filepath):   # a kill right after a checkpoint: work since then is lost
    save(self, trainer, filepath)
    if filepath.endswith("last.ckpt") and trainer.global_step == int(sys.argv[5]):
        os.kill(os.getpid(), signal.SIGKILL)
ModelCheckpoint._save_checkpoint = save_then_die
train_model(config""",
)


@pytest.mark.slow
def test_a_resumed_job_is_the_run_it_resumes(repo, tmp_path):
    """Killed right after its checkpoint at step 40 (mid-epoch: 3 batches an epoch) or 60 (an epoch's
    end), both also validation steps, and resumed, a job ends with the best validation MSE,
    predictions and masks of the same job run uninterrupted."""
    make_store(tmp_path / "store")
    config = _job_config(repo)
    config["training"].update(max_steps=100, val_every_steps=20, checkpoint_every_steps=20)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    runs = {}
    for killed_at in (None, 40, 60):
        out = tmp_path / f"killed_at_{killed_at}"
        if killed_at:
            killed = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    KILLED_JOB,
                    str(path),
                    "seq2exp-soft",
                    str(tmp_path / "store"),
                    str(out),
                    str(killed_at),
                ],
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        output = _run_job(config, "seq2exp-soft", tmp_path / "store", out, tmp_path)
        manifest = json.loads((out / "manifest.json").read_text())
        with open_masks(str(out / "masks.h5")) as masks:
            runs[killed_at] = (manifest, pd.read_csv(out / "predictions.tsv", sep="\t"), masks["mask"][:])
        if killed_at:
            assert f"resuming from {out / 'work/last.ckpt'} at step {killed_at}" in output
    manifest, predictions, masks = runs.pop(None)
    assert manifest["resumed_at_steps"] == [] and manifest["steps"] == 100
    for killed_at, (resumed, resumed_predictions, resumed_masks) in runs.items():
        assert resumed["resumed_at_steps"] == [killed_at] and resumed["steps"] == 100
        assert resumed["best_val_mse"] == manifest["best_val_mse"], killed_at
        pd.testing.assert_frame_equal(resumed_predictions, predictions)
        np.testing.assert_array_equal(resumed_masks, masks)


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_two_processes_train_together_and_the_first_alone_writes_and_predicts(repo, tmp_path):
    """DDP on two CPU processes, started as a SLURM job step (`srun -n1`) starts them: the same files as
    one process, each written once, every gene predicted once, the configured steps, and a best
    checkpoint chosen on all validation genes."""
    from seq2exp.training.train import JobPaths, train_job

    make_store(tmp_path / "store")
    config = _job_config(repo)
    config["training"].update(max_steps=6, val_every_steps=3, checkpoint_every_steps=3, warmup_steps=1)
    one = tmp_path / "one" / "seq2exp-soft"
    train_job(
        config, "seq2exp-soft", "CELL", JobPaths(str(tmp_path / "store"), str(tmp_path / "store/genes.tsv"), str(one))
    )
    config["resources"]["training"]["cpu_processes"] = 2
    two = tmp_path / "two" / "seq2exp-soft"
    output = _run_job(
        config,
        "seq2exp-soft",
        tmp_path / "store",
        two,
        tmp_path,
        env={"SLURM_NTASKS": "1", "SLURM_PROCID": "0", "SLURM_JOB_NAME": "train"},
    )
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in output, output
    assert _files(two) == _files(one)
    assert output.count("seq2exp.training.train:CELL / seq2exp-soft: predicting 12 genes on cpu") == 1, output
    predictions = pd.read_csv(two / "predictions.tsv", sep="\t")
    assert sorted(predictions["gene_id"]) == [f"G{i:03d}" for i in range(12)]
    manifest = json.loads((two / "manifest.json").read_text())
    assert manifest["steps"] == 6
    valid = predictions[predictions["split"] == "valid"]
    assert manifest["best_val_mse"] == pytest.approx(((valid["prediction"] - valid["target"]) ** 2).mean(), rel=1e-5)
    with open_masks(str(two / "masks.h5")) as masks:
        assert not np.isnan(masks["mask"][:]).any()
        assert np.flatnonzero(masks["mask_untrained"].written).tolist() == [9, 10, 11]  # the test genes


def _predict_setup(tmp_path, model):
    from seq2exp.training.train import ExpressionModule

    make_store(tmp_path)
    windows = GeneWindows(str(tmp_path), "CELL")
    genes = pd.read_csv(tmp_path / "genes.tsv", sep="\t")
    scaling = FeatureScaling.fit(windows.features)
    torch.manual_seed(0)
    module = ExpressionModule(
        model,
        {"d_model": 8, "n_layer": 2, "d_state": 4, "central_region_bp": 4, "pooled_region_bp": 4},
        {},
        scaling.to_dict(),
    )
    return module, windows, genes, BatchMaker(scaling)


@pytest.mark.parametrize("model, forwards_per_batch", [("seq2exp-soft", 1), ("caduceus", 2)])
def test_prediction_and_mask_come_from_one_forward_per_batch(tmp_path, model, forwards_per_batch):
    from seq2exp.training.train import predict

    module, windows, genes, collate = _predict_setup(tmp_path, model)
    calls = []
    module.model.register_forward_hook(lambda *_: calls.append(1))
    masks = str(tmp_path / "masks.h5") if model == "seq2exp-soft" else None
    table = predict(module, windows, np.arange(12), collate, genes, batch_size=5, masks_path=masks)
    assert len(calls) == 3 * forwards_per_batch  # 12 genes in batches of 5
    batch = collate([IndexedWindows(windows, range(12))[i] for i in range(12)])
    with torch.no_grad():
        expected = module.predict_batch(batch)
    np.testing.assert_allclose(table["prediction"], expected.numpy(), rtol=1e-5, atol=1e-6)
    if masks:
        with torch.no_grad():
            mask = module.model(batch).mask
        with open_masks(str(masks)) as handle:
            np.testing.assert_allclose(handle["mask"][:], mask.numpy(), atol=1 / 510 + 1e-6)  # 8-bit masks


def test_the_untrained_mask_is_stored_for_the_test_genes_alone(tmp_path):
    """The discovery table reads seq2exp-soft's step-0 mask of the test genes only; stored for every
    gene it took a third of the paper run's masks (benchmarks/bench_masks.py)."""
    from seq2exp.training.train import predict

    module, windows, genes, collate = _predict_setup(tmp_path, "seq2exp-soft")
    untrained = copy.deepcopy(module)
    with torch.no_grad():  # another generator than the module's: the stored mask must be this one's
        for parameter in untrained.model.beta_head.parameters():
            parameter.add_(torch.randn_like(parameter))
    test_rows = np.flatnonzero(genes["split"] == "test")  # 9, 10, 11: split over two batches of 5
    path = str(tmp_path / "masks.h5")
    predict(
        module,
        windows,
        np.arange(12),
        collate,
        genes,
        batch_size=5,
        masks_path=path,
        untrained=untrained,
        untrained_rows=test_rows,
    )
    batch = collate([IndexedWindows(windows, test_rows)[i] for i in range(len(test_rows))])
    with torch.no_grad():
        expected = untrained.model.generator_mask(batch)[0].numpy()
    with open_masks(path) as masks:
        stored = masks["mask_untrained"]
        assert np.flatnonzero(stored.written).tolist() == test_rows.tolist()
        assert np.isnan(stored[:9]).all()
        np.testing.assert_allclose(stored[test_rows], expected, atol=1 / 510 + 1e-6)
        assert masks["mask"].written.all()


def test_streamed_predictions_and_masks_equal_whole_windows(tmp_path):
    from seq2exp.training.train import predict, stream_scans

    module, windows, genes, collate = _predict_setup(tmp_path, "seq2exp-soft")
    tables, masks = [], []
    for block_size in (None, 7):
        stream_scans(module, block_size)
        path = str(tmp_path / f"masks{block_size}.h5")
        tables.append(
            predict(module, windows, np.arange(12), collate, genes, batch_size=4, masks_path=path, untrained=module)
        )
        with open_masks(str(path)) as handle:
            masks.append({name: handle[name][:] for name in ("mask", "mask_untrained")})
    np.testing.assert_allclose(tables[1]["prediction"], tables[0]["prediction"], rtol=1e-4, atol=1e-5)
    for name in ("mask", "mask_untrained"):
        np.testing.assert_allclose(masks[1][name], masks[0][name], atol=1 / 255 + 1e-6)  # one 8-bit step


def _discovery_scores(config, store, masks):
    """discovery_scores of `masks` on the store in `store`, without peaks, with one known element."""
    from seq2exp.evaluation.discovery import discovery_scores

    (store / "peaks.narrowPeak").write_text("")
    (store / "truth.bed").write_text("chr1\t1885\t1890\tE1\t0\t+\tG009\n")
    peaks, truth = str(store / "peaks.narrowPeak"), str(store / "truth.bed")
    return discovery_scores(config, "CELL", str(store), str(store / "genes.tsv"), masks, None, peaks, truth, None)


@pytest.mark.parametrize(
    "untrained_rows, error", [([9, 10, 11], None), ([9, 10], "no `mask_untrained` for test gene G011")]
)
def test_discovery_names_a_test_gene_without_its_untrained_mask(tmp_path, untrained_rows, error):
    """The untrained mask is stored for the test genes alone: one missing is an error, not NaN scores."""
    from seq2exp.training.masks import MaskWriter

    make_store(tmp_path)
    rng = np.random.default_rng(0)
    masks = str(tmp_path / "masks.h5")
    with MaskWriter(masks, [f"G{i:03d}" for i in range(12)], LENGTH) as writer:
        writer.add(np.arange(12), mask=rng.random((12, LENGTH)))
        writer.add(np.array(untrained_rows), mask_untrained=rng.random((len(untrained_rows), LENGTH)))
    config = {"window": {"half_width": LENGTH // 2, "central_region": 4, "reverse_complement_minus_strand": False}}
    if error:
        with pytest.raises(ValueError, match=error):
            _discovery_scores(config, tmp_path, masks)
    else:
        assert len(_discovery_scores(config, tmp_path, masks)) == 3


@pytest.mark.parametrize("with_hard", [False, True])
def test_the_discovery_rule_reads_each_cell_types_inputs_by_their_names(tmp_path, with_hard):
    """`discovery` finds a cell type's store, masks, peaks and truth among the rule's inputs by
    `cell_input`; the hard mask's selection is scored only where the run has that model."""
    from seq2exp.evaluation.discovery import discovery
    from seq2exp.training.masks import MaskWriter
    from seq2exp.training.specs import HARD_MODEL, SOFT_MODEL, cell_input

    make_store(tmp_path)
    rng = np.random.default_rng(0)
    inputs = {"genes": str(tmp_path / "genes.tsv"), cell_input("CELL", "store"): str(tmp_path / "CELL.h5")}
    for kind in ("soft", "hard") if with_hard else ("soft",):
        inputs[cell_input("CELL", kind)] = path = str(tmp_path / f"{kind}.h5")
        with MaskWriter(path, [f"G{i:03d}" for i in range(12)], LENGTH) as writer:
            writer.add(np.arange(12), mask=rng.random((12, LENGTH)))
            writer.add(np.array([9, 10, 11]), mask_untrained=rng.random((3, LENGTH)))
    inputs[cell_input("CELL", "peaks")] = str(tmp_path / "peaks.narrowPeak")
    inputs[cell_input("CELL", "truth")] = str(tmp_path / "truth.bed")
    (tmp_path / "peaks.narrowPeak").write_text("")
    (tmp_path / "truth.bed").write_text("chr1\t1885\t1890\tE1\t0\t+\tG009\n")
    config = {
        "run_cell_types": ["CELL"],
        "window": {"half_width": LENGTH // 2, "central_region": 4, "reverse_complement_minus_strand": False},
    }
    discovery(config, inputs, str(tmp_path / "discovery.tsv"), str(tmp_path / "discovery.md"))
    methods = set(pd.read_csv(tmp_path / "discovery.tsv", sep="\t").query("cell_type == 'CELL'")["method"])
    assert SOFT_MODEL in methods
    assert (HARD_MODEL in methods) == with_hard
    assert (tmp_path / "discovery.md").read_text().startswith("#")


def _open_files_under(root) -> list[str]:
    names = [i.name.decode() for i in h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE)]
    return [name for name in names if name.startswith(str(root))]


def test_evaluation_readers_close_the_store_and_masks_even_when_they_fail(tmp_path):
    """Readers close their files as they return or raise: an open handle kept by a pending error
    (or a caller holding the reader) would leave the store and masks open."""
    from seq2exp.evaluation.plots import gene_track_figures
    from seq2exp.training.masks import MaskWriter

    make_store(tmp_path)
    masks = str(tmp_path / "masks.h5")
    with MaskWriter(masks, [f"G{i:03d}" for i in range(12)], LENGTH) as writer:
        writer.add(np.arange(12), mask=np.random.default_rng(0).random((12, LENGTH)))
        writer.add(np.array([9, 10]), mask_untrained=np.ones((2, LENGTH)))  # not G011's: an error there
    config = {
        "window": {"half_width": LENGTH // 2, "central_region": 4, "reverse_complement_minus_strand": False},
        "evaluation": {"figure_genes": 2},
    }
    with pytest.raises(ValueError, match="no `mask_untrained` for test gene") as error:
        _discovery_scores(config, tmp_path, masks)
    assert _open_files_under(tmp_path) == [], "open while the error (whose frames hold the readers) is kept"
    del error
    inputs = {
        "store": str(tmp_path / "CELL.h5"),
        "genes": str(tmp_path / "genes.tsv"),
        "peaks": str(tmp_path / "peaks.narrowPeak"),
        "m": masks,
    }
    gene_track_figures(config, "CELL", inputs, ["m"], None, str(tmp_path / "figures"))
    assert _open_files_under(tmp_path) == []
