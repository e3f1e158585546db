"""The package's layout: one import root, imports that point down the layers of
docs/ARCHITECTURE.md, no cycles between packages, no generic top-level names."""

from __future__ import annotations

import ast
from pathlib import Path

import ecorest

PACKAGE = Path(ecorest.__file__).parent

#: unit -> its layer (a unit imports only units of a lower layer, or itself)
LAYERS = {
    "errors": 0, "vocab": 0, "wkb": 0, "settings": 0, "assets": 0, "progress": 0,
    "store": 1, "etl": 1, "dbt_sessions": 1,
    "dbt_invoke": 2,
    "run": 3, "report": 3,
    "samples": 4, "demo": 4,
    "cli": 5, "__main__": 6,
}
#: folders that hold database assets (no ecorest imports but the Alembic environment's)
ASSETS = {"db", "sql", "dbt_project"}


def _unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "ecorest" and len(parts) > 1 else None


def _modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        rel = f.relative_to(PACKAGE).with_suffix("")
        if rel.parts[0] in ASSETS:
            continue
        name = ".".join(("ecorest", *rel.parts)).removesuffix(".__init__")
        out[name] = f
    return out


def _imports(module: str, path: Path) -> set[str]:
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                found.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                found.add(node.module)
    return found


def test_every_unit_has_a_layer() -> None:
    units = {_unit(m) for m in _modules()} - {None}
    assert units <= set(LAYERS), units - set(LAYERS)


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for module, path in _modules().items():
        mine = _unit(module)
        if mine is None:
            continue
        for target in _imports(module, path):
            other = _unit(target)
            if target.split(".")[0] in ("etl", "reporting", "db", "sql", "dbt_project"):
                wrong.append(f"{module} imports the top-level name {target}")
            elif other and other != mine and other in LAYERS and LAYERS[other] >= LAYERS[mine]:
                wrong.append(f"{module} ({mine}, layer {LAYERS[mine]}) imports {target} "
                             f"({other}, layer {LAYERS[other]})")
    assert not wrong, "\n".join(wrong)


def test_no_cycles_between_packages() -> None:
    graph: dict[str, set[str]] = {}
    for module, path in _modules().items():
        mine = _unit(module)
        if mine:
            graph.setdefault(mine, set()).update(
                u for u in map(_unit, _imports(module, path)) if u and u != mine)
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            assert state.get(nxt) != 1, f"import cycle: {' -> '.join([*trail, node, nxt])}"
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])


def test_the_cli_holds_no_sql() -> None:
    for f in (PACKAGE / "cli").glob("*.py"):
        text = f.read_text().lower()
        for word in ("select ", "insert into", "update registry", "delete from", ".execute("):
            assert word not in text, f"{f.name} holds SQL ({word.strip()})"
