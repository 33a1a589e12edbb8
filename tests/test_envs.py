"""Software environments and executor profiles: every env file pins what it installs, the README's
commands install exactly those pins, every rule that runs code names an env and takes its threads
and resources from config, and the profiles pass those on (dry runs). Each environment runs its
rules alone: the pipeline's plans the runs, and the rules' import what their scripts import."""

import ast
import os
import re
import subprocess
import sys
from importlib.metadata import distribution, packages_distributions, version
from pathlib import Path

import pytest
import tomllib
import yaml

CONDA_PIN = re.compile(r"^[A-Za-z0-9_.\-]+=[0-9][^=\s]*$")
PIP_PIN = re.compile(r"^[A-Za-z0-9_.\-\[\]]+==[0-9][^\s]*$")
RULE_START = re.compile(r"^\s*(?:rule\s+(\w+)\s*:|rule\s*:|use rule (\w+) as (\w+))")
RUNS_CODE = re.compile(r"^\s*(script|shell|run|wrapper|notebook):", re.M)
GROUP_THREADS = re.compile(r'^\s*threads: job_threads\("(\w+)"\)\s*$', re.M)
GROUP_RESOURCES = re.compile(r'^\s*resources:\s*\n\s*\*\*job_resources\("(\w+)"\),\s*$', re.M)


def env_files(repo):
    return sorted((repo / "workflow/envs").glob("*.yaml"))


def conda_lines(path):
    """(dependency, the raw line) of each conda dependency (the pip: section excluded)."""
    lines = path.read_text().splitlines()
    deps = [d for d in yaml.safe_load(path.read_text())["dependencies"] if isinstance(d, str)]
    return [(dep, next(line for line in lines if re.match(rf"^\s*-\s*{re.escape(dep)}(\s|$)", line))) for dep in deps]


def pip_pins(path):
    sections = [d["pip"] for d in yaml.safe_load(path.read_text())["dependencies"] if isinstance(d, dict)]
    return [pin for section in sections for pin in section]


def test_env_files_parse_and_pin_every_package(repo):
    assert env_files(repo), "no env files in workflow/envs"
    for path in env_files(repo):
        env = yaml.safe_load(path.read_text())
        assert env["channels"] and env["dependencies"], path
        for dep, line in conda_lines(path):
            assert CONDA_PIN.match(dep), f"{path.name}: conda dependency {dep!r} has no version"
            if dep.split("=")[0] == "python":
                assert dep == f"python={sys.version_info.major}.{sys.version_info.minor}", (path.name, dep)
            else:
                assert "# unverified" in line, f"{path.name}: {dep} is a conda-only pin; say it is unverified here"
        pins = pip_pins(path)
        assert pins, f"{path.name}: no pip: section"
        for pin in pins:
            assert PIP_PIN.match(pin), f"{path.name}: pip entry {pin!r} is not pinned with =="


def test_pip_pins_are_what_we_install_and_test(repo):
    """Each pin equals the installed version (a local build tag such as +cpu aside)."""
    for path in env_files(repo):
        for pin in pip_pins(path):
            name, pinned = pin.split("==")
            assert version(name).split("+")[0] == pinned, f"{path.name}: {pin}, installed {version(name)}"


