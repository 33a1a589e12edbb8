"""The training stage: the model spec table (specs), store items -> batches, the masks file, training jobs."""
