"""HyenaDNA, Enformer and EPInformer: shapes, gradients, overfitting, receptive field, enhancer selection."""

import numpy as np
import pytest
import torch

from seq2exp.architectures import ARCHITECTURES
from seq2exp.models import MODELS, build_model, one_hot
from seq2exp.models.baselines import select_enhancers
from seq2exp.models.registry import resolve
from seq2exp.training.batches import BatchMaker, FeatureScaling

SHARED = {"d_model": 16, "n_layer": 1, "mlp_hidden": 16, "central_region_bp": 20, "pooled_region_bp": 20}
OWN = {
    "hyenadna": {"filter_hidden": 16},
    "enformer": {"bin_size": 8, "n_heads": 4},
    "epinformer": {"element_length": 16, "n_heads": 4},
}
BASELINES = sorted(OWN)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _model(name, **options):
    torch.manual_seed(0)
    return build_model(name, {**SHARED, **OWN[name], **options})


def _batch(n=2, length=256, seed=0):
    """Random DNA and signals; peaks: three 12 bp intervals away from the centre, DNase raised there."""
    g = torch.Generator().manual_seed(seed)
    peaks = torch.zeros(n, length, dtype=torch.bool)
    for start in (20, 70, 200):
        peaks[:, start : start + 12] = True
    signals = torch.rand(n, length, 3, generator=g)
    signals[..., 1] += 4 * peaks
    return {
        "dna": one_hot(torch.randint(0, 4, (n, length), generator=g)),
        "signals": signals,
        "features": torch.randn(n, 9, generator=g),
        "target": torch.rand(n, generator=g) * 3,
        "blacklist": torch.zeros(n, length, dtype=torch.bool),
        "peaks": peaks,
    }


@pytest.mark.parametrize("name", BASELINES)
def test_forward_backward_gives_one_value_per_gene_and_every_parameter_a_gradient(name):
    model = _model(name)
    batch = _batch()
    output = model(batch)
    assert output.prediction.shape == (2,) and output.mask is None
    loss, _ = model.loss(output, batch["target"])
    loss.backward()
    assert torch.isfinite(loss)
    assert not [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]


@pytest.mark.parametrize("name", BASELINES)
def test_tiny_model_memorises_four_genes_from_its_inputs(name):
    """No extra features: the targets can only be learnt through the model's own path."""
    model = _model(name, use_features=False)
    batch = _batch(n=4, seed=1)
    batch["target"] = torch.tensor([0.5, 1.5, 2.5, 3.5])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss, _ = model.loss(model(batch), batch["target"])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10, losses[::10]


def _sensitivity(model, batch) -> torch.Tensor:
    """(L,) |d prediction / d input base|, relative to its mean over the central 100 bp."""
    model.eval()
    dna = batch["dna"].clone().requires_grad_(True)
    model(dict(batch, dna=dna)).prediction.sum().backward()
    per_base = dna.grad.abs().sum((0, 2))
    centre = per_base.shape[0] // 2
    return per_base / per_base[centre - 50 : centre + 50].mean()


@pytest.mark.parametrize("name", ["hyenadna", "enformer"])
def test_output_depends_on_a_base_1500_bp_upstream_of_the_tss(name):
    sensitivity = _sensitivity(_model(name, pooled_region_bp=100), _batch(length=4000))
    assert sensitivity[2000 - 1500] > 1e-3


def test_enformer_also_sees_1500_bp_downstream_and_hyenadna_is_causal():
    batch = _batch(length=4000)
    assert _sensitivity(_model("enformer", pooled_region_bp=100), batch)[2000 + 1500] > 1e-3
    assert _sensitivity(_model("hyenadna", pooled_region_bp=100), batch)[2000 + 1500] < 1e-6  # FFT round-off


def test_enformer_input_length_crops_the_window_and_must_fit():
    sensitivity = _sensitivity(_model("enformer", pooled_region_bp=100, input_length=1024), _batch(length=4000))
    assert sensitivity[2000 - 1500] == 0.0  # outside the central 1,024 bp
    assert sensitivity[2000 - 500] > 1e-3
    with pytest.raises(ValueError, match="does not fit"):
        _model("enformer", input_length=512)(_batch(length=256))


