"""The layout rules of docs/architecture.md, checked from the code's own files.

* no import cycle between modules of ``sansio_core`` or ``promptwire`` (imports
  inside functions count: hiding a cycle in a function does not remove it);
* the core imports nothing inside functions (it has nothing to load lazily);
* no module outside generated code is over 600 lines;
* every package folder is declared in pyproject.toml, nothing imports the
  folder name ``bindings``;
* the public ``__all__`` of both packages matches its snapshot.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"sansio_core": ROOT / "sansio_core", "promptwire": ROOT / "bindings"}
GENERATED = {ROOT / "bindings" / "_sync" / "driver.py"}
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for name, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [name, *rel.parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(module: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every runtime import of our own modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    package = module if is_pkg else module.rpartition(".")[0]
    out: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub, in_function)
                continue
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                for alias in child.names:
                    candidate = f"{target}.{alias.name}"
                    out.append((candidate if candidate in MODULES else target, child.lineno, in_function))
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    out.append((alias.name, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return [(t, line, f) for t, line, f in out if t in MODULES]


GRAPH = {mod: _imports(mod, path) for mod, path in MODULES.items()}


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = 0

    def strong(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                result.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return result


def test_no_import_cycles() -> None:
    # A package's __init__ importing its own modules is how re-exports work,
    # not a cycle; edges into a package __init__ from its own modules are.
    edges = {mod: {t for t, _, _ in imports if t != mod and not mod.startswith(t + ".")}
             for mod, imports in GRAPH.items()}
    cycles = _strongly_connected(edges)
    assert cycles == [], f"import cycles: {cycles}"


def test_core_imports_nothing_inside_functions() -> None:
    lazy = [f"{mod}:{line} imports {t}" for mod, imports in GRAPH.items() if mod.startswith("sansio_core")
            for t, line, inside in imports if inside]
    assert lazy == []


def test_core_never_imports_the_bindings() -> None:
    bad = [f"{mod} imports {t}" for mod, imports in GRAPH.items() if mod.startswith("sansio_core")
           for t, _, _ in imports if t.startswith("promptwire")]
    assert bad == []


@pytest.mark.parametrize("path", sorted(set(MODULES.values()) - GENERATED), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_size(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines; split it by concern"


def test_every_package_is_declared() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = set(config["tool"]["setuptools"]["packages"])
    on_disk = {mod for mod, path in MODULES.items() if path.name == "__init__.py"}
    assert declared == on_disk


def test_nothing_imports_the_folder_name_bindings() -> None:
    offenders = []
    for folder in (ROOT / "bindings", ROOT / "sansio_core", ROOT / "tests", ROOT / "fuzz", ROOT / "docs"):
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                         else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
                if any(n == "bindings" or n.startswith("bindings.") for n in names):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_public_api_snapshot() -> None:
    import promptwire

    import sansio_core

    assert sorted(promptwire.__all__) == sorted([
        "AsyncTarget", "Cancelled", "Cassette", "CassetteError", "ConfigError", "DeadlineExceeded", "FailureKind", "HttpStatusError",
        "LimitExceeded", "LocalError", "LocalProtocolError", "MockServer", "PromptwireError",
        "ProviderResponse", "RemoteError", "RemoteProtocolError", "RetriesExhausted", "Target",
        "TemplateError", "TransformError", "TransportError", "WebSocketClosed", "__version__", "use_cassette",
    ])
    for name in promptwire.__all__:
        assert getattr(promptwire, name) is not None
    assert sorted(sansio_core.__all__) == sorted([
        "Call", "CallContext", "CallState", "CoreTarget", "Instant", "PromptwireError", "ProviderEntry",
        "ProviderResponse", "Sources", "__version__", "build_target", "parse_provider_entry", "provider_entries",
    ])


def test_architecture_page_names_every_core_module() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [str(path.relative_to(ROOT)) for mod, path in MODULES.items()
               if mod.startswith("sansio_core") and path.name != "__init__.py" and f"`{path.name}`" not in page]
    assert missing == [], "docs/architecture.md has no line for these modules"
