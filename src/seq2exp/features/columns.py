"""The per-gene feature columns: which the store holds and in what order the models read them
(standard library only: the Snakefile's config checks read them)."""

# The mRNA features of EPInformer's table (Xpresso's half-life features), in its column order; the
# paper's config reads these, the demo writes them and the authors' head expects them in this order.
EPINFORMER_MRNA_FEATURES = (
    "UTR5LEN_log10zscore",
    "CDSLEN_log10zscore",
    "INTRONLEN_log10zscore",
    "UTR3LEN_log10zscore",
    "UTR5GC",
    "CDSGC",
    "UTR3GC",
    "ORFEXONDENSITY",
)


def feature_columns(config: dict) -> list[str]:
    """The extra features, in model order: the mRNA features (none without `genes.mrna_features`),
    then promoter activity."""
    mrna = config["genes"]["mrna_feature_columns"] if config["genes"]["mrna_features"] else []
    return [*mrna, "promoter_activity"]
