"""The rehearsal of the paper's run (config/rehearsal.yaml): every rule at the paper's lengths.

It takes 15-30 minutes on 2 cores, so it is kept out of `.ci/run`: run it with
`SEQ2EXP_REHEARSAL=1 python -m pytest tests/test_rehearsal.py -s` (README, "Scale"). Set
`SEQ2EXP_REHEARSAL_DIR` to keep the run's folder (its benchmark files, tables and figures).
"""

import os
import subprocess
import sys

import pytest
from test_workflow import benchmark_folder, benchmarks_of_planned_jobs, snakemake

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("SEQ2EXP_REHEARSAL"), reason="the rehearsal runs with SEQ2EXP_REHEARSAL=1"),
]


@pytest.fixture(scope="module")
def rehearsal_dir(tmp_path_factory):
    kept = os.environ.get("SEQ2EXP_REHEARSAL_DIR")
    if kept:
        os.makedirs(kept, exist_ok=True)
        return kept
    return tmp_path_factory.mktemp("rehearsal")


def test_rehearsal_runs_every_job_and_projects_the_paper_run(repo, rehearsal_dir):
    configfile = str(repo / "config/rehearsal.yaml")
    code, plan = snakemake(repo, rehearsal_dir, "-n", "--forceall", "--configfile", configfile)
    assert code == 0, plan
    jobs = [(rule, benchmark) for rule, benchmark in benchmarks_of_planned_jobs(plan) if rule != "all"]

    code, output = snakemake(repo, rehearsal_dir, "--configfile", configfile)
    assert code == 0, output[-5000:]
    missing = [benchmark for _, benchmark in jobs if not os.path.exists(os.path.join(rehearsal_dir, benchmark))]
    assert not missing, missing

    table = subprocess.run(
        [
            sys.executable,
            str(repo / "benchmarks/scale_table.py"),
            "--configfile",
            configfile,
            "--snakefile",
            str(repo / "Snakefile"),
        ],
        cwd=rehearsal_dir,
        capture_output=True,
        text=True,
    )
    assert table.returncode == 0, table.stderr
    print(table.stdout)
    assert "projected to 18,377 genes" in table.stdout
    for rule in {rule for rule, _ in jobs}:
        assert f"| {benchmark_folder(rule)} |" in table.stdout, rule
