"""The offline demo dataset: a small synthetic genome with planted regulatory biology.

`simulate_world` builds what every cell type shares (genome, genes, elements, each cell type's
activities), `simulate_cell` one cell type's measurements from its own random stream, so that a
run can add a cell type without touching the others' files. `writers.write_world` and
`writers.write_cell` write them in the formats of the real sources (gzipped FASTA, EPInformer-style
gene and mRNA tables, bigWig, .hic, FANTOM5 CTSS BED, blacklist BED) plus ground-truth files that
only evaluation reads.

The biology planted per gene g and cell type c (all lengths in bp, coordinates 0-based):
- a promoter at the TSS with SP1 motifs; it is on in c or not (cell-type-specific genes);
- enhancers of g, each carrying motifs of one class (a cell type's TFs, or the shared AP-1);
  an enhancer is active in c when its class is c or shared: open chromatin (DNase),
  flanking H3K27ac, and a Hi-C loop to the TSS of g;
- expected CAGE tags  lambda = baseline + sum of the contributions of causal elements:
      scale_g    = exp(log_base + mrna_effect_g)
      baseline   = scale_g * promoter_leak
      promoter   = scale_g * promoter_weight * promoter_strength_g          (if the promoter is on in c)
      enhancer e = scale_g * enhancer_gain * activity_e * contact_e         (if also active in c)
  and the observed tags are Poisson(lambda), placed around the TSS in the CTSS file.
  Distal enhancers carry most of the expression: what the promoter's own signal (the promoter
  activity feature) cannot explain has to be found in the window, as the paper's question assumes.
Decoys make peaks alone insufficient: CTCF-like open sites with no effect, active enhancers
of neighbouring genes (overlapping windows), motif clusters in closed chromatin, blacklisted
high-signal artefacts, and neighbouring promoters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...features.columns import EPINFORMER_MRNA_FEATURES
from .spec import DemoSpec

MOTIFS = {
    # Consensus sites (IUPAC N = any base) of the factors the demo plants.
    "GATA1": "AGATAAGGCA",
    "TAL1": "AACAGCTGGT",
    "SPI1": "AAAAGAGGAAGTG",
    "EBF1": "ATTCCCAAGGGAAT",
    "AP1": "ATGACTCATC",
    "CTCF": "CCGCGNGGNGGCAG",
    "SP1": "GGGGCGGGGC",
    "HNF4A": "GGGGTCAAAGGTCA",
    "FOXA2": "TGTTTACTTAGC",
}
SHARED_CLASS = "shared"
SHARED_MOTIFS = ("AP1",)
# Effect of the mRNA features on log expected tags (others carry no signal, as in life).
MRNA_EFFECT = {"UTR3LEN_log10zscore": -0.25, "CDSLEN_log10zscore": 0.15}
BASE_PROBS = np.array([0.295, 0.205, 0.205, 0.295])  # A C G T, 41% GC
BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
COMPLEMENT = bytes.maketrans(b"ACGTN", b"TGCAN")


@dataclass
class World:
    """What every cell type shares, in memory. Tables use 0-based, half-open coordinates."""

    spec: DemoSpec
    layout: "_Layout"
    sequence: dict[str, str]
    genes: pd.DataFrame
    elements: pd.DataFrame
    causal: pd.DataFrame
    blacklist: pd.DataFrame

    @property
    def cell_types(self) -> list[str]:
        return list(self.spec.cell_types)

    @property
    def chrom_sizes(self) -> dict[str, int]:
        return {chrom: len(seq) for chrom, seq in self.sequence.items()}


@dataclass
class CellData:
    """One cell type's measurements: tags per gene (the world's gene order), CTSS, signal tracks, Hi-C."""

    cell: str
    tags: np.ndarray
    ctss: pd.DataFrame
    tracks: dict[str, dict[str, np.ndarray]]
    hic: pd.DataFrame


@dataclass
class Demo:
    """A simulated dataset: the world and each cell type's measurements."""

    world: World
    cells: dict[str, CellData]

    def __getattr__(self, name):  # spec, sequence, genes, elements, ... of the world
        if name == "world":  # not yet set (copy, unpickling)
            raise AttributeError(name)
        return getattr(self.world, name)

    @property
    def tracks(self) -> dict[str, dict[str, dict[str, np.ndarray]]]:
        return {c: d.tracks for c, d in self.cells.items()}

    @property
    def hic(self) -> dict[str, pd.DataFrame]:
        return {c: d.hic for c, d in self.cells.items()}

    @property
    def ctss(self) -> dict[str, pd.DataFrame]:
        return {c: d.ctss for c, d in self.cells.items()}


