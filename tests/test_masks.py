"""masks.h5: continuous masks within the 8-bit bound, 0/1 masks exactly, missing rows, bad input,
and the evaluation's figures on stored masks against the float masks."""

import h5py
import numpy as np
import pytest
import torch

from seq2exp.evaluation import discovery
from seq2exp.features.genome import central_slice
from seq2exp.models.beta_mask import force_mask, signal_beta
from seq2exp.training.batches import MaskSource, retrain_mask
from seq2exp.training.masks import MaskWriter, binary_masks, open_masks

LENGTH = 1000
BOUND = 1 / 510 + 1e-7  # half a step of 255 levels, plus float32 rounding


def continuous_masks(rng, n=5):
    masks = rng.random((n, LENGTH)).astype(np.float32)
    masks[0, :6] = [0.0, 1.0, 0.5, 1 / 510, 0.5 - 1e-6, 0.5 + 1e-6]
    masks[1] = 0.5 + rng.uniform(-2 / 255, 2 / 255, LENGTH)  # around the hard model's threshold
    return masks


def binary_rows():
    masks = np.zeros((4, LENGTH), dtype=np.float32)
    masks[0, :10] = masks[0, 500:502] = masks[0, -1] = 1  # runs at both ends and of one base
    masks[1] = 1  # every base; row 2: none
    masks[3, 1::2] = 1  # alternating
    return masks


def write(path, rows, binary=(), **masks):
    gene_ids = [f"G{i}" for i in range(6)]
    with MaskWriter(str(path), gene_ids, LENGTH, binary, {"model": "seq2exp-hard"}) as writer:
        writer.add(torch.tensor(rows), **{k: torch.from_numpy(v) for k, v in masks.items()})


def test_masks_read_back_within_the_8_bit_bound_and_0_1_masks_exactly(tmp_path):
    soft, hard = continuous_masks(np.random.default_rng(0), 4), binary_rows()
    rows = [5, 0, 3, 1]  # any order; rows 2 and 4 stay unwritten
    write(tmp_path / "masks.h5", rows, binary={"mask"}, soft=soft, mask=hard)
    with open_masks(str(tmp_path / "masks.h5")) as masks:
        assert set(masks.names) == {"soft", "mask"} and list(masks.gene_ids) == [f"G{i}" for i in range(6)]
        assert masks.attrs["model"] == "seq2exp-hard" and masks["soft"].shape == (6, LENGTH)
        assert np.abs(masks["soft"][rows] - soft).max() <= BOUND
        np.testing.assert_array_equal(masks["soft"][rows] >= 0.5, soft >= 0.5)  # the hard threshold survives
        assert masks["soft"][5][:3].tolist() == [0.0, 1.0, np.float32(128 / 255)]  # 0 and 1 exactly
        np.testing.assert_array_equal(masks["mask"][rows], hard)
        assert np.isnan(masks["mask"][2]).all() and np.isnan(masks["soft"][2:5:2]).all()
        assert masks["mask"].written.tolist() == [True, True, False, True, False, True]
    assert not masks.handle.id.valid  # closed on leaving the block: no handle left open


@pytest.mark.parametrize(
    "binary, values, message",
    [
        ({"mask"}, np.full((1, LENGTH), 0.5, dtype=np.float32), "is stored as 0/1 intervals but holds other values"),
        ((), np.full((1, LENGTH), 1.5, dtype=np.float32), "holds values outside \\[0, 1\\]"),
        ((), np.full((1, LENGTH), np.nan, dtype=np.float32), "holds values outside \\[0, 1\\] \\(or NaN\\)"),
        ((), np.zeros((1, LENGTH - 1), dtype=np.float32), "of shape \\(1, 999\\); expected \\(1, 1000\\)"),
    ],
)
def test_bad_masks_are_refused_without_output(tmp_path, binary, values, message):
    with pytest.raises(ValueError, match=f"masks.h5: mask 'mask' {message}"):
        write(tmp_path / "masks.h5", [0], binary=binary, mask=values)
    assert list(tmp_path.iterdir()) == []


def test_a_masks_file_of_the_old_layout_is_refused(tmp_path):
    with h5py.File(tmp_path / "old.h5", "w") as handle:
        handle["gene_id"] = np.array([b"G0"])
        handle["mask"] = np.zeros((1, LENGTH), dtype=np.float16)
    with pytest.raises(ValueError, match="old.h5: not a masks file of format seq2exp-masks/2"):
        open_masks(str(tmp_path / "old.h5"))
    write(tmp_path / "masks.h5", [0], soft=np.zeros((1, LENGTH), dtype=np.float32))
    with open_masks(str(tmp_path / "masks.h5")) as masks, pytest.raises(KeyError, match="no mask 'mask'"):
        masks["mask"]


