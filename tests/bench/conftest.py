"""Bench scripts live outside the package; tests load them by path."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="session")
def load_bench_script():
    def load(name: str):
        if str(BENCH) not in sys.path:  # as `python bench/NAME.py` runs it: sibling scripts import by name
            sys.path.insert(0, str(BENCH))
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
