"""Promoter activity from the bigWigs and from ABC's GeneList (seq2exp.features.promoters)."""

import numpy as np
import pandas as pd
import pytest
from test_bigwig import write_bigwig
from test_genes import REAL_GENE_LIST, needs_real

from seq2exp.features.genes import read_gene_list
from seq2exp.features.promoters import GENE_LIST_ACTIVITY_COLUMNS, bigwig_promoter_activity, gene_list_promoter_activity


def test_promoter_activity_is_the_geometric_mean_of_rpms(tmp_path):
    chroms = {"chr1": 1000}
    dnase = write_bigwig(tmp_path / "d.bw", chroms, [("chr1", 0, 1000, 1.0)])  # total 1000
    h3k27ac = write_bigwig(tmp_path / "h.bw", chroms, [("chr1", 100, 200, 4.0)])  # total 400
    genes = pd.DataFrame({"gene_id": ["g1", "g2"], "chrom": ["chr1", "chr1"], "tss": [150, 600]})
    table = bigwig_promoter_activity(genes, dnase, h3k27ac, half_width=50)
    # g1: DNase 100/1000 = 0.1 -> 1e5 RPM; H3K27ac 400/400 -> 1e6 RPM
    np.testing.assert_allclose(table["dnase_rpm"], [1e5, 1e5])
    np.testing.assert_allclose(table["h3k27ac_rpm"], [1e6, 0.0])
    np.testing.assert_allclose(table["promoter_activity"], [np.sqrt(1e11), 0.0])


@needs_real
def test_gene_list_promoter_activity_is_the_authors_geometric_mean_of_the_tss_rpms():
    raw = pd.read_csv(REAL_GENE_LIST, sep="\t")
    active = raw[(raw["H3K27ac.RPM.TSS1Kb"] > 0) & (raw["DHS.RPM.TSS1Kb"] > 0)].head(5)
    genes = pd.DataFrame({"gene_id": [*active["name"], raw["name"].iloc[0]]})
    gene_list = read_gene_list(str(REAL_GENE_LIST), "name", GENE_LIST_ACTIVITY_COLUMNS)
    table = gene_list_promoter_activity(genes, gene_list, str(REAL_GENE_LIST))
    expected = [(h * d) ** 0.5 for h, d in zip(active["H3K27ac.RPM.TSS1Kb"], active["DHS.RPM.TSS1Kb"])]
    np.testing.assert_allclose(table["promoter_activity"].iloc[:5], expected, rtol=1e-12)
    assert table["promoter_activity"].iloc[5] == 0.0 and (np.array(expected) > 0).all()
    with pytest.raises(ValueError, match=r"GeneList\.txt: no promoter activity for 1 gene\(s\), e\.g\. ENSG_NOT"):
        gene_list_promoter_activity(pd.DataFrame({"gene_id": ["ENSG_NOT"]}), gene_list, str(REAL_GENE_LIST))
