"""Hi-C contact to the TSS (seq2exp.features.hic): hand-computed units, real files, ABC's own outputs, demo."""

import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seq2exp.features import hic

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
IGV_HIC = REAL / "hic" / "igv-hic-straw_test_chr22.hic"  # chromosomes "1".."22"; KR all-NaN at 5 kb
NO_NORMS_HIC = REAL / "hic" / "hic2cool_test_hic_no_norms.hic"
DM6_HIC = REAL / "hic" / "hictkpy_hic_test_file.hic"  # "ICE" only; twin of DM6_MCOOL
DM6_MCOOL = REAL / "cool" / "hictkpy_cooler_test_file.mcool"  # weight (multiplicative), KR, SCALE, VC
GM12878_COOL = REAL / "cool" / "hicexplorer_GSE63525_GM12878_insitu_primary_2_5mb.cool"
ABC = REAL / "abc_k562_chr22"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"real test files not found at {REAL}")

# A 4-bin chromosome "22" of 40 bp at 10 bp: the tiny matrix of the hand-computed checks.
TINY = np.array([[4, 2, 1, 0], [2, 6, 3, 1], [1, 3, 8, 2], [0, 1, 2, 5]], dtype=float)


def _write_tiny_hic(path: Path, matrix: np.ndarray = TINY, resolution: int = 10) -> None:
    import hictkpy

    n = matrix.shape[0]
    bin1, bin2 = np.triu_indices(n)
    keep = matrix[bin1, bin2] > 0
    with tempfile.TemporaryDirectory(dir=path.parent) as tmpdir:
        writer = hictkpy.hic.FileWriter(str(path), {"22": n * resolution}, resolution, "test", tmpdir=tmpdir)
        writer.add_pixels(
            pd.DataFrame(
                {
                    "chrom1": "22",
                    "start1": bin1[keep] * resolution,
                    "end1": (bin1[keep] + 1) * resolution,
                    "chrom2": "22",
                    "start2": bin2[keep] * resolution,
                    "end2": (bin2[keep] + 1) * resolution,
                    "count": matrix[bin1, bin2][keep].astype(np.int32),
                }
            )
        )
        writer.finalize()


