"""The demo generator: planted biology, decoys, ground truth, and files readable by the real readers."""

import gzip

import hicstraw
import numpy as np
import pandas as pd
import pyBigWig
import pyfaidx
import pytest

from seq2exp.features.columns import EPINFORMER_MRNA_FEATURES
from seq2exp.inputs.demo.simulation import (
    MOTIFS,
    cell_rng,
    expected_tags,
    simulate,
    simulate_cell,
    simulate_world,
    validate_spec,
)
from seq2exp.inputs.demo.spec import DemoSpec

COMPLEMENT = str.maketrans("ACGT", "TGCA")


def test_simulation_is_deterministic(tiny_demo):
    again = simulate(DemoSpec(seed=11))
    assert again.sequence == tiny_demo.sequence
    pd.testing.assert_frame_equal(again.genes, tiny_demo.genes)
    assert simulate(DemoSpec(seed=12)).sequence != tiny_demo.sequence
    for cell in tiny_demo.cell_types:
        pd.testing.assert_frame_equal(again.ctss[cell], tiny_demo.ctss[cell])


def test_a_cell_type_is_simulated_from_its_own_stream(tiny_demo):
    """A cell type's measurements do not depend on which other cell types a run simulates, nor
    on their order; different cell types draw different numbers."""
    world = simulate_world(tiny_demo.spec)
    for cell in tiny_demo.cell_types:
        alone = simulate_cell(world, cell)
        pd.testing.assert_frame_equal(alone.ctss, tiny_demo.ctss[cell])
        assert all(np.array_equal(alone.tracks["dnase"][c], t) for c, t in tiny_demo.tracks[cell]["dnase"].items())
        pd.testing.assert_frame_equal(alone.hic, tiny_demo.hic[cell])
    k562, gm12878 = (cell_rng(tiny_demo.spec, c).random(4) for c in ("K562", "GM12878"))
    assert not np.allclose(k562, gm12878)


def test_windows_overhang_chromosome_ends(tiny_demo):
    hw = tiny_demo.spec.window_half_width
    for chrom, size in tiny_demo.chrom_sizes.items():
        tss = tiny_demo.genes.loc[tiny_demo.genes["chrom"] == chrom, "tss"]
        assert tss.min() - hw < 0 and tss.max() + hw > size
        assert tiny_demo.sequence[chrom][:100] == "N" * 100


def _motif_sites(spec, motif_class):
    names = spec.cell_type_motifs.get(motif_class, ("AP1",))
    return [MOTIFS[n] for n in names]


def _has_site(sequence: str, site: str) -> bool:
    fixed = [site, site.translate(COMPLEMENT)[::-1]]
    return any(
        any(
            all(p == "N" or p == s for p, s in zip(f, sequence[i : i + len(f)]))
            for i in range(len(sequence) - len(f) + 1)
        )
        for f in fixed
    )


def test_enhancers_carry_their_class_motifs(tiny_demo):
    enhancers = tiny_demo.elements[tiny_demo.elements["kind"].isin(["enhancer", "closed_motifs"])]
    for e in enhancers.itertuples():
        seq = tiny_demo.sequence[e.chrom][e.start : e.end]
        assert any(_has_site(seq, site) for site in _motif_sites(tiny_demo.spec, e.motif_class)), e


def test_active_enhancers_lie_under_dnase_peaks_and_closed_ones_do_not(tiny_demo, tiny_demo_paths):
    for cell in tiny_demo.cell_types:
        bw = pyBigWig.open(tiny_demo_paths.cell_types[cell]["dnase"])
        background = {c: np.nanmedian(bw.values(c, 0, n, numpy=True)) for c, n in bw.chroms().items()}
        elements = tiny_demo.elements
        active = elements[(elements["kind"] == "enhancer") & (elements[f"activity_{cell}"] > 0)]
        closed = elements[
            (elements["kind"] == "closed_motifs")
            | ((elements["kind"] == "enhancer") & (elements[f"activity_{cell}"] == 0))
        ]
        assert len(active) >= 10 and len(closed) >= 10
        peak = lambda e: np.nanmax(bw.values(e.chrom, e.start, e.end, numpy=True))  # noqa: E731, B023
        for e in active.itertuples():
            assert peak(e) > max(0.6, 4 * background[e.chrom]), (cell, e)
        assert np.mean([peak(e) < 0.6 for e in closed.itertuples()]) > 0.9


