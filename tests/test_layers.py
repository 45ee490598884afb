"""The package's layers: every import, at module level or inside a function, points down, and no packages import each
other in a circle (the order is drawn in docs/layers.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "talkinghead"

# bottom to top; the parts of one layer may not import each other (only a part's own modules may)
LAYERS = [
    ["errors"],
    ["config", "progress"],
    ["audio"],
    ["io"],
    ["face"],
    ["models"],
    ["motion"],
    ["render"],
    ["pipeline"],
    ["data", "eval", "train"],
    ["cli", "__init__"],
    ["batch", "serve", "client"],
    ["__main__"],
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def part_of(module: str) -> str:
    """The layer part of a dotted module name inside the package: its first component below ``talkinghead``."""
    names = module.split(".")
    return names[1] if len(names) > 1 else "__init__"


def package_imports() -> list[tuple[str, str, int]]:
    """(importing module, imported talkinghead module, line) for every import statement in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # "from talkinghead import x" imports the submodule x when there is one
                targets = ([f"talkinghead.{a.name}" for a in node.names] if node.module == "talkinghead"
                           else [node.module])
            else:
                continue
            found += [(module, t, node.lineno) for t in targets if t == "talkinghead" or t.startswith("talkinghead.")]
    return found


def test_every_part_of_the_package_has_a_layer():
    parts = {part_of(m) for m, _, _ in package_imports()} | {p.stem if p.is_file() else p.name
                                                            for p in PACKAGE.iterdir()
                                                            if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert parts <= set(RANK), f"not in LAYERS: {sorted(parts - set(RANK))}"


def test_imports_point_down_the_layers():
    upward = [f"{m}:{line} imports {t}" for m, t, line in package_imports()
              if part_of(t) in RANK and part_of(t) != part_of(m)
              and RANK[part_of(t)] >= RANK[part_of(m)] and part_of(t) != "__init__"]
    assert not upward, "imports that point up or across a layer:\n" + "\n".join(upward)


def test_no_modules_import_each_other_in_a_circle():
    graph: dict[str, set[str]] = {}
    for m, t, _ in package_imports():
        graph.setdefault(m, set()).add(t)
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in graph.get(node, ()):
            if nxt in path:
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in done:
                visit(nxt, path + [nxt])
        done.add(node)

    done: set[str] = set()
    for start in sorted(graph):
        if start not in done:
            visit(start, [start])
    assert not cycles, "import circles:\n" + "\n".join(sorted(set(cycles)))


@pytest.mark.parametrize("line", ["from talkinghead.render.rig import FaceRig", "import talkinghead.eval.naturalness"])
def test_the_check_sees_an_upward_import(tmp_path, line, monkeypatch):
    """A motion module that imported a renderer or a metric would be reported."""
    fake = tmp_path / "talkinghead"
    (fake / "motion").mkdir(parents=True)
    (fake / "motion" / "bad.py").write_text(f"def f():\n    {line}\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    with pytest.raises(AssertionError, match="talkinghead.motion.bad:2"):
        test_imports_point_down_the_layers()
