"""The package's folders are its layers: no import reaches up, the two HTTP faces never meet, no cycles.

Layer rule (README, "Module map"): ``cli``, ``notebook`` -> ``app``/``terminal`` -> ``api``, ``pages`` ->
``engine`` -> ``kg`` -> ``sparql`` -> ``namespaces``, ``config``. Function-local imports of llmkg are allowed
only in ``cli.py``, where they keep ``llmkg --help`` from loading the web stack, and in the package's
front door: ``llmkg/__init__.py`` hands out the Python face (``notebook``) on first use, so ``import
llmkg`` gives ``llmkg.open()`` without every ``from llmkg import __version__`` loading it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "server" / "llmkg"
RANK = {
    "llmkg": 0,
    "namespaces": 0,
    "config": 0,
    "sparql": 1,
    "kg": 2,
    "engine": 3,
    "api": 4,
    "pages": 4,
    "app": 5,
    "serving": 5,
    "terminal": 5,
    "cli": 6,
    "notebook": 6,
}
#: The one import that reaches up: the package's ``__getattr__`` importing the Python face when first asked.
FRONT_DOOR = ("llmkg", "llmkg.notebook")
FACES = {"api", "pages"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room(module: str) -> str:
    """The wing of a module (``llmkg.kg.build`` -> ``kg``), or its own name at the top."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "llmkg"


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path) -> Iterator[tuple[str, int, bool]]:
    """(imported llmkg module, line, at module level) for every import in ``path``."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "llmkg":
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                yield (full if full in MODULES else node.module), node.lineno, id(node) in top or _guarded(node, tree)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "llmkg":
                    yield alias.name, node.lineno, id(node) in top


def _guarded(node: ast.AST, tree: ast.Module) -> bool:
    return any(isinstance(top, ast.If | ast.Try) and node in list(ast.walk(top)) for top in tree.body)


def test_every_module_sits_in_a_known_room() -> None:
    assert {room(m) for m in MODULES} <= set(RANK)
    assert {"sparql", "kg", "engine", "api", "pages"} <= {room(m) for m in MODULES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_reaches_up_or_across_the_faces(module: str) -> None:
    mine = room(module)
    for target, line, top_level in imports(MODULES[module]):
        if (module, target) == FRONT_DOOR:
            assert not top_level, "the package must import its Python face lazily, on first use"
            continue
        theirs = room(target)
        where = f"{MODULES[module].relative_to(PACKAGE.parent)}:{line} imports {target}"
        assert RANK[theirs] <= RANK[mine], f"upward import: {where}"
        assert not (mine in FACES and theirs in FACES and mine != theirs), f"the HTTP faces meet: {where}"
        assert top_level or mine == "cli", f"function-local import: {where}"


def test_the_module_graph_has_no_cycle() -> None:
    # the front door's import runs after the package has loaded, so it closes no cycle at import time
    graph = {
        m: {t for t, _, _ in imports(p) if t in MODULES and t != m and (m, t) != FRONT_DOOR} for m, p in MODULES.items()
    }
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, "import cycle: " + " -> ".join((*path[path.index(module) :], module))
        if module in done:
            return
        for target in graph[module]:
            visit(target, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())
