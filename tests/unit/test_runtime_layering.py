"""The runtime's layering, read from the imports of every module under runtime/ (no import runs).

- A handler (`<feature>/handlers/*`) never imports another handler: the API entry points in
  `apis/` are what compose several features' routers.
- A feature's `dal/` never imports another feature's `dal/` or `logic/` (a store that needs
  another feature's store gets it passed in; item layouts shared across features live in that
  feature's `models.py`).
- No feature but `keys` imports `keys.handlers` or `keys.models.Caller`: who is calling lives in
  `shared.callers`.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

from tests.plugins import ROOT

RUNTIME = ROOT / "runtime"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(RUNTIME).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module this file imports, at any depth (lazy imports inside functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@functools.cache
def modules() -> dict[str, set[str]]:
    """Each runtime module's imports, parsed on first use (not at collection: every xdist worker
    collects this file, one runs its tests)."""
    return {_module_name(path): _imports(path) for path in RUNTIME.rglob("*.py")}


def _layer(module: str) -> tuple[str, str] | None:
    """(feature, layer) for `<feature>.<layer>.…`, layer one of handlers/logic/dal."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in ("handlers", "logic", "dal"):
        return parts[0], parts[1]
    return None


def _known(name: str) -> str | None:
    """The runtime module `name` refers to (a `from x import y` may name a function)."""
    while name:
        if name in modules():
            return name
        name = name.rpartition(".")[0]
    return None


def test_the_walk_sees_the_runtime() -> None:
    assert "apis.developer_api" in modules() and "keys.handlers.router" in modules()
    assert "keys.handlers.router" in {_known(n) for n in modules()["apis.developer_api"]}


def test_no_handler_imports_another_handler() -> None:
    offences = []
    for module, imported in modules().items():
        if _layer(module) is None or _layer(module)[1] != "handlers":
            continue
        for name in imported:
            target = _known(name)
            if target and target != module and (_layer(target) or ("", ""))[1] == "handlers":
                offences.append(f"{module} imports {target}")
    assert sorted(set(offences)) == []


def test_no_dal_imports_another_features_dal_or_logic() -> None:
    offences = []
    for module, imported in modules().items():
        layer = _layer(module)
        if layer is None or layer[1] != "dal":
            continue
        for name in imported:
            target = _known(name)
            other = _layer(target) if target else None
            if other and other[0] != layer[0] and other[1] in ("dal", "logic"):
                offences.append(f"{module} imports {target}")
    assert sorted(set(offences)) == []


def test_features_read_their_caller_from_shared_not_from_keys() -> None:
    offences = [
        module
        for module, imported in modules().items()
        if not module.startswith(("keys.", "apis."))
        and ("keys.models.Caller" in imported or any(n.startswith("keys.handlers") for n in imported))
    ]
    assert offences == []


@pytest.mark.parametrize(
    "module, imported",
    [
        ("usage.handlers.ingest", "license.handlers.auth"),
        ("teams.dal.team_store", "keys.dal.key_store"),
    ],
)
def test_the_rules_would_catch_an_offence(module: str, imported: str) -> None:
    """The checks above are not vacuous: an import of the old kind is seen as one."""
    assert _layer(module) is not None and _layer(imported) is not None
    assert _known(imported) == imported


def test_logic_never_imports_the_sdk() -> None:
    """Logic has no I/O: SDK errors are sorted in the DAL (e.g. `metering.dal.marketplace`)."""
    offences = [
        f"{module} imports {name}"
        for module, imported in modules().items()
        if (_layer(module) or ("", ""))[1] == "logic"
        for name in imported
        if name.split(".")[0] in ("boto3", "botocore")
    ]
    assert offences == []