def test_enhancers_are_peaks_outside_the_promoter_strongest_dnase_first_ties_nearest():
    length = 100
    peaks, dnase = torch.zeros(length, dtype=torch.bool), torch.zeros(length)
    for (start, end), value in {
        (5, 10): 1.0,
        (20, 30): 3.0,
        (45, 55): 9.0,
        (60, 64): 3.0,
        (80, 90): 2.0,
        (95, 100): 0.5,
    }.items():
        peaks[start:end], dnase[start:end] = True, value
    dnase[20], dnase[21] = 0.0, 6.0  # (20, 30) starts at 0 and peaks at 6, but its mean is still 3.0: a tie
    promoter = slice(48, 52)  # with (60, 64), broken by distance to the centre; (45, 55) is the promoter
    top3 = select_enhancers(peaks, dnase, promoter, 3)
    assert top3.tolist() == [[60, 64], [20, 30], [80, 90]]
    everything = select_enhancers(peaks, dnase, promoter, 60)
    assert everything.tolist() == [[60, 64], [20, 30], [80, 90], [5, 10], [95, 100]]
    assert select_enhancers(torch.zeros(length, dtype=torch.bool), dnase, promoter, 60).shape == (0, 2)


def test_epinformer_ignores_the_order_of_its_enhancers():
    model = _model("epinformer").eval()
    g = torch.Generator().manual_seed(3)
    promoter, enhancers = torch.randn(2, 16, generator=g), torch.randn(2, 5, 16, generator=g)
    valid = torch.tensor([[True, True, True, False, False], [True, True, True, True, True]])
    features = torch.randn(2, 9, generator=g)
    order = torch.tensor([4, 2, 0, 3, 1])
    with torch.no_grad():
        straight = model.attend(promoter, enhancers, valid, features)
        permuted = model.attend(promoter, enhancers[:, order], valid[:, order], features)
        dropped = model.attend(promoter, enhancers[:, :3], valid[:, :3], features)
    torch.testing.assert_close(straight, permuted)
    torch.testing.assert_close(straight[0], dropped[0])  # padding slots do not count
    assert (straight[1] - dropped[1]).abs() > 1e-6  # a valid fourth enhancer does


def test_epinformer_sees_an_enhancers_activity_and_nothing_outside_the_elements():
    model = _model("epinformer").eval()
    batch = _batch()
    with torch.no_grad():
        before = model(batch).prediction
        inside, outside = (dict(batch, signals=batch["signals"].clone()) for _ in range(2))
        inside["signals"][:, 70:82, 0] += 5.0  # H3K27ac of the enhancer at 70-82
        outside["signals"][:, 150:160, 0] += 5.0  # neither a peak nor the promoter crop
        assert (model(inside).prediction - before).abs().min() > 1e-6
        torch.testing.assert_close(model(outside).prediction, before)


def test_own_options_are_checked_and_belong_to_their_model():
    _, _, kwargs = resolve("enformer", {"bin_size": 16, "d_model": 8})
    assert kwargs["options"].bin_size == 16
    with pytest.raises(KeyError, match="bin_sise.*enformer"):
        resolve("enformer", {"bin_sise": 16})
    with pytest.raises(KeyError, match="bin_size.*caduceus"):
        resolve("caduceus", {"bin_size": 16})
    with pytest.raises(ValueError, match="power of 2"):
        resolve("enformer", {"bin_size": 24})
    with pytest.raises(ValueError, match="max_enhancers"):
        resolve("epinformer", {"max_enhancers": 0})


def test_the_torch_free_options_describe_every_registry_model():
    """The start-up check reads seq2exp.architectures (no torch); each model class must take the
    options it describes."""
    assert MODELS.keys() == ARCHITECTURES.keys()
    for name, cls in MODELS.items():
        assert getattr(cls, "Options", None) is ARCHITECTURES[name].own_options, name


def test_batches_carry_the_peak_mask_only_for_models_that_ask():
    length = 16
    item = {
        "gene_id": "g",
        "row": 0,
        "dna": np.zeros(length, np.uint8),
        "signals": np.zeros((3, length), np.float16),
        "blacklist": np.zeros(length, bool),
        "peaks": np.arange(length) % 3 == 0,
        "features": np.zeros(9, np.float32),
        "target": np.float32(1.0),
    }
    scaling = FeatureScaling(np.zeros(9), np.ones(9))
    assert "peaks" not in BatchMaker(scaling)([item, item])
    batch = BatchMaker(scaling, peaks=True)([item, item])
    assert batch["peaks"].dtype == torch.bool and batch["peaks"][1].tolist() == item["peaks"].tolist()


def test_epinformer_without_any_peak_predicts_from_the_promoter():
    model = _model("epinformer").eval()
    batch = _batch()
    batch["peaks"][:] = False
    with torch.no_grad():
        assert torch.isfinite(model(batch).prediction).all()
