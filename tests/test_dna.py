"""One-hot DNA and the sample on the other strand: reverse complement, augmentation, test-time averaging."""

import torch

from seq2exp.models.dna import one_hot, rc_averaged_predict, reverse_complement, reverse_complement_sample
from seq2exp.models.registry import build_model


def _dna(batch=2, length=101, seed=0):
    return one_hot(torch.randint(0, 5, (batch, length), generator=torch.Generator().manual_seed(seed)))


def test_one_hot_and_reverse_complement():
    codes = torch.tensor([[0, 1, 2, 3, 4]], dtype=torch.uint8)  # ACGTN
    x = one_hot(codes)
    assert x.tolist() == [[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]]
    # reverse complement of ACGTN is NACGT
    assert reverse_complement(x).argmax(-1).tolist()[0][1:] == [0, 1, 2, 3]
    assert reverse_complement(x)[0, 0].sum() == 0


def test_reverse_complement_sample_flips_everything_positional():
    batch = {
        "dna": _dna(1, 6),
        "signals": torch.arange(18.0).view(1, 6, 3),
        "blacklist": torch.tensor([[1, 0, 0, 0, 0, 0]], dtype=torch.bool),
        "features": torch.arange(9.0)[None],
        "target": torch.tensor([1.5]),
    }
    rc = reverse_complement_sample(batch)
    torch.testing.assert_close(rc["dna"], reverse_complement(batch["dna"]))
    torch.testing.assert_close(rc["signals"], batch["signals"].flip(1))  # channels keep their meaning
    assert rc["blacklist"].tolist() == [[False] * 5 + [True]]
    assert rc["features"] is batch["features"] and rc["target"] is batch["target"]
    torch.testing.assert_close(reverse_complement_sample(rc)["dna"], batch["dna"])


def test_rc_averaged_predict_is_strand_symmetric():
    torch.manual_seed(0)
    model = build_model("caduceus", {"d_model": 16, "n_layer": 1, "d_state": 4, "pooled_region_bp": 20}).eval()
    batch = {"dna": _dna(length=80), "features": torch.randn(2, 9)}
    with torch.no_grad():
        both = rc_averaged_predict(model, batch)
        expected = (model(batch).prediction + model(reverse_complement_sample(batch)).prediction) / 2
        torch.testing.assert_close(both, expected)
        torch.testing.assert_close(rc_averaged_predict(model, reverse_complement_sample(batch)), both)
