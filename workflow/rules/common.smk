# Configuration shared by every rule: validated once, then read-only.

config.update(validate_config(config, workflow.source_path("../schemas/config.schema.yaml")))

RESOURCES = config["resources_dir"]
RESULTS = config["results_dir"]
GENOME = f"{RESULTS}/genome/genome.fa"

# Split chromosomes must be in the genome; once it is indexed, that is checked before any job.
if os.path.exists(f"{GENOME}.fai"):
    split_chromosomes(config["split"], genome_sizes(GENOME), f"{GENOME}.fai")
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"


def benchmark_file(name, *wildcards):
    """A job's wall time and peak memory as benchmarks/scale_table.py reads them: one file per job,
    in a folder per rule, named by the job's wildcards."""
    job = ".".join("{%s}" % wildcard for wildcard in wildcards) or "job"
    return f"{BENCHMARKS}/{name}/{job}.tsv"


SOURCES = {s.key: s for s in sources.configured_sources(config)}
DOWNLOAD_JOBS = sources.download_jobs(config)
EXTRACTIONS = sources.extractions(config)


def job_threads(group):
    """Threads of every job of a rule group (config `resources.<group>.threads`)."""
    return config["resources"][group]["threads"]


def job_resources(group):
    """Memory (mem_mb), wall-clock limit (runtime, minutes) and GPUs (gpu) of a rule group's jobs."""
    return {k: v for k, v in config["resources"][group].items() if k != "threads"}


def config_params(*keys):
    """A rule's `settings` param: the config keys (dotted paths) its job reads, so that Snakemake's
    params trigger reruns the job, and what depends on it, when one of them changes."""
    return config_values(config, keys)


def source_path(key):
    """The local file a rule reads for configured source `key` (see seq2exp.inputs.sources)."""
    return SOURCES[key].path


def alternatives(paths):
    """A wildcard constraint matching exactly the given strings."""
    return "|".join(re.escape(p) for p in paths) or "(?!)"


def demo_world_outputs():
    from seq2exp.inputs.demo.spec import paths_from_config, world_files

    return world_files(paths_from_config(config), list(config["demo"]["cell_type_motifs"]))


def demo_cell_outputs(cell):
    return dict(config["cell_types"][cell])


CELLS = config["run_cell_types"]
EVALUATION_SOURCES = [key for key in SOURCES if sources.source_scope(key, CELLS) == sources.EVALUATION_SCOPE]
CELL_INPUTS = ("dnase", "h3k27ac", "hic", "cage")


wildcard_constraints:
    cell=alternatives(CELLS),


def cell_source(kind):
    """Input function: the local file of `kind` for the job's cell type."""
    return lambda wildcards: source_path(f"{wildcards.cell}.{kind}")


# --- models and evaluation -----------------------------------------------------------------

MODELS = config["models"]
MASK_MODELS = specs.mask_models(MODELS)
MODEL_DIR = specs.model_dir(RESULTS)
TABLES = f"{RESULTS}/tables"
FIGURES = f"{RESULTS}/figures"
TRACKS = f"{RESULTS}/tracks"
TRUTH_BED = config["evaluation"]["truth_bed"]
CRISPRI = config["evaluation"]["crispri"]
AUTHORS_WEIGHTS = {c: path for c, path in config["evaluation"]["authors_weights"].items() if c in CELLS}
AUTHORS_PREDICTIONS = f"{RESULTS}/authors_weights/{{cell}}/predictions.tsv"


def soft_masks(wildcards):
    """The masks of the model that the job's model is trained on (seq2exp-retrain: seq2exp-soft's)."""
    upstream = specs.MODEL_SPECS[wildcards.model].trained_on
    return specs.masks_path(RESULTS, wildcards.cell, upstream) if upstream else []


def predictions_of(cells, models):
    return {(c, m): f"{specs.model_dir(RESULTS, c, m)}/predictions.tsv" for c in cells for m in models}


def discovery_inputs(wildcards):
    """Per cell type: the soft and hard masks, the MACS3 peaks, the store and the known elements."""
    files = {}
    for cell in CELLS:
        files[specs.cell_input(cell, "soft")] = specs.masks_path(RESULTS, cell, specs.SOFT_MODEL)
        if specs.HARD_MODEL in MODELS:
            files[specs.cell_input(cell, "hard")] = specs.masks_path(RESULTS, cell, specs.HARD_MODEL)
        files[specs.cell_input(cell, "peaks")] = rules.dnase_peaks.output.peaks.format(cell=cell)
        files[specs.cell_input(cell, "store")] = rules.store_cell.output.store.format(cell=cell)
        files[specs.cell_input(cell, "truth")] = TRUTH_BED.format(cell_type=cell)
    if config["evaluation"]["truth_elements"]:
        files["elements"] = config["evaluation"]["truth_elements"]
    return files


def crispri_inputs(wildcards):
    """Per cell type: the store (sequence beside it) and seq2exp-soft's masks."""
    files = {}
    for cell in CELLS:
        files[specs.cell_input(cell, "store")] = rules.store_cell.output.store.format(cell=cell)
        files[specs.cell_input(cell, "soft")] = specs.masks_path(RESULTS, cell, specs.SOFT_MODEL)
    return files


def gene_track_masks(wildcards):
    return {m: specs.masks_path(RESULTS, wildcards.cell, m) for m in MASK_MODELS}


def evaluation_outputs():
    """What the run ends in: every model's predictions (a deleted model folder is retrained), tables,
    discovery (where known elements exist), tracks and figures."""
    outputs = list(predictions_of(CELLS, MODELS).values()) + list(rules.result_tables.output)
    if TRUTH_BED and specs.SOFT_MODEL in MODELS:
        outputs += list(rules.discovery.output)
    if CRISPRI:
        outputs += list(rules.crispri.output)
    outputs += expand(rules.mask_tracks.output, cell=CELLS, model=MASK_MODELS)
    outputs += expand(rules.model_figures.output, cell=CELLS, model=MODELS)
    if MASK_MODELS:
        outputs += expand(rules.gene_track_figures.output, cell=CELLS)
    return outputs
