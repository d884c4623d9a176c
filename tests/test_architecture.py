"""The package's layers, kept true by a static import check (AST only: nothing is imported).

Layers, lowest first; a module may import its own layer and the layers below it, never one
above. Every import counts: at module level, inside functions and under TYPE_CHECKING.

    foundation  errors, vocabulary, logschema
    report      the report model and its renderers
    checking    the check core (reading → profiles → comparing → deciding → pipeline)
    store       the Feast side
    serving     logged lookups, log writing, the HTTP server
    loop        events, watch, retrain
    demo        the generated world and the demo run
    front       skewguard (the namespace), api, cli, commands, the deprecated shim

`checking` and `report` never import Feast. Inside `checking` imports flow one way, in the
order of `CHECKING_FLOW`.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "skewguard"

LAYERS = ["foundation", "report", "checking", "store", "serving", "loop", "demo", "front"]
FOUNDATION = {"errors", "vocabulary", "logschema"}
FRONT = {"__init__", "__main__", "api", "cli", "commands", "offline_store"}
NO_FEAST = {"checking", "report", "foundation"}
CHECKING_FLOW = [
    "manifest_schema",
    "log_columns",
    "values",
    "reading",
    "duplicates",
    "specs",
    "profile",
    "profile_schema",
    "freezing",
    "counting",
    "dask_profiling",
    "integrity",
    "reference",
    "significance",
    "schema",
    "comparing",
    "unit_signatures",
    "mass_signatures",
    "signatures",
    "high_cardinality",
    "no_values",
    "joined",
    "joint_policy",
    "causes",
    "policy",
    "deciding",
    "joint",
    "lineage",
    "performance",
    "pipeline",
]
MAX_LINES = 500


def layer_of(module: str) -> str:
    """`skewguard.checking.reading` -> `checking`; `skewguard.errors` -> `foundation`."""
    parts = module.split(".")
    if parts[0] != "skewguard":
        raise ValueError(module)
    top = parts[1] if len(parts) > 1 else "__init__"
    if top in FOUNDATION:
        return "foundation"
    if top in FRONT:
        return "front"
    if top in LAYERS:
        return top
    raise AssertionError(f"{module}: no layer; add it to tests/test_architecture.py")


def modules(root: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1 and parts[:-1] != ["skewguard"]:
            parts = parts[:-1]
        yield ".".join(parts), path


def imports(path: Path, module: str) -> Iterator[tuple[int, str]]:
    """Every absolute module name `path` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:  # `from skewguard.checking import reading`
                if base.startswith("skewguard"):
                    yield node.lineno, f"{base}.{alias.name}"


def violations(root: Path = PACKAGE) -> list[str]:
    found: list[str] = []
    known = {name for name, _ in modules(root)}
    for module, path in modules(root):
        layer = layer_of(module)
        for line, name in imports(path, module):
            where = f"{path.relative_to(root.parent)}:{line}"
            top = name.split(".")[0]
            if top == "feast" and layer in NO_FEAST:
                found.append(f"{where}: {layer} imports {name}")
            if top != "skewguard" or name not in known:
                continue
            target = layer_of(name)
            if LAYERS.index(target) > LAYERS.index(layer):
                found.append(f"{where}: {layer} imports {name} from the {target} layer above")
            if layer == target == "checking":
                src, dst = module.split(".")[2:3], name.split(".")[2:3]
                if src and dst and src[0] in CHECKING_FLOW and dst[0] in CHECKING_FLOW:
                    if CHECKING_FLOW.index(dst[0]) > CHECKING_FLOW.index(src[0]):
                        found.append(f"{where}: checking.{src[0]} imports {name} downstream")
    return found


def test_the_layers_hold() -> None:
    assert violations() == []


def test_every_module_has_a_layer_and_checking_modules_a_place_in_the_flow() -> None:
    for module, _ in modules(PACKAGE):
        layer_of(module)
        parts = module.split(".")
        if parts[1:2] == ["checking"] and len(parts) > 2:
            assert parts[2] in CHECKING_FLOW, f"{module}: add it to CHECKING_FLOW"


def test_a_feast_import_in_checking_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "skewguard"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "checking" / "pipeline.py").write_text(
        (copy / "checking" / "pipeline.py").read_text() + "\n\ndef _probe():\n    import feast\n"
    )
    assert any("checking imports feast" in v for v in violations(copy))


def test_an_upward_import_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "skewguard"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    probe = "if TYPE_CHECKING:\n    from skewguard.store import repo\n"
    (copy / "report" / "probe.py").write_text("from typing import TYPE_CHECKING\n\n" + probe)
    (copy / "checking" / "specs.py").write_text(
        (copy / "checking" / "specs.py").read_text()
        + "\nfrom skewguard.checking.pipeline import check\n"
    )
    found = violations(copy)
    assert any("report imports skewguard.store" in v for v in found), found
    assert any("checking.specs imports skewguard.checking.pipeline" in v for v in found), found


def test_no_module_is_over_500_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE.parent)): n
        for _, path in modules(PACKAGE)
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
