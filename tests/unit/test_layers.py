"""The layering, read from the source with `ast` (nothing is imported).

`app/` → `kbchat/` → `ingest/` → `vectorstore/`: an import may only point down (or stay in its
layer); no two modules import each other, directly or round a loop; and inside `kbchat/` no
subpackage imports a part of the core that imports the subpackage back (``answering →
quality → answering``), the loops a module graph alone does not show.

Every import counts, at module level or inside a function, except those under
``if TYPE_CHECKING:``: they never run, so they cannot make a cycle at run time, and a type
may name a higher layer's class without depending on it. An import names the module it
loads (``from kbchat.admin import jobs`` loads ``kbchat.admin.jobs``); the parent packages'
``__init__`` modules that Python runs on the way are not counted as imported.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("vectorstore", "ingest", "kbchat", "app")
"""Lowest first: a package may import the ones before it, never the ones after."""
CORE = "kbchat"


@dataclass(frozen=True)
class Import:
    """One import statement's target, where it is written."""

    importer: str
    target: str
    path: Path
    line: int

    def where(self, root: Path) -> str:
        """``file:line imports module``, as a failure names it."""
        return f"{self.path.relative_to(root)}:{self.line} imports {self.target}"


def modules(root: Path) -> dict[str, Path]:
    """Every module of the layers under ``root``, by dotted name."""
    found: dict[str, Path] = {}
    for layer in LAYERS:
        for path in sorted((root / layer).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, leaving out the bodies of ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for other in node.orelse:
                yield other
                yield from _nodes(other)
            continue
        yield node
        yield from _nodes(node)


def imports(root: Path) -> list[Import]:
    """Every import between two modules of the layers (others, such as numpy, are left out)."""
    known = modules(root)
    found: list[Import] = []
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _nodes(ast.parse(path.read_text("utf-8"), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    child = f"{base}.{alias.name}"
                    targets.append(child if child in known else base)
            for target in targets:
                while target and target not in known:  # `import a.b.c`: the deepest module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    found.append(Import(name, target, path, node.lineno))
    return found


def _layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def upward_imports(root: Path) -> list[str]:
    """Imports from a lower layer into a higher one."""
    return [i.where(root) for i in imports(root) if _layer(i.importer) < _layer(i.target)]


def _cycles(edges: dict[str, dict[str, Import]]) -> list[list[str]]:
    """The strongly connected groups of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(groups)


def _loops(graph: dict[str, dict[str, Import]], root: Path, kind: str) -> list[str]:
    found = []
    for group in _cycles(graph):
        members = set(group)
        where = sorted(
            imp.where(root) for node in group for nxt, imp in graph[node].items() if nxt in members
        )
        found.append(f"{kind} {' ↔ '.join(group)}: " + "; ".join(where))
    return found


def import_cycles(root: Path) -> list[str]:
    """Modules that import each other, directly or round a loop."""
    graph: dict[str, dict[str, Import]] = defaultdict(dict)
    for imp in imports(root):
        graph[imp.importer].setdefault(imp.target, imp)
    return _loops(graph, root, "import cycle")


def _part(module: str) -> str | None:
    """The part of the core a module belongs to: its subpackage or top-level module."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == CORE and len(parts) > 1 else None


def package_loops(root: Path) -> list[str]:
    """Parts of the core (subpackages, top-level modules) that import each other round a loop
    that passes through a subpackage."""
    known = modules(root)
    graph: dict[str, dict[str, Import]] = defaultdict(dict)
    for imp in imports(root):
        src, dst = _part(imp.importer), _part(imp.target)
        if src and dst and src != dst:
            graph[src].setdefault(dst, imp)
    subpackages = {m for m, p in known.items() if p.name == "__init__.py" and _part(m) == m}
    loops = []
    for group in _cycles(graph):
        if subpackages & set(group):
            loops.extend(_loops({n: graph[n] for n in group}, root, "package loop"))
    return loops


# -- the checks on this repository -----------------------------------------------------------


def test_no_import_points_up_a_layer() -> None:
    found = upward_imports(ROOT)
    assert not found, "\n".join(found)


def test_no_import_cycles() -> None:
    found = import_cycles(ROOT)
    assert not found, "\n".join(found)


def test_no_package_loops_inside_the_core() -> None:
    found = package_loops(ROOT)
    assert not found, "\n".join(found)


# -- the checker itself, on a small made-up tree ---------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name in ("vectorstore", "ingest", "kbchat", "app"):
        (root / name).mkdir(exist_ok=True)
        (root / name / "__init__.py").touch()
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_checker_names_an_upward_import_by_file_and_line(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "vectorstore/store.py": "import os\n\n\ndef f():\n    from kbchat import settings\n",
            "kbchat/settings.py": "from vectorstore import store\n",
            "ingest/typed.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import app.page\n"
            ),
            "app/page.py": "import kbchat.settings\n",
        },
    )
    assert upward_imports(root) == ["vectorstore/store.py:5 imports kbchat.settings"]


def test_checker_finds_a_cycle_through_a_function_level_import(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "kbchat/a.py": "from kbchat.b import x\n",
            "kbchat/b.py": "x = 1\n\n\ndef f():\n    from . import c\n",
            "kbchat/c.py": "import kbchat.a\n",
            "kbchat/d.py": "import kbchat.a\n",
        },
    )
    assert import_cycles(root) == [
        "import cycle kbchat.a ↔ kbchat.b ↔ kbchat.c: kbchat/a.py:1 imports kbchat.b; "
        "kbchat/b.py:5 imports kbchat.c; kbchat/c.py:1 imports kbchat.a"
    ]


def test_checker_finds_a_loop_between_a_subpackage_and_a_core_module(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "kbchat/answering/__init__.py": "",
            "kbchat/answering/service.py": "from kbchat.quality import score\n",
            "kbchat/answering/citations.py": "def cited(): ...\n",
            "kbchat/quality.py": "from kbchat.answering.citations import cited\nscore = 1\n",
            "kbchat/compare.py": "from kbchat.quality import score\n",
        },
    )
    assert import_cycles(root) == [], "no module loop: only the packages loop"
    assert package_loops(root) == [
        "package loop kbchat.answering ↔ kbchat.quality: "
        "kbchat/answering/service.py:1 imports kbchat.quality; "
        "kbchat/quality.py:1 imports kbchat.answering.citations"
    ]