def test_decoys_exist(tiny_demo):
    elements, genes, hw = tiny_demo.elements, tiny_demo.genes, tiny_demo.spec.window_half_width
    causal_ids = set(tiny_demo.causal["element_id"])
    ctcf = elements[elements["kind"] == "ctcf_open"]
    assert len(ctcf) > 0 and not set(ctcf["element_id"]) & causal_ids
    assert all((ctcf[f"activity_{c}"] > 0).all() for c in tiny_demo.cell_types)  # open, yet no effect
    assert (elements["kind"] == "closed_motifs").sum() > 0
    assert (elements["kind"] == "blacklist_artifact").sum() == len(tiny_demo.chrom_sizes)
    # Active enhancers of a neighbouring gene inside another gene's window:
    neighbours = 0
    for e in elements[elements["kind"] == "enhancer"].itertuples():
        centre = (e.start + e.end) // 2
        others = genes[(genes["chrom"] == e.chrom) & (genes["gene_id"] != e.target_gene)]
        neighbours += int((abs(others["tss"] - centre) < hw).any())
    assert neighbours >= 10
    # Cell-type specificity: some enhancers are active in one cell type only.
    a, b = (elements[f"activity_{c}"] > 0 for c in tiny_demo.cell_types)
    assert ((elements["kind"] == "enhancer") & (a != b)).sum() > 0


def _read_truth_bed(path):
    with open(path) as handle:
        header = handle.readline().lstrip("#").split()
    return pd.read_csv(path, sep="\t", comment="#", names=header)


def test_ground_truth_bed_reproduces_expected_tags(tiny_demo, tiny_demo_paths):
    truth_genes = pd.read_csv(f"{tiny_demo_paths.truth_dir}/genes.tsv", sep="\t").set_index("gene_id")
    for cell in tiny_demo.cell_types:
        bed = _read_truth_bed(f"{tiny_demo_paths.truth_dir}/{cell}.causal_elements.bed")
        assert set(bed["kind"]) == {"promoter", "enhancer"}
        assert truth_genes.loc[bed["gene_id"], f"promoter_on_{cell}"].all()
        from_bed = bed.assign(target_gene=bed["gene_id"], cell_type=cell)
        recomputed = expected_tags(tiny_demo.spec, tiny_demo.genes, from_bed, cell)
        np.testing.assert_allclose(recomputed.to_numpy(), truth_genes[f"expected_tags_{cell}"], rtol=1e-5)
        # Enhancers matter: removing them changes the expected tags of the genes they regulate.
        without = expected_tags(tiny_demo.spec, tiny_demo.genes, from_bed[from_bed["kind"] == "promoter"], cell)
        assert (recomputed - without > 1.0).sum() >= 5


def _ctss(path):
    with gzip.open(path, "rt") as handle:
        return pd.read_csv(handle, sep="\t", names=["chrom", "start", "end", "name", "count", "strand"])


