"""DESIGN.md's import rules, checked on the source: which module may import which."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "daekit"
CORE = {"noise", "models", "losses", "dae", "train", "train_config", "io", "noise_estimate"}
LEAVES = {"noise", "models", "losses"}
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