@pytest.fixture(scope="module")
def tiny_hic(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hic") / "tiny.hic"
    _write_tiny_hic(path)
    return path


def _band_of(matrix: np.ndarray) -> hic.ContactBand:
    n = matrix.shape[0]
    values = np.full((n, n), np.nan)
    for i in range(n):
        values[i, : n - i] = matrix[i, i:]
    return hic.ContactBand("22", 10, values, matrix.sum(axis=1))


# --- hand-computed units ------------------------------------------------------------------


def test_abc_contact_of_tiny_vc_matrix_equals_formula():
    # Diagonal -> max(neighbours): [2, 3, 3, 2]; row sums after that: [5, 9, 9, 5]; rows divided.
    contacts = hic.abc_contacts(_band_of(TINY), "VC", tss_hic_contribution=100)
    np.testing.assert_allclose(contacts.from_bin(1, np.arange(4)), np.array([2, 3, 3, 1]) / 9)
    np.testing.assert_allclose(contacts.from_bin(3, np.arange(4)), np.array([0, 1, 2, 2]) / 5)
    half = hic.abc_contacts(_band_of(TINY), "VC", tss_hic_contribution=50)
    np.testing.assert_allclose(half.from_bin(1, np.arange(4)), np.array([2, 1.5, 3, 1]) / 7.5)


def test_abc_contact_of_tiny_balanced_matrix_is_divided_by_mean_row_sum():
    contacts = hic.abc_contacts(_band_of(TINY), "KR", tss_hic_contribution=100)
    mean_row_sum = (7 + 12 + 14 + 8) / 4
    np.testing.assert_allclose(contacts.from_bin(1, np.arange(4)), np.array([2, 3, 3, 1]) / mean_row_sum)
    np.testing.assert_allclose(contacts.from_bin(2, np.array([0, 3])), np.array([1, 2]) / mean_row_sum)


def test_zero_diagonal_stays_zero_and_nan_neighbours_are_ignored():
    band = np.array([[0.0, 2.0], [5.0, np.nan], [7.0, np.nan]])
    np.testing.assert_array_equal(hic.corrected_diagonal(band, 100), [0.0, 2.0, np.nan])


def test_powerlaw_pseudocount_and_reference_scaling_formulas():
    gamma, scale = 1.0, 6.0
    np.testing.assert_allclose(
        hic.powerlaw_contact([100, 20000], gamma, scale, 5000), [np.exp(6 - np.log(5001)), np.exp(6 - np.log(20001))]
    )
    assert hic.reference_scale(0.87) == pytest.approx(-4.80 + 11.63 * 0.87)
    reference = np.exp(hic.reference_scale(0.87) - 0.87 * np.log(20001))
    assert hic.scale_to_reference(0.5, 20000, gamma, scale, 0.87, 5000) == pytest.approx(
        0.5 * reference / np.exp(6 - np.log(20001))
    )
    cap = np.exp(6 - np.log(5001))
    np.testing.assert_allclose(
        hic.abc_pseudocount([0, 20000], gamma, scale, 5000, 1000), [cap, np.exp(6 - np.log(20001))]
    )


def test_fit_recovers_an_exact_power_law():
    distance = np.arange(1, 201) * 5000.0
    pixels = 1234
    sums = pixels * np.exp(14.0 - 1.1 * np.log(distance))  # large enough for ABC's 1e-6 in the logs
    sums[::7] = 0.0  # distances without contact are left out, as ABC's sparse pixels leave them out
    fitted = hic.fit_powerlaw(distance, sums, pixels)
    assert fitted.gamma == pytest.approx(1.1, abs=1e-4) and fitted.scale == pytest.approx(14.0, abs=1e-3)


def test_distance_sums_count_both_triangles_of_the_row_normalised_matrix():
    contacts = hic.abc_contacts(_band_of(TINY), "VC")
    sums, pixels = hic.distance_contact_sums(contacts)
    divisor = np.array([5, 9, 9, 5])
    assert sums[1] == pytest.approx(sum(TINY[i, i + 1] * (1 / divisor[i] + 1 / divisor[i + 1]) for i in range(3)))
    assert pixels == 6


def test_chromosome_names_are_harmonised_both_ways():
    assert hic.file_chromosome("chr22", ["1", "22", "X"], "f.hic") == "22"
    assert hic.file_chromosome("chrX", ["chrX"], "f.hic") == "chrX"
    assert hic.file_chromosome("2L", ["chr2L"], "f.hic") == "chr2L"
    assert hic.file_chromosome("chrM", ["1", "MT"], "f.hic") == "MT"
    with pytest.raises(hic.HicError, match=r"f\.hic.*'chr5'"):
        hic.file_chromosome("chr5", ["1", "22"], "f.hic")


def test_tiny_file_reads_back_and_vc_is_computed_with_a_log(tiny_hic, caplog):
    raw = hic.open_contact_matrix(tiny_hic, 10, "NONE").band("chr22", 3)
    np.testing.assert_array_equal(raw.values, _band_of(TINY).values)
    np.testing.assert_array_equal(raw.row_sums, TINY.sum(axis=1))
    with caplog.at_level(logging.INFO, logger="seq2exp.features.hic"):
        vc = hic.open_contact_matrix(tiny_hic, 10, "VC").band("chr22", 3)
    assert "computing VC" in caplog.text and str(tiny_hic) in caplog.text
    rows = TINY.sum(axis=1)
    expected = TINY / np.outer(rows, rows)
    expected *= TINY.sum() / expected.sum()  # Juicer: the VC matrix sums to the observed one
    np.testing.assert_allclose(vc.values, _band_of(expected).values)


@pytest.mark.parametrize("normalization", ["KR", "SCALE"])
def test_missing_vector_is_an_error_naming_file_and_normalisation(tiny_hic, normalization):
    with pytest.raises(hic.HicError, match=rf"{tiny_hic.name}.*{normalization}"):
        hic.open_contact_matrix(tiny_hic, 10, normalization).band("chr22", 3)


# Row 1 (the TSS bin) of TINY: raw, row-normalised after the diagonal correction -> [2, 3, 3, 1] / 9.
# VC divides column j by row sum r_j = [7, 12, 14, 8] (r_1 and Juicer's constant cancel in the row
# normalisation): [2/7, 6/12, 3/14, 1/8] -> diagonal max(2/7, 3/14) -> divided by the row's sum.
_VC_ROW = np.array([2 / 7, 2 / 7, 3 / 14, 1 / 8])


@pytest.mark.parametrize(
    "normalization,expected", [("NONE", np.array([2, 3, 3, 1]) / 9), ("VC", _VC_ROW / _VC_ROW.sum())]
)
def test_profiles_of_the_tiny_file_follow_abc(tiny_hic, normalization, expected):
    genes = pd.DataFrame({"gene_id": ["g1"], "chrom": ["chr22"], "tss": [15]})
    result = hic.tss_contact_profiles(
        tiny_hic,
        genes,
        half_width=20,
        resolution=10,
        normalization=normalization,
        gamma=1.0,
        scale=2.0,
        pseudocount_distance=10,
    )
    table = result.table
    assert table["bin_start"].tolist() == [0, 10, 20, 30]
    np.testing.assert_allclose(table["hic_contact"], expected)
    np.testing.assert_allclose(table["distance"], [10, 0, 10, 20])
    powerlaw = np.exp(2 - np.log(np.array([10, 10, 10, 20]) + 1))
    np.testing.assert_allclose(table["powerlaw_contact"], powerlaw)
    reference = np.exp(hic.reference_scale(0.87) - 0.87 * np.log(np.array([10, 10, 10, 20]) + 1))
    expected = table["hic_contact"] * reference / powerlaw + np.minimum(powerlaw, np.exp(2 - np.log(11)))
    np.testing.assert_allclose(table["hic_contact_pl_scaled_adj"], expected)
    assert not table["powerlaw_filled"].any() and result.powerlaw == (1.0, 2.0) and not result.fitted


def test_gene_without_tss_contact_gets_the_power_law_and_missing_bins_are_counted(tmp_path):
    # Bin 3 has no contacts: VC is NaN there, so its row is missing and its TSS contact too.
    matrix = TINY.copy()
    matrix[3, :] = matrix[:, 3] = 0
    _write_tiny_hic(tmp_path / "gap.hic", matrix)
    genes = pd.DataFrame({"gene_id": ["in_gap", "beside"], "chrom": ["chr22", "chr22"], "tss": [35, 15]})
    table = hic.tss_contact_profiles(
        tmp_path / "gap.hic", genes, 20, 10, "VC", gamma=1.0, scale=2.0, pseudocount_distance=10
    ).table
    in_gap, beside = table[table["gene_id"] == "in_gap"], table[table["gene_id"] == "beside"]
    assert in_gap["powerlaw_filled"].all() and not beside["powerlaw_filled"].any()
    reference = hic.powerlaw_contact(in_gap["distance"], 0.87, hic.reference_scale(0.87), 10)
    np.testing.assert_allclose(in_gap["hic_contact_pl_scaled"], reference)
    assert beside["hic_contact"].isna().tolist() == [False, False, False, True]
    assert beside["hic_contact_pl_scaled_adj"].iloc[3] == pytest.approx(beside["hic_pseudocount"].iloc[3])
    assert len(in_gap) == 3 and hic.missing_fraction(table) == pytest.approx((3 + 1) / 7)


def test_absent_chromosome_is_an_error_naming_file_and_chromosome(tiny_hic):
    genes = pd.DataFrame({"gene_id": ["g1"], "chrom": ["chr5"], "tss": [15]})
    with pytest.raises(hic.HicError, match=rf"{tiny_hic.name}.*'chr5'"):
        hic.tss_contact_profiles(tiny_hic, genes, 20, 10, "VC", gamma=1.0, scale=2.0)


def test_per_base_contact_repeats_each_bin_and_zeroes_beyond_the_chromosome():
    profile = pd.DataFrame(
        {"bin_start": [0, 10, 20], "bin_end": [10, 20, 25], "hic_contact_pl_scaled_adj": [9.0, 99.0, 0.0]}
    )
    values = hic.per_base_contact(profile, tss=12, half_width=16, resolution=10)
    assert values.dtype == np.float32 and values.shape == (32,)
    expected = np.r_[np.zeros(4), np.full(10, 1.0), np.full(10, 2.0), np.zeros(8)]  # bases -4..27
    np.testing.assert_allclose(values, expected)


# --- real files ---------------------------------------------------------------------------


def _straw_records(path, chrom, normalization, resolution, length):
    import hicstraw

    zoom = hicstraw.HiCFile(str(path)).getMatrixZoomData(chrom, chrom, "observed", normalization, "BP", resolution)
    return [(r.binX // resolution, r.binY // resolution, r.counts) for r in zoom.getRecords(0, length, 0, length)]


@needs_real
@pytest.mark.parametrize("normalization", ["VC", "VC_SQRT", "NONE"])
def test_hicstraw_and_hictkpy_give_the_same_band_and_match_straws_own_normalisation(normalization):
    bands = [
        hic.open_contact_matrix(IGV_HIC, 5000, normalization, reader).band(chrom, 20)
        for reader, chrom in (("hicstraw", "chr22"), ("hictkpy", "22"))
    ]
    np.testing.assert_allclose(bands[0].values, bands[1].values, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(bands[0].row_sums, bands[1].row_sums, rtol=1e-12)
    records = _straw_records(IGV_HIC, "22", normalization, 5000, 51_304_566)
    near = [(x, y, v) for x, y, v in records if y - x <= 20]
    assert len(near) > 1000
    x, y, v = map(np.array, zip(*near))
    np.testing.assert_allclose(bands[0].values[x, y - x], v, rtol=1e-6)


@needs_real
def test_hic_and_its_mcool_twin_agree_across_readers_and_weight_conventions():
    # The .hic's ICE vector is divisive; the .mcool's `weight` is its multiplicative inverse.
    reference = hic.open_contact_matrix(DM6_HIC, 100_000, "ICE", "hicstraw").band("chr2L", 30)
    for path, normalization, reader in [
        (DM6_HIC, "ICE", "hictkpy"),
        (DM6_MCOOL, "weight", "cooler"),
        (DM6_MCOOL, "weight", "hictkpy"),
    ]:
        band = hic.open_contact_matrix(path, 100_000, normalization, reader).band("2L", 30)
        np.testing.assert_allclose(band.values, reference.values, rtol=1e-6, equal_nan=True)
    raw_hic = hic.open_contact_matrix(DM6_HIC, 100_000, "NONE").band("chr2L", 30)
    raw_cool = hic.open_contact_matrix(DM6_MCOOL, 100_000, "NONE").band("chr2L", 30)
    np.testing.assert_array_equal(raw_hic.values, raw_cool.values)
    assert raw_hic.row_sums.sum() == raw_cool.row_sums.sum() == 2 * 19_968_156 - np.trace(_dense_raw())


def _dense_raw():
    import cooler

    return cooler.Cooler(f"{DM6_MCOOL}::/resolutions/100000").matrix(balance=False).fetch("chr2L")


@needs_real
@pytest.mark.parametrize("normalization", ["weight", "KR", "VC", "SCALE"])
def test_cooler_weight_columns_are_applied_with_the_right_orientation(normalization):
    import cooler

    clr = cooler.Cooler(f"{DM6_MCOOL}::/resolutions/100000")
    expected = clr.matrix(balance=normalization, divisive_weights=normalization != "weight").fetch("chr2L")
    for reader in ("cooler", "hictkpy"):
        band = hic.open_contact_matrix(DM6_MCOOL, 100_000, normalization, reader).band("chr2L", 10)
        i, k = np.nonzero(np.isfinite(band.values) & (band.values > 0))
        np.testing.assert_allclose(band.values[i, k], expected[i, i + k], rtol=1e-9)
    if normalization == "SCALE":  # cooler's default would treat SCALE as multiplicative
        wrong = clr.matrix(balance="SCALE").fetch("chr2L")
        assert not np.allclose(band.values[i, k], wrong[i, i + k], rtol=1e-3)


@needs_real
def test_cooler_weight_without_orientation_attribute_is_multiplicative():
    import cooler

    mcool = REAL / "cool" / "docker-4dn-hic_test2.mcool"  # its `weight` has no divisive_weights attribute
    expected = cooler.Cooler(f"{mcool}::/resolutions/100000").matrix(balance="weight").fetch("chr21")
    for reader in ("cooler", "hictkpy"):
        band = hic.open_contact_matrix(mcool, 100_000, "weight", reader).band("21", 10)
        i, k = np.nonzero(np.isfinite(band.values))
        assert i.size > 100
        np.testing.assert_allclose(band.values[i, k], expected[i, i + k], rtol=1e-9)


@needs_real
def test_cool_without_chr_prefix_and_kr_column():
    import cooler

    # hictkpy does not open this hic2cool 0.5.1 file; cooler does.
    band = hic.open_contact_matrix(GM12878_COOL, 2_500_000, "KR").band("chr22", 5)
    expected = cooler.Cooler(str(GM12878_COOL)).matrix(balance="KR", divisive_weights=True).fetch("22")
    i, k = np.nonzero(np.isfinite(band.values))
    assert i.size > 50 and np.isnan(band.values).any()
    np.testing.assert_allclose(band.values[i, k], expected[i, i + k], rtol=1e-9)


@needs_real
@pytest.mark.parametrize("normalization", ["KR", "SCALE"])
def test_file_without_vectors_is_refused_for_balanced_normalisations(normalization):
    for reader in ("hicstraw", "hictkpy"):
        with pytest.raises(hic.HicError, match=rf"{NO_NORMS_HIC.name}.*{normalization}"):
            hic.open_contact_matrix(NO_NORMS_HIC, 500_000, normalization, reader).band("chr1", 4)


@needs_real
def test_file_without_vectors_gets_vc_computed_from_its_counts(caplog):
    raw = hic.open_contact_matrix(NO_NORMS_HIC, 500_000, "NONE").band("chr1", 4)
    with caplog.at_level(logging.INFO, logger="seq2exp.features.hic"):
        vc = hic.open_contact_matrix(NO_NORMS_HIC, 500_000, "VC").band("chr1", 4)
    assert "computing VC" in caplog.text
    coverage = hic.coverage_vector(raw.row_sums)
    partner = np.minimum(np.arange(len(coverage))[:, None] + np.arange(5), len(coverage) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = vc.values * coverage[:, None] * coverage[partner] / raw.values
    ratio = ratio[np.isfinite(ratio)]
    assert ratio.size > 100 and np.allclose(ratio, ratio[0], rtol=1e-9)


@needs_real
def test_computed_vc_equals_the_files_own_vc(monkeypatch):
    from_file = hic.open_contact_matrix(IGV_HIC, 5000, "VC").band("chr22", 20)
    matrix = hic.open_contact_matrix(IGV_HIC, 5000, "VC")
    monkeypatch.setattr(matrix._reader, "weights", lambda chrom, normalization: None)
    computed = matrix.band("chr22", 20)
    np.testing.assert_allclose(computed.values, from_file.values, rtol=1e-9, equal_nan=True)


@needs_real
def test_all_nan_kr_is_an_error_not_an_empty_matrix():
    for reader in ("hicstraw", "hictkpy"):
        with pytest.raises(hic.HicError, match=rf"{IGV_HIC.name}.*KR.*chromosome 22.*NaN"):
            hic.open_contact_matrix(IGV_HIC, 5000, "KR", reader).band("chr22", 20)
    kr_10kb = hic.open_contact_matrix(IGV_HIC, 10_000, "KR").band("chr22", 5)
    assert np.isfinite(kr_10kb.values).any() and np.isnan(kr_10kb.values).any()


@needs_real
@pytest.mark.parametrize(
    "path,reader", [(IGV_HIC, "hicstraw"), (IGV_HIC, "hictkpy"), (DM6_MCOOL, "cooler"), (DM6_MCOOL, "hictkpy")]
)
def test_wrong_resolution_names_file_and_available_resolutions(path, reader):
    with pytest.raises(hic.HicError, match=rf"{path.name}.*7000.*100000") as error:
        hic.open_contact_matrix(path, 7000, "VC", reader)
    if path == IGV_HIC:
        assert "5000, 10000, 25000" in str(error.value)


@needs_real
def test_real_profiles_fit_the_files_own_power_law():
    genes = pd.DataFrame({"gene_id": ["a", "b"], "chrom": ["chr22", "chr22"], "tss": [30_000_000, 40_002_500]})
    result = hic.tss_contact_profiles(IGV_HIC, genes, 100_000, 5000, "VC", fit_max_distance=500_000)
    assert result.fitted and 0.3 < result.powerlaw.gamma < 2.0
    assert len(result.table) == 40 + 41 and result.table["hic_contact_pl_scaled_adj"].gt(0).all()
    per_base = hic.per_base_contact(result.table[result.table["gene_id"] == "b"], 40_002_500, 100_000, 5000)
    assert per_base.shape == (200_000,) and (per_base > 0).all()


# --- ABC's own K562 chr22 predictions -----------------------------------------------------


def _abc_parameters() -> dict[str, str]:
    lines = (ABC / "parameters.predict.txt").read_text().splitlines()
    return dict(line.split(maxsplit=1) for line in lines if line.strip())


@needs_real
def test_abc_scaling_reproduces_abcs_k562_chr22_predictions():
    params = _abc_parameters()
    gamma, scale = float(params["hic_gamma"]), float(params["hic_scale"])
    reference_gamma = float(params["hic_gamma_reference"])
    pseudocount_distance = float(params["hic_pseudocount_distance"])
    min_distance = float(params["hic_resolution"])
    pred = pd.read_csv(ABC / "EnhancerPredictionsFull_threshold0.027_self_promoter.tsv", sep="\t")
    distance = pred["distance"].to_numpy()
    powerlaw = hic.powerlaw_contact(distance, gamma, scale, min_distance)
    scaled = hic.scale_to_reference(pred["hic_contact"], distance, gamma, scale, reference_gamma, min_distance)
    pseudocount = hic.abc_pseudocount(distance, gamma, scale, pseudocount_distance, min_distance)
    reference = hic.powerlaw_contact(distance, reference_gamma, hic.reference_scale(reference_gamma), min_distance)
    assert len(pred) > 1000
    for ours, column in [
        (powerlaw, "powerlaw_contact"),
        (reference, "powerlaw_contact_reference"),
        (scaled, "hic_contact_pl_scaled"),
        (pseudocount, "hic_pseudocount"),
        (scaled + pseudocount, "hic_contact_pl_scaled_adj"),
    ]:
        np.testing.assert_allclose(ours, pred[column], rtol=0, atol=1e-5, err_msg=column)


# --- demo ---------------------------------------------------------------------------------


def _element_contacts(demo, table, cell):
    """Each element's final contact with its target gene's TSS, with distance and role."""
    res, hw = demo.spec.hic_resolution, demo.spec.window_half_width
    tss = demo.genes.set_index("gene_id")["tss"]
    by_gene = {g: t.set_index("bin_start") for g, t in table.groupby("gene_id")}
    rows = []
    for e in demo.elements[demo.elements["target_gene"].isin(tss.index)].itertuples():
        middle = (e.start + e.end) // 2
        distance = abs(middle - tss[e.target_gene])
        if e.kind not in ("enhancer", "closed_motifs", "ctcf_open") or distance >= hw or distance < 2 * res:
            continue
        active = e.kind == "enhancer" and getattr(e, f"activity_{cell}") > 0
        contact = by_gene[e.target_gene].loc[middle // res * res, "hic_contact_pl_scaled_adj"]
        rows.append((active, distance, contact))
    return pd.DataFrame(rows, columns=["active", "distance", "contact"])


def test_demo_planted_enhancers_have_more_contact_than_distance_matched_decoys(tiny_demo, tiny_demo_paths, caplog):
    spec = tiny_demo.spec
    for cell in tiny_demo.cell_types:
        with caplog.at_level(logging.INFO, logger="seq2exp.features.hic"):
            result = hic.tss_contact_profiles(
                tiny_demo_paths.cell_types[cell]["hic"],
                tiny_demo.genes,
                spec.window_half_width,
                spec.hic_resolution,
                "VC",
                pseudocount_distance=spec.hic_resolution,
            )
        assert "computing VC" in caplog.text and result.fitted
        assert hic.missing_fraction(result.table) < 0.2
        elements = _element_contacts(tiny_demo, result.table, cell)
        active, decoys = elements[elements["active"]], elements[~elements["active"]]
        assert len(active) >= 10 and len(decoys) >= 5
        wins = [
            (a.contact > d.contact)
            for a in active.itertuples()
            for d in decoys.itertuples()
            if abs(a.distance - d.distance) <= 4 * spec.hic_resolution
        ]
        assert len(wins) >= 10 and np.mean(wins) > 0.8, (cell, np.mean(wins), len(wins))


# --- the two recipes on a real .hic, against hand computations -------------------------------

# chr22 TSSs of the IGV file: contacts beside the TSS; the TSS bin empty (both QCs fail); the TSS bin
# empty but 300 bases of the next bin, which has contact, within 500 bp; a window beyond the end.
REAL_GENES = pd.DataFrame(
    {
        "gene_id": ["a", "b", "empty", "edge", "end"],
        "chrom": "chr22",
        "tss": [23_526_234, 39_124_800, 30_000_000, 30_004_800, 51_250_000],
    }
)
CHR22 = 51_304_566


def _vc_contacts_by_pair():
    return {(x, y): v for x, y, v in _straw_records(IGV_HIC, "22", "VC", 5000, CHR22)}


def _per_base_bins(tss, half_width=100_000, resolution=5000):
    """Each base of the window, its bin, and whether it lies on the chromosome."""
    bases = np.arange(tss - half_width, tss + half_width)
    return bases, bases // resolution, (bases >= 0) & (bases < CHR22)


@needs_real
def test_authors_recipe_equals_their_per_base_channel_on_a_real_hic():
    pairs = _vc_contacts_by_pair()
    result = hic.tss_contact_profiles(IGV_HIC, REAL_GENES, 100_000, 5000, "VC", recipe="authors")
    # Their power law: exp(-4.80 + 11.63 g - g log(max(d, 5 kb) + 1)), g = 0.87 for file and reference.
    pseudocount = np.exp(-4.80 + 11.63 * 0.87 - 0.87 * np.log(1_000_000 + 1))
    assert pseudocount == pytest.approx(1.2e-3, rel=0.05) and not result.fitted
    for gene in REAL_GENES.itertuples():
        bases, bins, on_chromosome = _per_base_bins(gene.tss)
        tss_bin = gene.tss // 5000
        contact = np.array([pairs.get((min(b, tss_bin), max(b, tss_bin)), 0.0) for b in bins])
        self_promoter = (bases - 500 < gene.tss) & (bases + 500 > gene.tss)
        value = np.nan if contact[self_promoter].sum() < 0.01 else contact + pseudocount
        expected = np.where(on_chromosome, np.log10(np.nan_to_num(value) + 1), 0.0)
        profile = result.table[result.table["gene_id"] == gene.gene_id]
        ours = hic.per_base_contact(profile, gene.tss, 100_000, 5000)
        np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-7, err_msg=gene.gene_id)
    has_channel = {g: (t["hic_contact_pl_scaled_adj"].notna().all()) for g, t in result.table.groupby("gene_id")}
    assert has_channel == {"a": True, "b": True, "empty": False, "edge": True, "end": False}


@needs_real
def test_abc_recipe_equals_a_hand_computation_on_a_real_hic():
    pairs = _vc_contacts_by_pair()
    gamma, scale = 1.0, 6.0
    result = hic.tss_contact_profiles(
        IGV_HIC, REAL_GENES, 100_000, 5000, "VC", gamma=gamma, scale=scale, pseudocount_distance=5000, recipe="abc"
    )

    def powerlaw(d, g, s):
        return np.exp(s - g * np.log(np.maximum(d, 5000) + 1))

    for gene in REAL_GENES.itertuples():
        bases, bins, on_chromosome = _per_base_bins(gene.tss)
        t = gene.tss // 5000
        row = {(y if x == t else x): v for (x, y), v in pairs.items() if t in (x, y)}
        if row.get(t, 0) != 0:  # ABC's diagonal: the larger neighbour
            row[t] = max(row.get(t - 1, 0.0), row.get(t + 1, 0.0))
        row_sum = sum(row.values())
        contact = np.array([row.get(b, 0.0) / (row_sum or 1.0) for b in bins])
        distance = np.abs(bins * 5000 + 2500 - gene.tss)
        if not row.get(t, 0) / (row_sum or 1.0) >= 0.01:
            contact = powerlaw(distance, gamma, scale)
        reference = powerlaw(distance, 0.87, -4.80 + 11.63 * 0.87)
        value = contact * reference / powerlaw(distance, gamma, scale) + np.minimum(
            powerlaw(distance, gamma, scale), powerlaw(5000, gamma, scale)
        )
        expected = np.where(on_chromosome, np.log10(value + 1), 0.0)
        profile = result.table[result.table["gene_id"] == gene.gene_id]
        ours = hic.per_base_contact(profile, gene.tss, 100_000, 5000)
        np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-7, err_msg=gene.gene_id)


def test_authors_recipe_takes_no_fitted_power_law_and_abc_is_the_other_recipe(tiny_hic):
    genes = pd.DataFrame({"gene_id": ["g1"], "chrom": ["chr22"], "tss": [15]})
    with pytest.raises(ValueError, match="reference_gamma for both"):
        hic.tss_contact_profiles(tiny_hic, genes, 20, 10, "VC", gamma=1.0, scale=2.0, recipe="authors")
    with pytest.raises(ValueError, match="unknown Hi-C recipe 'ours'.*authors, abc"):
        hic.tss_contact_profiles(tiny_hic, genes, 20, 10, "VC", recipe="ours")


def test_authors_recipe_on_a_hic_without_vectors_uses_the_computed_vc(tiny_hic, caplog):
    genes = pd.DataFrame({"gene_id": ["g1"], "chrom": ["chr22"], "tss": [15]})
    with caplog.at_level(logging.INFO, logger="seq2exp.features.hic"):
        table = hic.tss_contact_profiles(tiny_hic, genes, 20, 10, "VC", recipe="authors").table
    assert "computing VC" in caplog.text
    rows = TINY.sum(axis=1)
    vc = TINY / np.outer(rows, rows)
    vc *= TINY.sum() / vc.sum()  # Juicer: the VC matrix sums to the observed one
    pseudocount = np.exp(-4.80 + 11.63 * 0.87 - 0.87 * np.log(1_000_001))
    np.testing.assert_allclose(table["hic_contact_pl_scaled_adj"], vc[1] + pseudocount)