def test_setup_env_installs_exactly_the_union_of_the_pip_sections(repo):
    script = f'source <(sed -n "/^pinned_requirements()/,/^}}/p" {repo}/workflow/setup_env.sh); pinned_requirements'
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        env={"REPO": str(repo), "PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    installed = set(result.stdout.split())
    union = {pin for path in env_files(repo) for pin in pip_pins(path)}
    assert installed == union
    assert "snakemake-executor-plugin-slurm==2.8.0" in installed


def test_lint_tools_are_pinned(repo):
    """Every tool tests/lint.sh runs is pinned in an env file; black too, as it decides snakefmt's output."""
    checks = re.findall(r'^\s*check "[^"]+" (\S+)', (repo / "tests/lint.sh").read_text(), re.M)
    pinned = {pin.split("==")[0].lower() for path in env_files(repo) for pin in pip_pins(path)}
    assert {"ruff", "snakefmt", "snakemake"} <= set(checks), checks
    assert not {*checks, "black"} - pinned, f"unpinned: {sorted({*checks, 'black'} - pinned)}"


def rule_blocks(repo):
    """(file, rule name, text) of every rule in workflow/rules/*.smk and the Snakefile."""
    for path in [repo / "Snakefile", *sorted((repo / "workflow/rules").glob("*.smk"))]:
        blocks, current = [], None
        for line in path.read_text().splitlines():
            match = RULE_START.match(line)
            if match:
                current = [line]
                blocks.append(current)
            elif current is not None:
                if line and not line[0].isspace() and not line.startswith("#"):
                    current = None  # the rule ended at the first unindented line
                else:
                    current.append(line)
        for block in blocks:
            match = RULE_START.match(block[0])
            name = match.group(1) or match.group(3) or "download_*"
            yield path.name, name, "\n".join(block)


def test_every_rule_that_runs_code_names_an_env_and_takes_its_resources_from_config(repo):
    config = yaml.safe_load((repo / "config/config.yaml").read_text())
    checked = 0
    for file, name, text in rule_blocks(repo):
        if text.lstrip().startswith("use rule"):
            assert "conda:" not in text or "../envs/" in text, (file, name)
            continue  # inherits conda, threads and resources from the rule it uses
        if not RUNS_CODE.search(text):
            continue
        checked += 1
        env = re.search(r'conda:\s*\n\s*"\.\./envs/(\w+)\.yaml"', text)
        assert env, f"{file}: rule {name} runs code but names no conda env"
        assert (repo / f"workflow/envs/{env.group(1)}.yaml").exists(), (file, name)
        threads, resources = GROUP_THREADS.search(text), GROUP_RESOURCES.search(text)
        assert threads and resources, f"{file}: rule {name} must take threads and resources from config `resources`"
        assert threads.group(1) == resources.group(1) in config["resources"], (file, name)
    assert checked >= 19


def rule_groups(repo) -> dict[str, str]:
    """Rule name -> its config `resources` group ("download_*" for the per-file download rules)."""
    groups, uses = {}, {}
    for _, name, text in rule_blocks(repo):
        used = re.match(r"\s*use rule (\w+) as", text)
        if used:
            uses[name] = used.group(1)
        elif GROUP_THREADS.search(text):
            groups[name] = GROUP_THREADS.search(text).group(1)
    for name in uses:
        base = name
        while base in uses:  # `use rule` of a `use rule`
            base = uses[base]
        groups[name] = groups[base]
    return groups


def dry_run_jobs(repo, tmp_path, *args) -> tuple[str, list[dict]]:
    """Snakemake's dry-run listing, and per job: rule, threads and resources as printed."""
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-s", str(repo / "Snakefile"), "--directory", str(tmp_path), *args],
        capture_output=True,
        text=True,
        cwd=repo,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    jobs = []
    for block in re.split(r"\n\[[^\]]+\]\n", output)[1:]:
        rule = re.match(r"(?:local)?rule (\w+):", block)
        if not rule:
            continue
        threads = re.search(r"^\s+threads: (\d+)$", block, re.M)
        resources = re.search(r"^\s+resources: (.*)$", block, re.M).group(1)
        jobs.append(
            dict(
                rule=rule.group(1),
                threads=int(threads.group(1)) if threads else 1,
                **dict(item.split("=", 1) for item in resources.split(", ")),
            )
        )
    return output, jobs


def profile(repo, name):
    return yaml.safe_load((repo / "profiles" / name / "config.yaml").read_text())


def test_profiles_leave_the_software_deployment_method_to_the_command_line(repo):
    for name in ("slurm", "local"):
        settings = profile(repo, name)
        assert not {"software-deployment-method", "sdm", "use-conda", "use-apptainer"} & set(settings), name
    slurm = profile(repo, "slurm")
    assert slurm["executor"] == "slurm" and slurm["retries"] >= 1
    assert slurm["default-resources"]["cpus_per_task"] == "threads"
    assert "executor" not in profile(repo, "local")


def test_slurm_profile_dry_run_asks_each_job_for_its_groups_resources(repo, tmp_path):
    """The paper's run planned through the SLURM profile (no SLURM here: a dry run only validates
    the plugin's settings). --cores 64: a dry run otherwise caps every job's threads at 1."""
    output, jobs = dry_run_jobs(
        repo, tmp_path, "--profile", "profiles/slurm", "--cores", "64", "--configfile", "config/config.yaml"
    )
    assert "Using profile profiles/slurm" in output
    config = yaml.safe_load((repo / "config/config.yaml").read_text())["resources"]
    groups = rule_groups(repo)
    assert {"crispri", "train_soft_model", "download_*"} <= set(groups)
    rules = set()
    for job in jobs:
        if job["rule"] == "all":
            continue  # the target rule runs nothing
        group = config[groups["download_*" if job["rule"].startswith("download_") else job["rule"]]]
        assert job["threads"] == group["threads"] == int(job["cpus_per_task"]), job
        assert (int(job["mem_mb"]), int(job["runtime"]), int(job["gpu"])) == (
            group["mem_mb"],
            group["runtime"],
            group["gpu"],
        ), job
        rules.add(job["rule"])
    assert {"crispri", "train_model", "train_soft_model", "store_cell", "download_evaluation_crispri"} <= rules
    training = [job for job in jobs if job["rule"].startswith("train_")]
    assert len(training) == 2 * len(yaml.safe_load((repo / "config/config.yaml").read_text())["models"]) and all(
        job["gpu"] == "1" for job in training
    )
    assert all(job["gpu"] == "0" for job in jobs if job["rule"] not in ("all", *{j["rule"] for j in training}))


def test_local_profile_dry_run(repo, tmp_path):
    output, jobs = dry_run_jobs(repo, tmp_path, "--profile", "profiles/local", "--configfile", "config/demo.yaml")
    assert "Using profile profiles/local" in output
    assert "crispri" not in {job["rule"] for job in jobs}  # the demo names no CRISPRi table
    assert {job["rule"] for job in jobs} >= {"demo_world", "demo_K562", "demo_GM12878", "train_model", "discovery"}


# --- each environment runs its rules alone ------------------------------------------------------

ENV_OF_RULE = re.compile(r'conda:\s*\n\s*"\.\./envs/(\w+)\.yaml"')
SCRIPT_OF_RULE = re.compile(r'script:\s*\n\s*"\.\./scripts/(\w+\.py)"')

# Run first in a subprocess: hides from every import finder the top-level modules that neither the
# standard library nor the environment's packages provide, so importing one fails as if it were not
# installed (and probes such as importlib.util.find_spec see it absent, as they would there).
REFUSE_UNPINNED = """
import atexit, os, pkgutil, sys, sysconfig

STDLIB = sysconfig.get_paths()["stdlib"]
PROVIDED = ({"seq2exp", *os.environ["ENV_MODULES"].split(), *sys.stdlib_module_names}
            | {module.name for module in pkgutil.iter_modules([STDLIB, os.path.join(STDLIB, "lib-dynload")])})
refused = set()


class RefuseUnpinned:
    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top not in PROVIDED:
            refused.add(top)
            return None
        return self.finder.find_spec(name, path, target)

    def __getattr__(self, attribute):
        return getattr(self.finder, attribute)


sys.meta_path[:] = [RefuseUnpinned(finder) for finder in sys.meta_path]
atexit.register(lambda: refused and print(f"imports refused, not in {os.environ['ENV_FILE']} (those a package only "
                                          f"probes for are harmless): {sorted(refused)}", file=sys.stderr))
"""


def required_distributions(pins: list[str]) -> set[str]:
    """The pinned distributions and, transitively, what they require (extras they ask for included,
    markers evaluated here), as canonical names."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found, todo = set(), [Requirement(pin) for pin in pins]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        found.add(name)
        extras = {"", *requirement.extras}
        for line in distribution(name).requires or []:
            required = Requirement(line)
            if required.marker is None or any(required.marker.evaluate({"extra": e}) for e in extras):
                todo.append(required)
    return found


def provided_modules(requirements: list[str]) -> set[str]:
    """Top-level import names of the required distributions and of what they require."""
    from packaging.utils import canonicalize_name

    wanted = required_distributions(requirements)
    return {
        module
        for module, dists in packages_distributions().items()
        if any(canonicalize_name(d) in wanted for d in dists)
    }


def run_alone(source, code: str, cwd, requirements: list[str] | None = None) -> subprocess.CompletedProcess:
    """Run `code` seeing only the packages of `source` (an env file's pip pins unless `requirements`)."""
    provided = provided_modules(pip_pins(source) if requirements is None else requirements)
    env = {**os.environ, "ENV_FILE": source.name, "ENV_MODULES": " ".join(provided)}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-c", REFUSE_UNPINNED + code], capture_output=True, text=True, env=env, cwd=cwd
    )


def rule_scripts(repo) -> dict[str, set[str]]:
    """Env file name -> the scripts its rules run."""
    scripts = {}
    for file, name, text in rule_blocks(repo):
        env, script = ENV_OF_RULE.search(text), SCRIPT_OF_RULE.search(text)
        if env:
            assert script, f"{file}: rule {name} runs no script:, so its imports are not checked here"
            scripts.setdefault(f"{env.group(1)}.yaml", set()).add(script.group(1))
    return scripts


def script_imports(path) -> list[str]:
    """The import statements of a script, as source, wherever they stand (__future__ aside)."""
    return [
        ast.unparse(node)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Import) or isinstance(node, ast.ImportFrom) and node.module != "__future__"
    ]