def test_cage_tags_around_tss_are_the_poisson_draws(tiny_demo, tiny_demo_paths):
    table = pd.read_csv(tiny_demo_paths.gene_table)
    truth = pd.read_csv(f"{tiny_demo_paths.truth_dir}/genes.tsv", sep="\t")
    h = tiny_demo.spec.cage_half_width
    for cell in tiny_demo.cell_types:
        ctss = _ctss(tiny_demo_paths.cell_types[cell]["cage"])
        assert (ctss["end"] - ctss["start"] == 1).all() and set(ctss["strand"]) == {"+", "-"}
        for chrom, tss1, precomputed in zip(table["chrom"], table["TSS_xpresso"], table[f"{cell}_CAGE_128*3_sum"]):
            tss = tss1 - 1
            near = ctss[(ctss["chrom"] == chrom) & (ctss["start"] >= tss - h) & (ctss["start"] < tss + h)]
            assert near["count"].sum() == precomputed
        tags = truth[f"tags_{cell}"]
        assert (table[f"{cell}_CAGE_128*3_sum"] == tags).all()
        lam = truth[f"expected_tags_{cell}"]
        assert np.corrcoef(np.log10(tags + 1), np.log10(lam + 1))[0, 1] > 0.95


def test_gene_table_has_epinformer_columns(tiny_demo_paths):
    table = pd.read_csv(tiny_demo_paths.gene_table)
    expected = [
        "ENSID",
        "Gene name",
        "chrom",
        "start",
        "end",
        "strand",
        "TSS_xpresso",
        "K562_CAGE_128*3_sum",
        "GM12878_CAGE_128*3_sum",
        "UTR5LEN_log10zscore",
        "CDSLEN_log10zscore",
        "INTRONLEN_log10zscore",
        "UTR3LEN_log10zscore",
        "UTR5GC",
        "CDSGC",
        "UTR3GC",
        "ORFEXONDENSITY",
    ]
    assert list(table.columns) == expected
    mrna = pd.read_csv(tiny_demo_paths.mrna_features)
    assert list(mrna.columns[:4]) == ["chrom", "TSS", "gene_id", "Gene name"]
    assert (mrna["gene_id"] == table["ENSID"]).all()
    plus = table["strand"] == "+"
    assert (table.loc[plus, "start"] == table.loc[plus, "TSS_xpresso"]).all()
    assert (table.loc[~plus, "end"] == table.loc[~plus, "TSS_xpresso"]).all()


def test_fasta_and_bigwig_hold_the_simulated_values(tiny_demo, tiny_demo_paths, tmp_path):
    fasta = tmp_path / "genome.fa"
    with gzip.open(tiny_demo_paths.fasta) as src:
        fasta.write_bytes(src.read())
    genome = pyfaidx.Fasta(str(fasta))
    for chrom, seq in tiny_demo.sequence.items():
        assert str(genome[chrom][:]) == seq
    for cell in tiny_demo.cell_types:
        for kind in ("dnase", "h3k27ac"):
            bw = pyBigWig.open(tiny_demo_paths.cell_types[cell][kind])
            assert bw.chroms() == tiny_demo.chrom_sizes
            for chrom, track in tiny_demo.tracks[cell][kind].items():
                values = bw.values(chrom, 0, len(track), numpy=True)
                np.testing.assert_allclose(np.nan_to_num(values), track, atol=1e-6)
                assert np.isnan(values[:100]).all()  # the telomere gap has no data


