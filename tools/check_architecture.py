"""Check the package's rooms with the standard library's ast: what may import what, no import
cycles (imports inside functions included), no private name taken from another module, the allowed
top-level modules and the size budget. ../shared/DESIGN.md (Layout) states the rules.

    python tools/check_architecture.py          # exit 0 when every rule holds, else 1 and one line a breach
"""

import ast
import sys
from pathlib import Path

PACKAGE = "digitlab"
SOURCE = Path(__file__).resolve().parent.parent / "src" / PACKAGE

TOP_LEVEL = {"__init__", "__main__", "errors", "files", "runs", "models", "recipes", "training", "predict",
             "nn", "data", "photo", "reporting", "analog", "sweep", "export", "web", "cli"}

# Each room and the rooms it may import besides itself. A room is a top-level module or package.
FOUNDATION = {"errors", "files"}
ALLOWED = {
    "errors": set(),
    "files": {"errors"},
    "nn": FOUNDATION,
    "photo": FOUNDATION,
    "data": FOUNDATION | {"nn"},
    "models": FOUNDATION | {"nn"},
    "export": FOUNDATION | {"nn"},
    "runs": FOUNDATION | {"nn"},
    "reporting": FOUNDATION | {"nn", "data", "models", "runs"},
    "analog": FOUNDATION | {"nn", "data", "models", "runs", "reporting"},
    "recipes": FOUNDATION | {"nn", "data", "analog"},
    "predict": FOUNDATION | {"nn", "data", "photo", "models", "reporting"},
    "training": TOP_LEVEL - {"cli", "web", "__main__", "__init__"},
    "sweep": TOP_LEVEL - {"cli", "web", "__main__", "__init__"},
    "web": FOUNDATION | {"predict", "models", "photo", "__init__"},
    "cli": TOP_LEVEL - {"cli", "__main__"},
    "__main__": {"cli"},
    "__init__": set(),
}
# Inside the engine: the textbook (the layers, their base, the ops and the optimizers' rules) never
# reaches for the speed room; accel registers its versions behind digitlab.nn.ops instead.
LAYERS = "digitlab.nn.layers"
TEXTBOOK = (LAYERS, "digitlab.nn.layer", "digitlab.nn.ops", "digitlab.nn.optimizers")
SPEED = "digitlab.nn.accel"

MAX_LINES = 400
MAX_LAYER_LINES = 150
# Files over budget for a named reason, each with the most lines it may have until that is done: the
# check fails if one grows, and says so once it fits and its entry can go. None today.
OVER_BUDGET: dict[str, tuple[int, str]] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def within(module: str, packages: str | tuple[str, ...]) -> bool:
    """Whether ``module`` is one of ``packages`` or inside one of them."""
    return any(module == package or module.startswith(package + ".")
               for package in ((packages,) if isinstance(packages, str) else packages))


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The absolute name a ``from ... import`` refers to."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[:len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path: Path, modules: set[str]):
    """(imported module, line, names taken) for every digitlab import in the file, at any depth."""
    module = module_name(path)
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    yield alias.name, node.lineno, []
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, node, path.name == "__init__.py")
            if target.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:  # `from digitlab.nn import ops` imports the module digitlab.nn.ops
                submodule = f"{target}.{alias.name}"
                if submodule in modules:
                    yield submodule, node.lineno, []
                else:
                    yield target, node.lineno, [alias.name]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules around it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def check() -> list[str]:
    files = sorted(SOURCE.rglob("*.py"))
    modules = {module_name(path) for path in files}
    problems = []
    for path in sorted(SOURCE.iterdir()):
        name = path.stem if path.suffix == ".py" else path.name
        if (path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").exists())) and name not in TOP_LEVEL:
            problems.append(f"{path.relative_to(SOURCE.parent)}: not one of the allowed top-level modules "
                            f"({', '.join(sorted(TOP_LEVEL))}): move it into the room it belongs to")
    graph: dict[str, set[str]] = {}
    for path in files:
        module, where = module_name(path), path.relative_to(SOURCE.parent.parent)
        lines = len(path.read_text().splitlines())
        budget = MAX_LAYER_LINES if module.startswith(LAYERS + ".") else MAX_LINES
        allowed, why = OVER_BUDGET.get(str(path.relative_to(SOURCE.parent)), (budget, ""))
        if lines > max(budget, allowed):
            problems.append(f"{where}: {lines} lines, over the budget of {max(budget, allowed)}: it holds two concepts")
        elif lines > budget:
            print(f"known: {where}: {lines} lines, over the budget of {budget} until {why}")
        elif allowed > budget:
            problems.append(f"{where}: now within its budget: remove it from OVER_BUDGET")
        for target, line, names in imports_of(path, modules):
            if target != module and target != PACKAGE:
                graph.setdefault(module, set()).add(target)
            mine, theirs = room(module), room(target)
            if theirs != mine and theirs not in ALLOWED.get(mine, set()) and target != PACKAGE:
                problems.append(f"{where}:{line}: the {mine} room may not import {target}")
            if theirs == "cli" and mine != "cli" and module != f"{PACKAGE}.__main__":
                problems.append(f"{where}:{line}: nothing imports the cli")
            if within(module, TEXTBOOK) and within(target, SPEED):
                problems.append(f"{where}:{line}: the textbook never imports {SPEED}: call digitlab.nn.ops, "
                                "behind which accel registers its fast versions")
            for name in names:
                if name.startswith("_") and not name.startswith("__") and target != module:
                    problems.append(f"{where}:{line}: imports the private name {name} from {target}: make it public")
    # A package imports its own modules from its __init__; only module-to-module edges make cycles.
    edges = {source: {t for t in targets if not (t in modules and source.startswith(t + "."))}
             for source, targets in graph.items()}
    cycle = find_cycle(edges)
    if cycle:
        problems.append("import cycle: " + " -> ".join(cycle))
    return problems


def main() -> int:
    problems = check()
    for problem in problems:
        print(problem)
    if not problems:
        print("architecture: every rule holds")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
