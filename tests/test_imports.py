"""DESIGN.md's import rules, checked on the source: which module may import which."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "daekit"
CORE = {
    "checks",
    "io_checks",
    "noise",
    "noise_levels",
    "noise_base",
    "noise_mix",
    "noise_range",
    "noise_camera",
    "models",
    "losses",
    "dae",
    "train",
    "train_config",
    "train_checkpoint",
    "train_data",
    "io",
    "noise_estimate",
    "noise_estimate_signals",
}
LEAVES = {
    "noise",
    "noise_levels",
    "noise_base",
    "noise_mix",
    "noise_range",
    "noise_camera",
    "models",
    "losses",
    "checks",
}
OPTIONAL = {
    "PIL",
    "soundfile",
    "sklearn",
    "scipy",
    "matplotlib",
    "fastapi",
    "uvicorn",
    "onnx",
    "onnxruntime",
    "pandas",
    "pyod",
    "pesq",
    "pystoi",
    "skimage",
    "tensorboard",
    "starlette",
    "multipart",
}


def module_of(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def top_level_imports(path: Path):
    """(imported daekit module, imported external package) pairs at module level only:
    imports inside functions are the sanctioned way to reach optional packages."""
    tree = ast.parse(path.read_text())
    mod = module_of(path)
    package = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    found = []
    for node in tree.body:
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] if node.module else [".".join(base + [a.name]) for a in node.names]
                names = ["daekit." + n if n else "daekit" for n in names]
            else:
                names = [node.module]
        found += names
    return found


def files():
    return sorted(p for p in SRC.rglob("*.py"))


def first(name: str) -> str:
    parts = name.split(".")
    return parts[1] if parts[0] == "daekit" and len(parts) > 1 else ""


@pytest.mark.parametrize("path", files(), ids=lambda p: str(p.relative_to(SRC)))
def test_import_direction(path):
    mod = module_of(path)
    top = mod.split(".")[0] if mod else ""
    for name in top_level_imports(path):
        target = first(name)
        if name.split(".")[0] in OPTIONAL:
            raise AssertionError(f"{mod} imports optional package {name} at module level")
        if not target:
            continue
        if top not in ("__main__", "cli", "serve"):
            assert target not in ("cli", "serve"), f"{mod} imports the entry point {name}"
        if top in CORE:
            assert target != "apps", f"core module {mod} imports {name}"
        if top in LEAVES:
            assert target in LEAVES or target == "", f"leaf module {mod} imports {name}"
        if top == "apps":
            other = name.split(".")[2] if len(name.split(".")) > 2 else ""
            this = mod.split(".")[1] if len(mod.split(".")) > 1 else ""
            assert not (target == "apps" and other and this and other.split("_")[0] != this.split("_")[0]), (
                f"app {mod} imports another app {name}"
            )


def test_import_daekit_loads_no_optional_package():
    code = (
        f"import sys, daekit; bad = sorted(m for m in {sorted(OPTIONAL)!r} if m in sys.modules); print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import daekit loaded {out.stdout.strip()}"


# ---------------------------------------------------------------------------------------
# Cycles, counting imports inside functions too
# ---------------------------------------------------------------------------------------
# A function-level import still ties the two modules together: the cycle is only hidden
# until the function runs. The one sanctioned exception is a module __getattr__ (PEP 562)
# that re-exports a name lazily, as daekit.noise does for estimate and select: it adds no
# behaviour to the leaf, only an alias.

MODULES = {module_of(p) for p in files()}


def resolve(importer: str, is_package: bool, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The daekit modules an import statement loads (package parents not counted), named
    without the 'daekit.' prefix as module_of names them."""
    relative = isinstance(node, ast.ImportFrom) and node.level > 0
    if isinstance(node, ast.Import):
        candidates = [a.name for a in node.names]
    elif relative:
        package = [p for p in importer.split(".") if p] if is_package else importer.split(".")[:-1]
        base = package[: len(package) - (node.level - 1)]
        stem = ".".join(base + ([node.module] if node.module else []))
        candidates = ["daekit." + ".".join(x for x in (stem, a.name) if x) for a in node.names]
    else:
        candidates = [f"{node.module}.{a.name}" for a in node.names] if node.module else []
    found = []
    for name in candidates:
        if not name.startswith("daekit."):
            continue
        name = name.removeprefix("daekit.")
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name:
            found.append(name)
    return found


def imports_anywhere(path: Path) -> list[tuple[str, str]]:
    """(imported daekit module, where) for every import in the file; where is 'module',
    'function' or 'lazy' (inside a module-level __getattr__)."""
    tree = ast.parse(path.read_text())
    mod = module_of(path)
    lazy = {id(n) for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "__getattr__" for n in ast.walk(f)}
    top = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            where = "lazy" if id(node) in lazy else "module" if id(node) in top else "function"
            out += [(target, where) for target in resolve(mod, path.name == "__init__.py", node)]
    return out


GRAPH = {module_of(p): {t for t, where in imports_anywhere(p) if where != "lazy"} - {module_of(p)} for p in files()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as a path [a, b, ..., a], or [] when the graph has none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        stack.pop()
        return []

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return []


def test_find_cycle_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_no_import_cycle():
    # The package's own __init__ files gather the public names from every layer; they
    # import downwards only, so they are walked like any module.
    cycle = find_cycle(GRAPH)
    assert not cycle, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("path", files(), ids=lambda p: str(p.relative_to(SRC)))
def test_core_never_imports_upward_even_inside_functions(path):
    mod = module_of(path)
    top = mod.split(".")[0]
    for target, where in imports_anywhere(path):
        up = target.split(".")[0]
        if top in CORE:
            assert up not in ("apps", "cli", "serve"), f"core module {mod} imports {target} ({where})"
        if top in LEAVES and where != "lazy":
            assert up in LEAVES, f"leaf module {mod} imports {target} from a floor above ({where})"