def test_hic_holds_the_counts_and_the_planted_loops(tiny_demo, tiny_demo_paths):
    res = tiny_demo.spec.hic_resolution
    for cell in tiny_demo.cell_types:
        hic = hicstraw.HiCFile(tiny_demo_paths.cell_types[cell]["hic"])
        assert hic.getResolutions() == [res]
        pixels = tiny_demo.hic[cell]
        chrom = "chr1"
        size = tiny_demo.chrom_sizes[chrom]
        zoom = hic.getMatrixZoomData(chrom, chrom, "observed", "NONE", "BP", res)
        records = zoom.getRecords(0, size, 0, size)
        read = {(r.binX // res, r.binY // res): r.counts for r in records}
        expected = pixels[pixels["chrom"] == chrom]
        assert read == {(a, b): float(c) for a, b, c in zip(expected["bin1"], expected["bin2"], expected["count"])}
    # Active enhancer-TSS pixels exceed distance-matched pixels elsewhere.
    cell = tiny_demo.cell_types[0]
    pixels = tiny_demo.hic[cell].set_index(["chrom", "bin1", "bin2"])["count"]
    tss = tiny_demo.genes.set_index("gene_id")["tss"]
    elements = tiny_demo.elements
    active = elements[(elements["kind"] == "enhancer") & (elements[f"activity_{cell}"] > 0)]
    ratios = []
    for e in active.itertuples():
        a, b = sorted((tss[e.target_gene] // res, (e.start + e.end) // 2 // res))
        if a == b:
            continue
        chrom_pixels = pixels.loc[e.chrom]
        same_distance = chrom_pixels[
            (chrom_pixels.index.get_level_values(1) - chrom_pixels.index.get_level_values(0)) == b - a
        ]
        ratios.append(chrom_pixels.get((a, b), 0) / same_distance.mean())
    assert np.median(ratios) > 1.3


def test_blacklist_covers_the_artefacts(tiny_demo, tiny_demo_paths):
    blacklist = pd.read_csv(tiny_demo_paths.blacklist, sep="\t", names=["chrom", "start", "end", "reason"])
    artefacts = tiny_demo.elements[tiny_demo.elements["kind"] == "blacklist_artifact"]
    for e in artefacts.itertuples():
        rows = blacklist[blacklist["chrom"] == e.chrom]
        assert ((rows["start"] <= e.start) & (rows["end"] >= e.end)).any()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"gene_spacing": (300, 900)}, "gene_spacing"),
        ({"window_half_width": 200}, "no room for enhancers"),
        ({"cell_type_motifs": {"K562": ("GATA1",)}}, "GM12878"),
        ({"cell_type_motifs": {"K562": ("NOPE",), "GM12878": ("SPI1",)}}, "NOPE"),
    ],
)
def test_invalid_specs_are_rejected_with_the_key(change, message):
    spec = DemoSpec(**change)
    with pytest.raises(ValueError, match=message):
        validate_spec(spec)


def _promoter_activity(demo, cell):
    """sqrt(H3K27ac x DNase) over the promoter window, from the simulated tracks (the feature's
    RPM scaling is one constant per file, which a fit on its logarithm absorbs)."""
    h = demo.spec.promoter_half_width
    tracks = demo.tracks[cell]
    return np.array(
        [
            np.sqrt(
                tracks["h3k27ac"][g.chrom][g.tss - h : g.tss + h].mean()
                * tracks["dnase"][g.chrom][g.tss - h : g.tss + h].mean()
            )
            for g in demo.genes.itertuples()
        ]
    )


def test_features_alone_leave_most_expression_to_distal_elements(demo_size_demo):
    """The question must be hard: a linear fit on the nine features (mRNA features and log promoter
    activity) stays at test Pearson <= 0.7, while the planted elements explain the target."""
    demo = demo_size_demo
    genes = demo.genes
    test = genes["chrom"].isin(["chr22", "chrX"]).to_numpy()
    train = ~genes["chrom"].isin(["chr22", "chrX", "chr3", "chr21"]).to_numpy()
    for cell in demo.cell_types:
        target = np.log10(demo.cells[cell].tags + 1.0)
        features = np.column_stack(
            [
                genes[list(EPINFORMER_MRNA_FEATURES)].to_numpy(),
                np.log10(_promoter_activity(demo, cell) + 1e-3),
                np.ones(len(genes)),
            ]
        )
        coef, *_ = np.linalg.lstsq(features[train], target[train], rcond=None)
        features_only = np.corrcoef(features[test] @ coef, target[test])[0, 1]
        assert features_only <= 0.7, (cell, features_only)
        planted = np.log10(genes[f"expected_tags_{cell}"].to_numpy() + 1.0)
        assert np.corrcoef(planted[test], target[test])[0, 1] >= 0.9
