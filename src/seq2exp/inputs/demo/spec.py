"""What the demo simulates and where it writes, from the pipeline's config.

The Snakefile reads this module (in the pipeline env, to list the demo's outputs): it imports only
the standard library."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class DemoSpec:
    """What to simulate. Lengths are in bp; they scale with the pipeline's window."""

    seed: int = 0
    cell_types: tuple[str, ...] = ("K562", "GM12878")
    cell_type_motifs: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {"K562": ("GATA1", "TAL1"), "GM12878": ("SPI1", "EBF1")}
    )
    genes_per_chromosome: dict[str, int] = field(
        default_factory=lambda: {"chr1": 6, "chr2": 4, "chr3": 2, "chr21": 2, "chr22": 2, "chrX": 2}
    )
    window_half_width: int = 1000
    central_region: int = 100
    promoter_half_width: int = 50
    cage_half_width: int = 192
    hic_resolution: int = 50
    gene_spacing: tuple[int, int] = (900, 2000)
    element_length: int = 50
    enhancers_per_gene: tuple[int, int] = (1, 4)
    telomere_length: int = 300
    log_base: float = 3.5
    promoter_leak: float = 0.05
    promoter_weight: float = 0.05
    enhancer_gain: float = 2.0
    housekeeping_fraction: float = 0.9  # promoters on in every cell type; the rest in one only
    hic_depth: float = 60.0

    @property
    def enhancer_min_distance(self) -> int:
        """Enhancers stay clear of the always-selected centre, the promoter and the CAGE window."""
        centre = max(self.central_region // 2, self.promoter_half_width, self.cage_half_width)
        return centre + self.element_length


@dataclass(frozen=True)
class DemoPaths:
    """Where `write_demo` puts each file; mirrors the config's source keys."""

    fasta: str
    blacklist: str
    gene_table: str
    mrna_features: str | None  # None: not written (genes.mrna_features: null)
    cell_types: dict[str, dict[str, str]]  # cell -> {dnase, h3k27ac, hic, cage}
    truth_dir: str


def spec_from_config(config: dict) -> DemoSpec:
    """The demo spec of a validated pipeline config: lengths come from the pipeline's keys."""
    demo = config["demo"]
    return DemoSpec(
        seed=demo["seed"],
        cell_types=tuple(demo["cell_type_motifs"]),
        cell_type_motifs={c: tuple(m) for c, m in demo["cell_type_motifs"].items()},
        genes_per_chromosome=dict(demo["genes_per_chromosome"]),
        window_half_width=config["window"]["half_width"],
        central_region=config["window"]["central_region"],
        promoter_half_width=config["features"]["promoter_half_width"],
        cage_half_width=config["features"]["cage_half_width"],
        hic_resolution=config["hic"]["resolution"],
        gene_spacing=tuple(demo["gene_spacing"]),
        element_length=demo["element_length"],
        enhancers_per_gene=tuple(demo["enhancers_per_gene"]),
    )


def paths_from_config(config: dict) -> DemoPaths:
    """Where the demo writes: exactly the local source paths the config names."""
    unknown = [cell for cell in config["cell_types"] if cell not in config["demo"]["cell_type_motifs"]]
    if unknown:
        raise ValueError(
            f"cell_types: {unknown} are not demo cell types; demo.cell_type_motifs defines "
            f"{list(config['demo']['cell_type_motifs'])}"
        )
    named = {
        "genome.fasta": config["genome"]["fasta"],
        "genome.blacklist": config["genome"]["blacklist"],
        "genes.table": config["genes"]["table"],
        "genes.mrna_features": config["genes"]["mrna_features"],
    }
    for cell, files in config["cell_types"].items():
        named.update({f"cell_types.{cell}.{kind}": path for kind, path in files.items()})
    remote = [key for key, value in named.items() if value and ("#" in value or "://" in value)]
    if remote:
        raise ValueError(f"demo config: {', '.join(remote)} must be local paths for the demo rule to write")
    return DemoPaths(
        fasta=named["genome.fasta"],
        blacklist=named["genome.blacklist"],
        gene_table=named["genes.table"],
        mrna_features=named["genes.mrna_features"],
        cell_types={cell: dict(files) for cell, files in config["cell_types"].items()},
        truth_dir=config["demo"]["truth_dir"],
    )


def world_files(paths: DemoPaths, cell_types) -> dict[str, str]:
    """The files `write_world` produces, by a name usable as a Snakemake output key."""
    files = {"fasta": paths.fasta, "blacklist": paths.blacklist, "gene_table": paths.gene_table}
    if paths.mrna_features:
        files["mrna_features"] = paths.mrna_features
    truth = Path(paths.truth_dir)
    files.update({f"truth_{cell}": str(truth / f"{cell}.causal_elements.bed") for cell in cell_types})
    files["truth_elements"] = str(truth / "elements.tsv")
    files["truth_genes"] = str(truth / "genes.tsv")
    return files
