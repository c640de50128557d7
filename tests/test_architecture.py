"""The layers of docs/architecture.md hold: no module imports a higher layer or a peer, and no import cycle.

Every import counts, also one inside a function: a lazy import still makes the lower module depend on the
higher one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "moss_plugins"
DOC = ROOT / "docs" / "architecture.md"


def layers() -> dict[str, int]:
    """``{unit: floor}`` from the table in docs/architecture.md: a row ``| floor | `unit`, `unit` | ... |``."""
    table = {}
    for line in DOC.read_text().splitlines():
        m = re.match(r"^\|\s*(\d+)\s*\|([^|]+)\|", line)
        if m:
            for unit in re.findall(r"`([\w.]+)`", m[2]):
                table[unit] = int(m[1])
    return table


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, typing_only: bool = True) -> set[str]:
    """The moss_plugins modules ``path`` imports (``from x import y`` counts y when it is a module); with
    ``typing_only=False``, not those under ``if TYPE_CHECKING:`` (they never run, so they make no cycle)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set()
    if not typing_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and ast.unparse(node.test) in (
                "TYPE_CHECKING",
                "typing.TYPE_CHECKING",
            ):
                skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)
    return {m for m in found if m.startswith("moss_plugins") and _exists(m)}


def _exists(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def unit_of(module: str, table: dict[str, int]) -> str | None:
    """The longest unit of the table that ``module`` belongs to (``moss_plugins.data.synth.x`` -> ``data``)."""
    rest = module.removeprefix("moss_plugins").lstrip(".")
    parts = rest.split(".")
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in table:
            return ".".join(parts[:k])
    return None


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
GRAPH = {module_name(p): imports(p) for p in MODULES}
RUNTIME_GRAPH = {module_name(p): imports(p, typing_only=False) for p in MODULES}


def test_every_module_has_a_layer():
    table = layers()
    assert table, f"{DOC}: no layer table found"
    missing = sorted(m for m in GRAPH if m != "moss_plugins" and unit_of(m, table) is None)
    assert not missing, f"modules without a layer in docs/architecture.md: {missing}"


def violations(graph: dict[str, set[str]], table: dict[str, int]) -> list[str]:
    wrong = []
    for module, targets in graph.items():
        unit = unit_of(module, table)
        for target in sorted(targets):
            other = unit_of(target, table)
            if unit is None or other is None or other == unit:
                continue
            if table[other] >= table[unit]:
                kind = "a peer" if table[other] == table[unit] else "a higher layer"
                wrong.append(
                    f"{module} imports {target}: {kind} ({other}, floor {table[other]}; {unit}, "
                    f"floor {table[unit]})"
                )
    return wrong


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module. A module importing its own package's
    ``__init__`` does not count: that is how a package re-exports, not a cycle of the design."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w == v or w not in graph or v.startswith(w + "."):
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                on_stack.discard(w)
                component.append(w)
            on_stack.discard(v)
            if component:
                found.append(sorted([v, *component]))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_a_higher_layer_or_a_peer():
    wrong = violations(GRAPH, layers())
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle():
    assert not cycles(RUNTIME_GRAPH), f"import cycles: {cycles(RUNTIME_GRAPH)}"


def test_the_checks_catch_an_upward_import_a_peer_import_and_a_cycle():
    table = {"output_format": 0, "reward": 1, "data": 2, "verl": 6, "lmms_eval": 6}
    planted = {
        "moss_plugins.reward.score": {"moss_plugins.data.io", "moss_plugins.output_format"},
        "moss_plugins.verl.rows": {"moss_plugins.lmms_eval.rows"},
        "moss_plugins.data.io": {"moss_plugins.output_format"},
    }
    assert [w.split(":")[0] for w in violations(planted, table)] == [
        "moss_plugins.reward.score imports moss_plugins.data.io",
        "moss_plugins.verl.rows imports moss_plugins.lmms_eval.rows",
    ]
    assert cycles({"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a": set()}) == [["a.x", "a.y", "a.z"]]
    assert cycles({"a": {"a.x"}, "a.x": {"a"}}) == []  # a package re-exporting its module
