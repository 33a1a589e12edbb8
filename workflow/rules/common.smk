# Configuration shared by every rule: validated once, then read-only.

config.update(validate_config(config, workflow.source_path("../schemas/config.schema.yaml")))

RESOURCES = config["resources_dir"]
RESULTS = config["results_dir"]
GENOME = f"{RESULTS}/genome/genome.fa"

# Split chromosomes must be in the genome; once it is indexed, that is checked before any job.
if os.path.exists(f"{GENOME}.fai"):
    split_chromosomes(config["split"], genome_sizes(GENOME), f"{GENOME}.fai")
LOGS = f"{RESULTS}/logs"
SOURCES = {s.key: s for s in sources.configured_sources(config)}
DOWNLOAD_JOBS = sources.download_jobs(config)
EXTRACTIONS = sources.extractions(config)


def source_path(key):
    """The local file a rule reads for configured source `key` (see seq2exp.sources)."""
    return SOURCES[key].path


def alternatives(paths):
    """A wildcard constraint matching exactly the given strings."""
    return "|".join(re.escape(p) for p in paths) or "(?!)"


def demo_outputs():
    from seq2exp import demo

    return demo.output_files(demo.paths_from_config(config), list(config["cell_types"]))


CELLS = config["run_cell_types"]
CELL_INPUTS = ("dnase", "h3k27ac", "hic", "cage")


wildcard_constraints:
    cell=alternatives(CELLS),


def cell_source(kind):
    """Input function: the local file of `kind` for the job's cell type."""
    return lambda wildcards: source_path(f"{wildcards.cell}.{kind}")
