"""Package data: shipped configs and assets must reach an installed (non-editable) package.

An editable install reads straight from ``src/``, so it cannot reveal a missing package-data glob;
building a wheel from a copy of the sources can (about 2 s, no network, no files left in the repo).
"""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import wan_alpha
from wan_alpha.config import CONFIG_DIR

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "src" / "wan_alpha"
INSTALLED = Path(wan_alpha.__file__).resolve().parent  # the source itself for an editable install


def test_installed_package_holds_the_shipped_configs():
    assert CONFIG_DIR.resolve().parent == INSTALLED and CONFIG_DIR.name == "configs"
    shipped = {p.name for p in (SOURCE / "configs").glob("*.yaml")}
    assert shipped <= {p.name for p in CONFIG_DIR.glob("*.yaml")}
    top_level = REPO / "configs"
    if top_level.exists():  # the repo's convenience symlink must point at the package data, not a copy
        assert top_level.resolve() == (SOURCE / "configs").resolve()


def test_wheel_ships_configs_and_nested_assets(tmp_path):
    pytest.importorskip("setuptools", reason="building without isolation needs setuptools installed")
    source = tmp_path / "source"
    shutil.copytree(SOURCE, source / "src" / "wan_alpha", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", source)
    readme = REPO / "README.md"
    readme_text = readme.read_text() if readme.exists() else "wan-alpha\n"
    (source / "README.md").write_text(readme_text)
    # Probe files prove the globs themselves (configs/*.yaml, assets/**/*), whatever ships today.
    (source / "src/wan_alpha/configs/_probe.yaml").write_text("probe: 1\n")
    nested = source / "src/wan_alpha/assets/deep/er/_probe.bin"
    nested.parent.mkdir(parents=True)
    nested.write_bytes(b"\0")

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(source)],
        check=True, capture_output=True, timeout=120,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    expected = {f"wan_alpha/configs/{p.name}" for p in (SOURCE / "configs").glob("*.yaml")}
    expected |= {"wan_alpha/configs/_probe.yaml", "wan_alpha/assets/deep/er/_probe.bin"}
    workflows = (SOURCE / "comfyui" / "example_workflows").glob("*.json")
    expected |= {f"wan_alpha/comfyui/example_workflows/{p.name}" for p in workflows}
    expected.add("wan_alpha/io/web/player.html")
    expected |= {f"wan_alpha/app/{p.name}" for p in (SOURCE / "app").glob("*.js")}  # the web app's canvas script
    assert expected <= names, sorted(expected - names)
