"""The package's shape stays as the README describes it: no import cycle among its modules, and each
rule's script calling one package function of its own name (config/README.md's rule map)."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = SRC / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(path: Path) -> set[str]:
    """The seq2exp modules a module imports anywhere in it (in functions too: a cycle there is one
    in the design), those under `if TYPE_CHECKING:` left out."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("seq2exp")}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            if target.startswith("seq2exp"):
                found |= {f"{target}.{a.name}" if is_module(f"{target}.{a.name}") else target for a in node.names}
    return found - {name}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, cycles = {}, {}, [], []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph.get(module, ()):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while not component or component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


def import_graph() -> dict[str, set[str]]:
    return {module_name(path): imported_modules(path) for path in sorted(SRC.rglob("*.py"))}


def test_no_module_imports_itself_through_others():
    graph = import_graph()
    assert len(graph) > 40 and "seq2exp.models.scan.chunked" in graph["seq2exp.models.scan.select"]
    assert import_cycles(graph) == []


def test_the_data_stages_import_nothing_of_the_model_stages():
    """inputs/ and features/ run in the data env, before any model: they read nothing of training,
    models or evaluation."""
    later = ("seq2exp.training", "seq2exp.models", "seq2exp.evaluation", "seq2exp.cli")
    data_stage = {
        module: sorted(i for i in imports if i.startswith(later))
        for module, imports in import_graph().items()
        if module.startswith(("seq2exp.inputs", "seq2exp.features"))
    }
    assert len(data_stage) > 15
    assert {module: imports for module, imports in data_stage.items() if imports} == {}


SCRIPTS = SRC.parent / "workflow" / "scripts"


def test_each_script_calls_one_package_function_of_its_name():
    """The entry-point pattern: workflow/scripts/<name>.py calls one package function, `<name>`,
    which reads the rule's inputs and writes its outputs (config/README.md's rule map)."""
    from test_docs import package_calls

    called = {script.stem: package_calls(script) for script in sorted(SCRIPTS.glob("*.py"))}
    assert len(called) > 20
    wrong = {stem: calls for stem, calls in called.items() if [c.rpartition(".")[2] for c in calls] != [stem]}
    assert wrong == {}
