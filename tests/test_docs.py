"""The maps for newcomers stay true: config/README.md's rule map lists every rule that runs a script,
that script and the package functions it calls; README.md's package map lists every module."""

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RULE_MAP_HEADING = "## Rules, scripts and package functions"
RULE = re.compile(r"^\s*rule\s*(\w*)\s*:", re.M)
NAME = re.compile(r"^\s*name:\s*\n\s*f?\"([^\"]+)\"", re.M)
SCRIPT = re.compile(r"^\s*script:\s*\n\s*\"\.\./scripts/([\w.]+)\"", re.M)


def rule_scripts() -> list[tuple[str, str]]:
    """(rule, script) for each rule in workflow/rules that runs a script, in file order; a rule
    named in a loop (`name: f"demo_{cell}"`) is shown with `*` for the varying part."""
    pairs = []
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        starts = [m.start() for m in RULE.finditer(text)] + [len(text)]
        for begin, end in zip(starts, starts[1:]):
            body = text[begin:end]
            script = SCRIPT.search(body)
            if script is None:
                continue
            name = RULE.match(body).group(1) or re.sub(r"\{.*\}", "*", NAME.search(body).group(1))
            pairs.append((name, script.group(1)))
    return pairs


def is_module(name: str) -> bool:
    path = REPO / "src" / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def package_calls(script: Path) -> list[str]:
    """`seq2exp.module.name` for each function or class the script takes from the package (its
    logging set-up and constants left out)."""
    tree = ast.parse(script.read_text())
    calls, modules = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("seq2exp"):
            for alias in node.names:
                if is_module(f"{node.module}.{alias.name}"):
                    modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                elif node.module != "seq2exp.logs" and not alias.name.isupper():
                    calls.append(f"{node.module}.{alias.name}")
    uses = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
    ]
    calls += [f"{modules[node.value.id]}.{node.attr}" for node in sorted(uses, key=lambda n: (n.lineno, n.col_offset))]
    return list(dict.fromkeys(calls))


def rule_map() -> str:
    lines = ["| rule | script | package |", "|---|---|---|"]
    for rule, script in rule_scripts():
        calls = ", ".join(f"`{c}`" for c in package_calls(REPO / "workflow" / "scripts" / script))
        lines.append(f"| `{rule}` | `workflow/scripts/{script}` | {calls} |")
    return "\n".join(lines)


def first_table(text: str, heading: str) -> str:
    """The first markdown table after `heading`."""
    rows, started = [], False
    for line in text.split(heading, 1)[1].splitlines():
        if line.startswith("|"):
            rows.append(line)
            started = True
        elif started:
            break
    return "\n".join(rows)


def test_the_rule_map_names_each_rules_script_and_functions():
    documented = first_table((REPO / "config" / "README.md").read_text(), RULE_MAP_HEADING)
    expected = rule_map()
    assert documented == expected, f"config/README.md's rule map is stale; it should read:\n{expected}"


def test_the_rule_map_covers_every_script_and_names_live_functions():
    pairs = rule_scripts()
    assert {script for _, script in pairs} == {p.name for p in (REPO / "workflow" / "scripts").glob("*.py")}
    assert ("train_model", "train_model.py") in pairs and ("demo_*", "demo_cell.py") in pairs
    assert package_calls(REPO / "workflow" / "scripts" / "demo_cell.py")[0] == "seq2exp.inputs.demo.writers.demo_cell"


def test_the_package_map_lists_every_module():
    text = (REPO / "README.md").read_text()
    documented = set(re.findall(r"^\| `(seq2exp[\w./]*)` \|", first_table(text, "## Package map"), re.M))
    modules = {
        str(p.relative_to(REPO / "src").with_suffix("")).replace("/", ".")
        for p in (REPO / "src" / "seq2exp").rglob("*.py")
        if p.name != "__init__.py"
    }
    modules |= {
        str(p.parent.relative_to(REPO / "src")).replace("/", ".") + "/"
        for p in (REPO / "src" / "seq2exp").rglob("__init__.py")
        if p.parent.name != "seq2exp"
    }
    assert documented == modules


def test_the_config_readme_contents_list_every_section():
    text = (REPO / "config" / "README.md").read_text()
    listed = text.split("Contents:\n\n", 1)[1].split("\n\n", 1)[0]
    contents = re.findall(r"^ *- \[(.+)\]\(#[^)]+\)$", listed, re.M)
    assert contents == re.findall(r"^##+ (.+)$", text, re.M)