def validate_spec(spec: DemoSpec) -> None:
    """Reject specs whose planted elements could not fit or would leak into targets."""
    missing = [c for c in spec.cell_types if c not in spec.cell_type_motifs]
    if missing:
        raise ValueError(f"demo.cell_type_motifs: no motifs given for cell type(s) {missing}")
    unknown = sorted({m for ms in spec.cell_type_motifs.values() for m in ms} - MOTIFS.keys())
    if unknown:
        raise ValueError(f"demo.cell_type_motifs: unknown motif(s) {unknown}; known: {sorted(MOTIFS)}")
    if spec.gene_spacing[0] <= 2 * spec.cage_half_width:
        raise ValueError(
            f"demo.gene_spacing: minimum {spec.gene_spacing[0]} bp must exceed twice the CAGE "
            f"half-width ({2 * spec.cage_half_width} bp) so that genes' CAGE windows do not overlap"
        )
    if spec.enhancer_min_distance + spec.element_length >= spec.window_half_width:
        raise ValueError(
            f"window half-width {spec.window_half_width} bp leaves no room for enhancers: they must lie "
            f"at least {spec.enhancer_min_distance} bp from the TSS"
        )


def simulate_world(spec: DemoSpec) -> World:
    """The shared world, deterministic from `spec.seed`: genome, genes, elements and every cell
    type's activities and expected tags (the demo's cell types are `spec.cell_types`)."""
    validate_spec(spec)
    rng = np.random.default_rng(spec.seed)
    layout = _layout_genes(spec, rng)
    genes = _gene_table(spec, layout, rng)
    elements, blacklist = _place_elements(spec, genes, layout, rng)
    sequence = _sequence(spec, layout, elements, rng)
    causal = _causal_elements(spec, genes, elements)
    genes = genes.assign(
        **{f"expected_tags_{c}": expected_tags(spec, genes, causal, c).to_numpy() for c in spec.cell_types}
    )
    return World(spec, layout, sequence, genes, elements, causal, blacklist)


def cell_rng(spec: DemoSpec, cell: str) -> np.random.Generator:
    """A cell type's own random stream, from the seed and its name: adding a cell type to a run
    leaves every other cell type's files unchanged."""
    return np.random.default_rng([spec.seed, *cell.encode()])


def observed_tags(world: World, cell: str, rng: np.random.Generator | None = None) -> np.ndarray:
    """CAGE tags per gene, Poisson(expected): the first draws of the cell type's stream."""
    rng = cell_rng(world.spec, cell) if rng is None else rng
    return rng.poisson(world.genes[f"expected_tags_{cell}"].to_numpy())


def simulate_cell(world: World, cell: str) -> CellData:
    """Everything measured in one cell type, from its own random stream."""
    spec = world.spec
    rng = cell_rng(spec, cell)
    tags = observed_tags(world, cell, rng)
    ctss = _ctss(spec, cell, world.layout, world.genes.assign(tags=tags), world.elements, rng)
    tracks = _signal_tracks(spec, cell, world.layout, world.genes, world.elements, rng)
    hic = _hic_pixels(spec, cell, world.layout, world.genes, world.elements, rng)
    return CellData(cell, tags, ctss, tracks, hic)


def simulate(spec: DemoSpec) -> Demo:
    """The whole demo dataset: the world and every cell type."""
    world = simulate_world(spec)
    return Demo(world, {cell: simulate_cell(world, cell) for cell in spec.cell_types})


# --- layout -------------------------------------------------------------------------------


@dataclass
class _Layout:
    chrom_sizes: dict[str, int]
    tss: dict[str, np.ndarray]
    gaps: dict[str, list[tuple[int, int]]]  # N stretches, [start, end)


def _layout_genes(spec: DemoSpec, rng: np.random.Generator) -> _Layout:
    """TSS positions along each chromosome; the first and last windows overhang the ends."""
    hw, tel = spec.window_half_width, spec.telomere_length
    sizes, tss, gaps = {}, {}, {}
    for chrom, n in spec.genes_per_chromosome.items():
        first = tel + int(rng.uniform(0.3, 0.7) * hw)
        steps = rng.integers(spec.gene_spacing[0], spec.gene_spacing[1] + 1, size=max(n - 1, 0))
        positions = first + np.concatenate([[0], np.cumsum(steps)]).astype(np.int64)
        # One assembly gap between two genes that are far enough apart, as in real chromosomes.
        chrom_gaps = [(0, tel)]
        if n >= 4:
            i = int(rng.integers(1, n - 1))
            gap_len = spec.gene_spacing[0]
            positions[i + 1 :] += gap_len + 2 * hw
            gap_start = int(positions[i] + hw)
            chrom_gaps.append((gap_start, gap_start + gap_len))
        size = int(positions[-1] + int(rng.uniform(0.3, 0.7) * hw) + tel)
        chrom_gaps.append((size - tel, size))
        sizes[chrom], tss[chrom], gaps[chrom] = size, positions, chrom_gaps
    return _Layout(sizes, tss, gaps)