def test_pipeline_env_alone_plans_the_demo_and_the_paper_run(repo, tmp_path):
    """`snakemake --use-conda` parses the Snakefile in pipeline.yaml's environment: it may import
    no package that only the rules' environments install (torch, pyfaidx, pyBigWig, ...). The dry
    runs leave out --use-conda (no conda here), which changes how jobs run, not what is parsed."""
    for config in ("config/demo.yaml", "config/config.yaml"):
        args = [
            "-n",
            "--cores",
            "1",
            "-s",
            str(repo / "Snakefile"),
            "--configfile",
            str(repo / config),
            "--directory",
            str(tmp_path / Path(config).stem),
        ]
        result = run_alone(
            repo / "workflow/envs/pipeline.yaml",
            f"import sys\nfrom snakemake.cli import main\nsys.argv = ['snakemake', *{args!r}]\nmain()",
            cwd=repo,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{config}:\n{output[-4000:]}"
        assert re.search(r"^train_model\s+\d+$", output, re.M), f"{config}: no training job planned\n{output[-4000:]}"


def test_pipeline_env_alone_still_stops_bad_model_options_at_start(repo):
    """The start-up check of model options needs no torch, so it runs on the conda route too."""
    code = f"""
sys.path.insert(0, {str(repo / "src")!r})
from seq2exp.config import ConfigError, load_config, validate_config
config = load_config({str(repo / "config/config.yaml")!r})
config["model_overrides"] = {{"enformer": {{"bin_size": 24}}, "seq2exp-hard": {{"treshold": 0.4}}}}
try:
    validate_config(config, {str(repo / "workflow/schemas/config.schema.yaml")!r})
except ConfigError as error:
    print(error)
"""
    result = run_alone(repo / "workflow/envs/pipeline.yaml", code, cwd=repo)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "model_overrides.enformer (enformer): bin_size must be a power of 2 >= 2, got 24" in result.stdout
    assert "model_overrides.seq2exp-hard (seq2exp-hard): \"unknown model config keys ['treshold']" in result.stdout


BLOCK_TORCH = """
import importlib, pkgutil, sys, traceback

attempts = []


class BlockTorch:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "torch":
            attempts.append("".join(traceback.format_stack(limit=8)))
            raise ImportError("torch is blocked in this process")


sys.meta_path.insert(0, BlockTorch())
for package in ("seq2exp.inputs", "seq2exp.features"):
    for module in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
        importlib.import_module(module.name)
print("\\n".join(attempts), file=sys.stderr)
sys.exit(1 if attempts else 0)
"""


def test_inputs_and_features_import_no_torch(repo):
    """The input and feature stages run in the data env, which has no torch: every module of
    `seq2exp.inputs` and `seq2exp.features` imports in a process where importing torch fails, and
    none tries (a guarded `try: import torch` counts too)."""
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    result = subprocess.run([sys.executable, "-c", BLOCK_TORCH], capture_output=True, text=True, env=env, cwd=repo)
    assert result.returncode == 0, f"torch imported:\n{result.stderr[-4000:]}"


@pytest.mark.parametrize("env", ["data.yaml", "model.yaml"])
def test_rule_env_alone_imports_what_its_scripts_import(repo, env):
    """Each script's imports, with the package reached through this checkout's src/ as Snakemake
    does, in a process that sees only `env`'s packages."""
    scripts = rule_scripts(repo)[env]
    statements = sorted({s for script in scripts for s in script_imports(repo / "workflow/scripts" / script)})
    code = f"sys.path.insert(0, {str(repo / 'src')!r})\n" + "\n".join(statements)
    result = run_alone(repo / "workflow/envs" / env, code, cwd=repo)
    assert result.returncode == 0, f"{env} (scripts {sorted(scripts)}):\n{result.stderr[-4000:]}"


def test_package_dependencies_cover_seq2exp_predict(repo):
    """`pip install .` then `seq2exp predict`: the CLI's imports, those its commands make on demand
    included, with only pyproject.toml's dependencies."""
    project = tomllib.loads((repo / "pyproject.toml").read_text())
    cli = repo / "src/seq2exp/cli.py"
    code = f"sys.path.insert(0, {str(repo / 'src')!r})\n__package__ = 'seq2exp'\n" + "\n".join(script_imports(cli))
    result = run_alone(repo / "pyproject.toml", code, cwd=repo, requirements=project["project"]["dependencies"])
    assert result.returncode == 0, result.stderr[-4000:]
    for package, patterns in project["tool"]["setuptools"].get("package-data", {}).items():
        for pattern in patterns:
            assert list((repo / "src" / package).glob(pattern)), f"pyproject.toml ships {package}/{pattern}, absent"
