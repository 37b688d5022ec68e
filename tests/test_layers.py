"""The import graph inside chemnamer points one way (docs/architecture.md).

Every module is parsed with `ast`, imports inside functions and under TYPE_CHECKING included: a lazy
import hides a cycle from Python, not from the reader.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "chemnamer"


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def import_graph() -> dict[str, set[str]]:
    """module -> the chemnamer modules it imports (a name imported from a package counts as its module)."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets.add(module)
                targets.update(f"{module}.{alias.name}" for alias in node.names)
        edges = set()
        for target in targets:
            while target and target not in mods:  # `from pkg import name`: the module, or the package
                target = target.rpartition(".")[0]
            if target.startswith("chemnamer") and target != name:
                edges.add(target)
        # An import of the bare package `chemnamer` (for __version__) is no layer.
        edges.discard("chemnamer")
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _offenders(graph, sources, targets) -> list[str]:
    """'a -> b' for each import from a module under `sources` of one under `targets`."""
    return sorted(f"{m} -> {t}" for m, ts in graph.items() if _under(m, sources) for t in ts if _under(t, targets))


def test_graph_sees_function_level_imports():
    graph = import_graph()
    assert "chemnamer.store.db" in graph["chemnamer.cli"]  # imported inside main()


def test_no_import_cycles():
    assert _cycles(import_graph()) == []


def test_gui_never_imports_cli_commands():
    assert _offenders(import_graph(), ["chemnamer.gui"], ["chemnamer.commands", "chemnamer.cli"]) == []


FRONT_ENDS = ["chemnamer.gui", "chemnamer.commands", "chemnamer.cli", "chemnamer.__main__"]


def test_library_never_imports_the_front_ends():
    graph = import_graph()
    library = [m for m in graph if m != "chemnamer" and not _under(m, FRONT_ENDS)]
    assert _offenders(graph, library, FRONT_ENDS) == []


def test_model_and_naming_never_import_training():
    assert _offenders(import_graph(), ["chemnamer.model", "chemnamer.naming", "chemnamer.bench"], ["chemnamer.finetune"]) == []


def test_store_returns_rows_and_never_imports_models():
    assert _offenders(import_graph(), ["chemnamer.store"], ["chemnamer.model"]) == []


def test_chemistry_stays_below_opsin():
    # chem is RDKit only; whatever needs OPSIN to read an input lives above both.
    assert _offenders(import_graph(), ["chemnamer.chem"], ["chemnamer.opsin"]) == []


def test_no_sql_in_the_gui():
    """The GUI asks the store's functions for rows; queries (and the schema) stay in chemnamer.store."""
    sql = []
    for path in (PACKAGE / "gui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            sql += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "sqlalchemy"]
    assert sql == [] and _offenders(import_graph(), ["chemnamer.gui"], ["chemnamer.store.db", "chemnamer.store.schema"]) == []
