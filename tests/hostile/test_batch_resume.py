"""An interrupted batch `generate --prompts-file` resumes with --skip-existing, saying "clip N of M"."""

from .conftest import assert_refused


def test_skip_existing_generates_only_the_missing_clips(cli, tmp_path):
    (tmp_path / "prompts.txt").write_text("a red ball\na blue cube\n")
    (tmp_path / "outs").mkdir()
    (tmp_path / "outs" / "000-a-red-ball.zip").write_text("finished before the interruption")
    base = ["generate", "--prompts-file", "prompts.txt", "-o", "outs", "--format", "zip", "--frames", "1", "--size",
            "32x32", "--steps", "1"]
    assert_refused(*cli(*base)[:2], "000-a-red-ball.zip already exists")
    code, err, out = cli(*base, "--skip-existing")
    assert code == 0, err
    assert any("clip 2 of 2" in line for line in err) and not any("clip 1 of 2" in line for line in err)
    assert (tmp_path / "outs" / "000-a-red-ball.zip").read_text() == "finished before the interruption"
    assert (tmp_path / "outs" / "001-a-blue-cube.zip").stat().st_size > 0
    code, err, _ = cli(*base, "--skip-existing")
    assert code == 0 and any("no prompt left" in line for line in err)
    assert_refused(*cli(*base, "--skip-existing", "--overwrite")[:2], "not both")
