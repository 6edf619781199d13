"""The package's shape: imports run one way, the recipes stay outside, and the command line starts without torch.

Layers, lowest first (a module may import its own package and lower layers, nothing else; packages of one layer
are independent of each other):

    errors < config < rgba < io < data | models | sampling < losses < pipelines < train < eval < app < cli | comfyui

The ComfyUI nodes (``comfyui``) are an entry point for ComfyUI alone: no other part imports them. The web page
(``app``) sits just under ``cli`` so that the ``app`` command can start it.

Every import counts, at module level or inside a function: a function-local import does not make a cycle go away.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "wan_alpha"
LAYERS = [("errors",), ("config",), ("rgba",), ("io",), ("data", "models", "sampling"), ("losses",), ("pipelines",),
          ("train",), ("eval",), ("app",), ("cli", "comfyui"), ("__main__",)]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def part_of(module: Path) -> str:
    """The layer name of a file: its subpackage, or its own name for a top-level module."""
    relative = module.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_parts(module: Path) -> list[tuple[int, str]]:
    """``(line, part)`` for every import of another part of wan_alpha in ``module``."""
    package = ["wan_alpha", *module.relative_to(PACKAGE).parent.parts]
    found = []
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names = [".".join([*base, *(node.module.split(".") if node.module else [])])]
                if not node.module:  # "from .. import x": x may itself be a part
                    names = [".".join([*base, alias.name]) for alias in node.names]
            else:
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "wan_alpha" and len(parts) > 1 and parts[1] in RANK:
                found.append((node.lineno, parts[1]))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def test_every_module_is_in_a_layer():
    assert MODULES and {part_of(m) for m in MODULES if m.name != "__init__.py" or m.parent != PACKAGE} <= set(RANK)


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_one_way(module):
    if module == PACKAGE / "__init__.py":
        assert not imported_parts(module)
        return
    own = part_of(module)
    upward = [f"line {line}: {own} imports {part}" for line, part in imported_parts(module)
              if part != own and RANK[part] >= RANK[own]]
    assert not upward, upward


def test_nothing_imports_the_comfyui_nodes():
    importers = [f"{m.relative_to(PACKAGE)} line {line}" for m in MODULES if part_of(m) != "comfyui"
                 for line, part in imported_parts(m) if part == "comfyui"]
    assert not importers, importers


def test_the_layering_check_sees_function_local_and_relative_imports(tmp_path, monkeypatch):
    fake = tmp_path / "wan_alpha"
    (fake / "train").mkdir(parents=True)
    source = fake / "train" / "x.py"
    source.write_text("from ..eval import metrics\n\ndef f():\n    from ..cli.args import parse_size\n    import wan_alpha.io\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert imported_parts(source) == [(1, "eval"), (4, "cli"), (5, "io")]


def test_the_package_never_imports_the_recipes():
    for module in MODULES:
        for node in ast.walk(ast.parse(module.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            assert not any(n == "recipes" or n.startswith("recipes.") for n in names), module


HELP_EVERY_COMMAND = """
import argparse, contextlib, io, sys
from wan_alpha.cli import build_parser

def walk(parser, prefix):
    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, prefix + [name])

parser = build_parser()
commands = list(walk(parser, []))
for argv in commands:
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
        build_parser().parse_args(argv + ["--help"])
    assert "usage:" in out.getvalue(), argv
heavy = sorted(m for m in ("torch", "diffusers", "transformers", "peft", "accelerate", "gradio") if m in sys.modules)
print(len(commands), ",".join(heavy))
"""


def test_help_of_every_command_imports_neither_torch_nor_diffusers():
    result = subprocess.run([sys.executable, "-c", HELP_EVERY_COMMAND], capture_output=True, text=True, check=True)
    count, heavy = result.stdout.split()[0], result.stdout.split()[1:]
    assert int(count) >= 15  # wan-alpha, info, convert, preview, data (build: 4 kinds, preview, stats), train, ...
    assert heavy == [], f"--help imported {heavy}"