@pytest.mark.parametrize(
    "model, mask_kind, expected",
    [
        ("seq2exp-soft", "soft", set()),
        ("seq2exp-hard", "hard", {"mask", "mask_untrained"}),
        ("seq2exp-hard", "soft", set()),
        ("seq2exp-retrain", "soft", {"mask"}),
        ("macs3", "soft", {"mask"}),
    ],
)
def test_the_0_1_masks_are_those_of_the_hard_and_fixed_mask_models(model, mask_kind, expected):
    assert binary_masks(model, mask_kind) == expected


def realistic_soft_masks(rng, n=40):
    """The Beta mean at initialisation: the signal Beta of peaky signals with per-base noise."""
    peaks = np.zeros((n, LENGTH, 3), dtype=np.float32)
    for gene in peaks:
        for start in rng.integers(0, LENGTH - 50, 6):
            gene[start : start + 50, :2] = rng.exponential(3, 2)
    alpha, beta = signal_beta(torch.from_numpy(peaks), (1.5, 0.2, 1.0), (0.4, 0.4, 0.2), 1.0, 10.0)
    noise = torch.from_numpy(rng.normal(0, 0.01, (n, LENGTH)).astype(np.float32))
    return (force_mask(alpha / (alpha + beta) + noise, None, 20).clamp(0, 1)).numpy(), peaks[..., 1] > 0


def stored(tmp_path, masks):
    write_path = tmp_path / "soft.h5"
    with MaskWriter(str(write_path), [f"G{i}" for i in range(len(masks))], LENGTH) as writer:
        writer.add(torch.arange(len(masks)), mask=torch.from_numpy(masks))
    with open_masks(str(write_path)) as file:
        return file["mask"][:]


def test_discovery_figures_on_stored_masks_match_the_float_masks(tmp_path):
    """AUPRC of the stored soft mask within 0.002 of the float mask's (8-bit ties merge thresholds),
    mask ratio within 1/510, and the top-k selection at the same ratio just as large."""
    rng = np.random.default_rng(1)
    masks, truth = realistic_soft_masks(rng)
    labels = truth & (rng.random(truth.shape) < 0.5)
    back = stored(tmp_path, masks)
    assert abs(discovery.average_precision(labels, back) - discovery.average_precision(labels, masks)) < 0.002
    assert np.abs(back.mean(-1) - masks.mean(-1)).max() <= BOUND
    eligible = np.ones(LENGTH, dtype=bool)
    for row in range(len(masks)):
        assert discovery.top_k_selection(back[row], eligible, 0.15).sum() == round(0.15 * LENGTH)


def test_retrain_mask_breaks_8_bit_ties_towards_the_centre_and_keeps_the_fraction(tmp_path):
    rng = np.random.default_rng(2)
    back = torch.from_numpy(stored(tmp_path, realistic_soft_masks(rng)[0]))
    blacklist = torch.zeros(back.shape, dtype=torch.bool)
    blacklist[:, :100] = True
    mask = retrain_mask(back, 0.1, 20, blacklist)
    assert (mask.sum(-1) == 100).all() and not mask[blacklist].any()
    outside = ~blacklist[0]
    outside[central_slice(LENGTH, 20)] = False
    partly_tied = 0
    for row, chosen in zip(back, mask.bool()):
        level = row[chosen & outside].min()  # the lowest value chosen: ties at it decide the rest
        assert chosen[outside & (row > level)].all()
        tied = torch.nonzero(outside & (row == level)).ravel()
        distance, taken = (tied - LENGTH // 2).abs(), chosen[tied]
        if not taken.all():
            partly_tied += 1
            assert distance[taken].max() <= distance[~taken].min()
    assert partly_tied > len(back) / 2
    flat = retrain_mask(torch.full((1, LENGTH), 0.5), 0.1, 20, None)  # every value tied
    assert torch.equal(torch.nonzero(flat[0]).ravel(), torch.arange(450, 550))


def test_the_retrain_source_reads_the_stored_soft_mask_and_refuses_missing_rows(tmp_path):
    masks = continuous_masks(np.random.default_rng(3), 3)
    write(tmp_path / "soft.h5", [0, 1, 2], mask=masks)
    source = MaskSource("retrain", str(tmp_path / "soft.h5"), 0.1, 20)
    assert np.abs(source.soft([2, 0]) - masks[[2, 0]]).max() <= BOUND
    with pytest.raises(ValueError, match=r"soft.h5: no mask for store row\(s\) \[4\]"):
        source.soft([1, 4])
