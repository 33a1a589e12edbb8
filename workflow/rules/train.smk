# One job per model x cell type: train (resuming from the job's work folder where it can), then
# predict every gene with the best checkpoint; models with a mask also write their masks.


rule train_model:
    input:
        sequence=rules.store_sequence.output.store,
        sequence_checksum=rules.store_sequence.output.checksum,
        cell=rules.store_cell.output.store,
        cell_checksum=rules.store_cell.output.checksum,
        genes=rules.cell_genes.output.genes,
        soft_masks=soft_masks,
    output:
        checkpoint=f"{MODEL_DIR}/best.ckpt",
        manifest=f"{MODEL_DIR}/manifest.json",
        metrics=f"{MODEL_DIR}/metrics.csv",
        predictions=f"{MODEL_DIR}/predictions.tsv",
    log:
        f"{LOGS}/{{cell}}/train_{{model}}.log",
    benchmark:
        benchmark_file("train_model", "cell", "model")
    wildcard_constraints:
        model=alternatives(specs.plain_models(MODELS)),
    conda:
        "../envs/model.yaml"
    threads: job_threads("training")
    resources:
        **job_resources("training"),
    params:
        settings=lambda wildcards: training_settings(config, wildcards.model),  # what its config hash covers
    script:
        "../scripts/train_model.py"


use rule train_model as train_masked_model with:
    output:
        checkpoint=f"{MODEL_DIR}/best.ckpt",
        manifest=f"{MODEL_DIR}/manifest.json",
        metrics=f"{MODEL_DIR}/metrics.csv",
        predictions=f"{MODEL_DIR}/predictions.tsv",
        masks=f"{MODEL_DIR}/masks.h5",
    benchmark:
        benchmark_file("train_masked_model", "cell", "model")
    wildcard_constraints:
        model=alternatives([m for m in specs.mask_models(MODELS) if m not in specs.upstream_models(MODELS)]),


# Models whose masks another model is trained on first (seq2exp-soft: seq2exp-retrain waits for
# its masks), as they are the critical path.
use rule train_masked_model as train_soft_model with:
    benchmark:
        benchmark_file("train_soft_model", "cell", "model")
    wildcard_constraints:
        model=alternatives(specs.upstream_models(MODELS)),
    priority: 10
