import pytest

from wan_alpha.cli import main

from . import inputs


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """Run ``wan-alpha ARGS`` in-process in ``tmp_path``: -> (exit status, stderr lines, stdout)."""
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, list[str], str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        # diffusers' loading progress bars are not messages (issue 29 silences them)
        return code, [line for line in err.replace("\r", "\n").splitlines() if line.strip() and "%|" not in line], out

    return run


@pytest.fixture(scope="session")
def bombs(tmp_path_factory):
    """name -> file: each a few KB that declares gigabytes once decoded."""
    d = tmp_path_factory.mktemp("bombs")
    return {
        "apng_delay": inputs.apng_long_delay(d / "delay.apng"),
        "png_20000": inputs.png_bomb(d / "big.png"),
        "zip_12000x40": inputs.zip_of_frames(d / "many.zip", 40, 12000),
        "zip_4096x200": inputs.zip_of_frames(d / "long.zip", 200, 4096),
        "zip_member": inputs.zip_member_bomb(d / "member.zip"),
    }


def assert_refused(code: int, err: list[str], *names: str) -> None:
    """Exit 2 and one line that names each of ``names`` (the file, the limit or the defect)."""
    assert code == 2, err
    ours = [line for line in err if line.startswith("wan-alpha:")]  # libraries' import-time noise aside
    assert len(ours) == 1 and ours[0].startswith("wan-alpha: error: ") and "Traceback" not in "".join(err), err
    for name in names:
        assert name in ours[0], (name, ours[0])
