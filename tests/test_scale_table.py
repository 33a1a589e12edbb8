"""benchmarks/scale_table.py: reading a run's Snakemake benchmark files."""

import importlib.util

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def scale_table(repo):
    spec = importlib.util.spec_from_file_location("scale_table", repo / "benchmarks/scale_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_job_done_before_snakemakes_first_sample_counts_its_wall_time_and_no_memory(repo, tmp_path):
    """Snakemake reports cpu_time 0 and the shell's few MB for a job shorter than its sampling
    interval: projecting 0 s, or that memory as the rule's peak, would understate the paper run."""
    table = scale_table(repo)
    for rule, rows in {
        "short": ["0.41\t0:00:00\t2.06\t8.9\t0.8\t1.0\t0\t0\t0\t0.00"],
        "long": [
            "5.0\t0:00:05\t190.5\t1600\t120\t140\t0\t0\t50\t4.20",
            "0.45\t0:00:00\t7.8\t10.9\t2.5\t3.7\t0\t0\t0\t0.00",
        ],
    }.items():
        for i, row in enumerate(rows):
            (tmp_path / rule / "nested").mkdir(parents=True, exist_ok=True)
            (tmp_path / rule / "nested" / f"{i}.tsv").write_text(HEADER + row + "\n")
    jobs = table.read_benchmarks(tmp_path)
    assert [r["cpu_s"] for r in jobs["short"]] == [0.41]
    assert table.peak_memory(jobs["short"]) == "not sampled (under a second)"
    assert sorted(r["cpu_s"] for r in jobs["long"]) == [0.45, 4.2]
    assert table.peak_memory(jobs["long"]) == "190 MB"