def _gene_table(spec: DemoSpec, layout: _Layout, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for chrom, positions in layout.tss.items():
        for tss in positions:
            rows.append((chrom, int(tss)))
    n = len(rows)
    genes = pd.DataFrame(rows, columns=["chrom", "tss"])
    genes.insert(0, "gene_id", [f"ENSG9{i + 1:010d}" for i in range(n)])
    genes.insert(1, "gene_name", [f"DEMO{i + 1:04d}" for i in range(n)])
    genes["strand"] = rng.choice(["+", "-"], size=n)
    body = rng.integers(2_000, 60_000, size=n)
    plus = genes["strand"].to_numpy() == "+"
    genes["start"] = np.where(plus, genes["tss"], genes["tss"] + 1 - body)
    genes["end"] = np.where(plus, genes["tss"] + body, genes["tss"] + 1)
    genes["promoter_sp1_sites"] = rng.integers(1, 4, size=n)
    genes["promoter_strength"] = genes["promoter_sp1_sites"] * rng.lognormal(0.0, 0.7, size=n)
    # Housekeeping genes are on everywhere; the rest are on in one cell type only.
    on_everywhere = rng.random(n) < spec.housekeeping_fraction
    only_in = rng.choice(list(spec.cell_types), size=n)
    for cell in spec.cell_types:
        genes[f"promoter_on_{cell}"] = on_everywhere | (only_in == cell)
    for name in EPINFORMER_MRNA_FEATURES:
        genes[name] = _mrna_feature(name, n, rng)
    genes["mrna_effect"] = sum(genes[k] * w for k, w in MRNA_EFFECT.items())
    return genes


def _mrna_feature(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if name.endswith("zscore"):
        values = rng.normal(0.0, 1.0, n)
        return (values - values.mean()) / values.std()
    centre = {"UTR5GC": 0.62, "CDSGC": 0.52, "UTR3GC": 0.43}.get(name)
    if centre is not None:
        return np.clip(rng.normal(centre, 0.07, n), 0.2, 0.9)
    return rng.lognormal(np.log(0.6), 0.3, n)  # ORFEXONDENSITY: exon junctions per 100 bp of ORF


# --- elements -----------------------------------------------------------------------------


def _place_elements(spec, genes, layout, rng) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Promoters, enhancers and decoys, none overlapping, none in an assembly gap."""
    occupied = {c: np.zeros(size, dtype=bool) for c, size in layout.chrom_sizes.items()}
    for chrom, chrom_gaps in layout.gaps.items():
        for start, end in chrom_gaps:
            occupied[chrom][start:end] = True
    rows = []

    def claim(chrom, start, end, **attrs):
        occupied[chrom][max(start - 10, 0) : end + 10] = True
        rows.append(dict(chrom=chrom, start=start, end=end, **attrs))

    for g in genes.itertuples():
        half = max(spec.promoter_half_width, spec.element_length // 2)
        claim(
            g.chrom,
            g.tss - half,
            g.tss + half,
            kind="promoter",
            motif_class="promoter",
            target_gene=g.gene_id,
            n_motifs=g.promoter_sp1_sites,
            contact=1.0,
        )
    for g in genes.itertuples():  # keep other elements' eRNA tags out of every CAGE window
        occupied[g.chrom][max(g.tss - spec.cage_half_width, 0) : g.tss + spec.cage_half_width] = True
    classes = list(spec.cell_types) + [SHARED_CLASS]
    for g in genes.itertuples():
        n_enh = int(rng.integers(spec.enhancers_per_gene[0], spec.enhancers_per_gene[1] + 1))
        planned = [("enhancer", rng.choice(classes), g.gene_id) for _ in range(n_enh)]
        if rng.random() < 0.6:
            planned.append(("ctcf_open", "CTCF", ""))
        if rng.random() < 0.8:
            planned.append(("closed_motifs", rng.choice(list(spec.cell_types)), ""))
        for kind, motif_class, target in planned:
            start = _free_slot(spec, occupied[g.chrom], g.tss, rng)
            if start is None:
                continue
            claim(
                g.chrom,
                start,
                start + spec.element_length,
                kind=kind,
                motif_class=motif_class,
                target_gene=target,
                n_motifs=int(rng.integers(1, 4)),
                contact=float(rng.uniform(0.5, 1.5)) if kind == "enhancer" else 0.0,
            )
    blacklist = []
    for chrom in layout.chrom_sizes:
        tss = int(rng.choice(layout.tss[chrom]))
        start = _free_slot(spec, occupied[chrom], tss, rng, length=2 * spec.element_length)
        if start is not None:
            end = start + 2 * spec.element_length
            claim(chrom, start, end, kind="blacklist_artifact", motif_class="", target_gene="", n_motifs=0, contact=0.0)
            blacklist.append((chrom, start, end, "High Signal Region"))
        for gap_start, gap_end in layout.gaps[chrom][1:-1]:
            blacklist.append((chrom, max(gap_start - 100, 0), gap_end + 100, "Low Mappability"))
    elements = pd.DataFrame(rows).sort_values(["chrom", "start"], kind="stable").reset_index(drop=True)
    elements.insert(3, "element_id", [f"E{i + 1:05d}" for i in range(len(elements))])
    elements = _activity(spec, elements, genes, rng)
    blacklist = pd.DataFrame(blacklist, columns=["chrom", "start", "end", "reason"])
    return elements, blacklist.sort_values(["chrom", "start"]).reset_index(drop=True)


def _free_slot(spec, occupied, tss, rng, length=None, tries=200):
    """A free start position within the gene's window, away from its centre."""
    length = length or spec.element_length
    lo_dist, hi_dist = spec.enhancer_min_distance, spec.window_half_width - length
    for _ in range(tries):
        offset = int(rng.integers(lo_dist, hi_dist)) * (1 if rng.random() < 0.5 else -1)
        start = tss + offset - length // 2
        if start >= 0 and start + length <= len(occupied) and not occupied[start : start + length].any():
            return start
    return None


def _activity(spec, elements, genes, rng) -> pd.DataFrame:
    """Per-cell-type activity: enhancers of matching class, promoters that are on, CTCF sites."""
    strength = genes.set_index("gene_id")["promoter_strength"]
    for cell in spec.cell_types:
        on = genes.set_index("gene_id")[f"promoter_on_{cell}"]
        jitter = rng.uniform(0.6, 1.4, len(elements))
        activity = np.zeros(len(elements))
        kind = elements["kind"].to_numpy()
        enhancer = (kind == "enhancer") & elements["motif_class"].isin([cell, SHARED_CLASS]).to_numpy()
        activity[enhancer] = elements["n_motifs"].to_numpy()[enhancer] * jitter[enhancer] / 2.0
        promoter = kind == "promoter"
        targets = elements.loc[promoter, "target_gene"]
        activity[promoter] = (strength[targets] * on[targets]).to_numpy()
        activity[kind == "ctcf_open"] = jitter[kind == "ctcf_open"] * 1.5
        elements[f"activity_{cell}"] = activity
    return elements


# --- sequence -----------------------------------------------------------------------------


def _sequence(spec, layout, elements, rng) -> dict[str, str]:
    sequence = {}
    for chrom, size in layout.chrom_sizes.items():
        seq = BASES[rng.choice(4, size=size, p=BASE_PROBS)]
        for start, end in layout.gaps[chrom]:
            seq[start:end] = ord("N")
        for e in elements[elements["chrom"] == chrom].itertuples():
            _plant_motifs(spec, seq, e, rng)
        sequence[chrom] = seq.tobytes().decode()
    return sequence


def _motif_names(spec: DemoSpec, e) -> tuple[str, ...]:
    if e.kind == "promoter":
        return ("SP1",)
    if e.kind == "ctcf_open":
        return ("CTCF",)
    if e.motif_class == SHARED_CLASS:
        return SHARED_MOTIFS
    return spec.cell_type_motifs.get(e.motif_class, ())


def _plant_motifs(spec, seq: np.ndarray, e, rng) -> None:
    """Write n_motifs copies of the element's motifs, evenly spaced, either orientation."""
    names = _motif_names(spec, e)
    if not names or e.n_motifs == 0:
        return
    if e.kind == "promoter":
        seq[e.start : e.end] = BASES[rng.choice(4, size=e.end - e.start, p=[0.15, 0.35, 0.35, 0.15])]
    slot = (e.end - e.start) // e.n_motifs
    for i in range(e.n_motifs):
        motif = _realise(MOTIFS[names[i % len(names)]], rng)
        if len(motif) > slot:
            motif = motif[:slot]
        offset = e.start + i * slot + int(rng.integers(0, slot - len(motif) + 1))
        seq[offset : offset + len(motif)] = np.frombuffer(motif, dtype=np.uint8)


def _realise(consensus: str, rng) -> bytes:
    site = bytes(BASES[rng.integers(0, 4)] if b == "N" else ord(b) for b in consensus)
    return site.translate(COMPLEMENT)[::-1] if rng.random() < 0.5 else site


# --- expression ---------------------------------------------------------------------------


def _causal_elements(spec, genes, elements) -> pd.DataFrame:
    """Per cell type, the elements that the expected tags of each gene are computed from."""
    scale = np.exp(spec.log_base + genes.set_index("gene_id")["mrna_effect"])
    tables = []
    for cell in spec.cell_types:
        on = genes.set_index("gene_id")[f"promoter_on_{cell}"]
        own = elements[elements["kind"].isin(["promoter", "enhancer"]) & (elements[f"activity_{cell}"] > 0)]
        own = own[on[own["target_gene"]].to_numpy()]
        target = own["target_gene"]
        promoter = own["kind"].to_numpy() == "promoter"
        activity = own[f"activity_{cell}"].to_numpy()
        contribution = scale[target].to_numpy() * np.where(
            promoter, spec.promoter_weight * activity, spec.enhancer_gain * activity * own["contact"].to_numpy()
        )
        tables.append(own.assign(cell_type=cell, contribution=contribution, activity=own[f"activity_{cell}"]))
    columns = [
        "chrom",
        "start",
        "end",
        "element_id",
        "target_gene",
        "cell_type",
        "kind",
        "activity",
        "contact",
        "contribution",
    ]
    return pd.concat(tables, ignore_index=True)[columns]


def expected_tags(spec: DemoSpec, genes: pd.DataFrame, causal: pd.DataFrame, cell: str) -> pd.Series:
    """lambda per gene: baseline plus the contributions of its causal elements in `cell`."""
    by_gene = genes.set_index("gene_id")
    baseline = np.exp(spec.log_base + by_gene["mrna_effect"]) * spec.promoter_leak
    cell_causal = causal[causal["cell_type"] == cell]
    summed = cell_causal.groupby("target_gene")["contribution"].sum()
    return baseline + summed.reindex(baseline.index, fill_value=0.0)


# --- signals ------------------------------------------------------------------------------


def _bump(track: np.ndarray, centre: float, sd: float, height: float) -> None:
    lo, hi = max(int(centre - 4 * sd), 0), min(int(centre + 4 * sd) + 1, len(track))
    x = np.arange(lo, hi)
    track[lo:hi] += height * np.exp(-0.5 * ((x - centre) / sd) ** 2)


def _signal_tracks(spec, cell, layout, genes, elements, rng) -> dict[str, dict[str, np.ndarray]]:
    """DNase: a peak over each open element. H3K27ac: nucleosomes flanking active elements."""
    tracks = {"dnase": {}, "h3k27ac": {}}
    length = spec.element_length
    for chrom, size in layout.chrom_sizes.items():
        dnase = np.repeat(rng.gamma(2.0, 0.05, size // 10 + 1), 10)[:size].astype(np.float64)
        h3k27ac = np.repeat(rng.gamma(2.0, 0.08, size // 10 + 1), 10)[:size].astype(np.float64)
        for e in elements[elements["chrom"] == chrom].itertuples():
            centre = (e.start + e.end) / 2
            activity = getattr(e, f"activity_{cell}")
            if e.kind == "blacklist_artifact":
                dnase[e.start : e.end] += rng.uniform(40, 80)
                h3k27ac[e.start : e.end] += rng.uniform(40, 80)
            elif activity > 0:
                _bump(dnase, centre, length / 4, 4.0 * activity * rng.lognormal(0, 0.2))
                if e.kind != "ctcf_open":
                    for side in (-1, 1):
                        _bump(h3k27ac, centre + side * 0.9 * length, length / 3, 3.0 * activity * rng.lognormal(0, 0.2))
        for start, end in layout.gaps[chrom]:
            dnase[start:end] = 0.0
            h3k27ac[start:end] = 0.0
        tracks["dnase"][chrom] = np.round(dnase, 2).astype(np.float32)
        tracks["h3k27ac"][chrom] = np.round(h3k27ac, 2).astype(np.float32)
    return tracks


# --- Hi-C ---------------------------------------------------------------------------------


def _hic_pixels(spec, cell, layout, genes, elements, rng) -> pd.DataFrame:
    """Observed counts: power-law decay x bin visibility, plus enhancer-TSS loops; Poisson."""
    res = spec.hic_resolution
    max_bins = 2 * spec.window_half_width // res + 2
    gamma = {0: 1.02}.get(spec.cell_types.index(cell), 0.95)
    tss_of = genes.set_index("gene_id")
    frames = []
    for chrom, size in layout.chrom_sizes.items():
        n_bins = -(-size // res)
        visibility = rng.lognormal(0.0, 0.25, n_bins)
        for start, end in layout.gaps[chrom]:
            visibility[start // res : -(-end // res)] = 0.0
        bin1, bin2 = _band(n_bins, max_bins)
        expected = spec.hic_depth * (bin2 - bin1 + 1.0) ** -gamma * visibility[bin1] * visibility[bin2]
        loops = elements[
            (elements["chrom"] == chrom) & (elements["kind"] == "enhancer") & (elements[f"activity_{cell}"] > 0)
        ]
        tss_bin = tss_of.loc[loops["target_gene"], "tss"].to_numpy() // res
        e_bin = ((loops["start"] + loops["end"]).to_numpy() // 2) // res
        lo, hi = np.minimum(tss_bin, e_bin), np.maximum(tss_bin, e_bin)
        within = hi - lo <= max_bins
        keys = bin1 * n_bins + bin2
        at = np.searchsorted(keys, (lo * n_bins + hi)[within])
        np.add.at(
            expected,
            at,
            0.5
            * spec.hic_depth
            * loops["contact"].to_numpy()[within]
            * visibility[lo[within]]
            * visibility[hi[within]],
        )
        counts = rng.poisson(expected)
        nonzero = counts > 0
        frames.append(
            pd.DataFrame(
                {
                    "chrom": chrom,
                    "bin1": bin1[nonzero],
                    "bin2": bin2[nonzero],
                    "count": counts[nonzero].astype(np.int32),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _band(n_bins: int, max_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Upper-triangle pixels within `max_bins` of the diagonal, sorted by (bin1, bin2)."""
    d = np.arange(min(max_bins, n_bins - 1) + 1)
    bin1 = np.concatenate([np.arange(n_bins - k) for k in d])
    bin2 = bin1 + np.repeat(d, n_bins - d)
    order = np.lexsort((bin2, bin1))
    return bin1[order], bin2[order]


# --- CAGE ---------------------------------------------------------------------------------


def _ctss(spec, cell, layout, genes, elements, rng) -> pd.DataFrame:
    """CAGE tag 5' ends: each gene's Poisson tags near its TSS; eRNA tags at active enhancers."""
    starts, strands, chroms = [], [], []
    for g in genes.itertuples():
        n = int(g.tags)
        offsets = np.clip(np.round(rng.laplace(0, 6, n)), -spec.cage_half_width + 1, spec.cage_half_width - 1)
        sense = rng.random(n) < 0.95
        pos = np.where(sense, g.tss + offsets, g.tss - 40 + offsets // 4).astype(np.int64)
        starts.append(pos)
        strands.append(np.where(sense, g.strand, "-" if g.strand == "+" else "+"))
        chroms.append(np.full(n, g.chrom, dtype=object))
    active = elements[(elements["kind"] == "enhancer") & (elements[f"activity_{cell}"] > 0)]
    for e in active.itertuples():
        n = int(rng.poisson(2.0 * getattr(e, f"activity_{cell}")))
        starts.append(rng.integers(e.start, e.end, n))
        strands.append(rng.choice(["+", "-"], n))
        chroms.append(np.full(n, e.chrom, dtype=object))
    tags = pd.DataFrame(
        {"chrom": np.concatenate(chroms), "start": np.concatenate(starts), "strand": np.concatenate(strands)}
    )
    ctss = tags.groupby(["chrom", "start", "strand"], sort=True).size().rename("count").reset_index()
    ctss["end"] = ctss["start"] + 1
    ctss["name"] = (
        ctss["chrom"] + ":" + ctss["start"].astype(str) + ".." + ctss["end"].astype(str) + "," + ctss["strand"]
    )
    return ctss[["chrom", "start", "end", "name", "count", "strand"]]
