"""``wan-alpha app`` on the command line: private by default, and the real-scale flags checked as ``generate`` checks
them (the page itself is tested in test_app_browser.py)."""

import wan_alpha.app.page
from wan_alpha import EMBEDDED_MODEL
from wan_alpha.cli import main


def test_the_app_serves_this_machine_only_without_a_share_link_unless_told(monkeypatch):
    calls = []
    monkeypatch.setattr(wan_alpha.app.page, "serve", lambda *args, **kwargs: calls.append((args, kwargs)))
    assert main(["app", "--model", str(EMBEDDED_MODEL)]) == 0
    assert main(["app", "--host", "0.0.0.0", "--port", "8080", "--share", "--device", "cpu"]) == 0
    (args, private), (_, public) = calls
    assert args == (str(EMBEDDED_MODEL), None)
    assert (private["host"], private["port"], private["share"]) == ("127.0.0.1", None, False)
    assert (public["host"], public["port"], public["share"], public["device"]) == ("0.0.0.0", 8080, True, "cpu")


def test_bad_model_choices_exit_2_with_one_line(tmp_path, capsys):
    assert main(["app", "--vae-file", "decoder.bin"]) == 2
    assert "need --model-dir" in capsys.readouterr().err
    assert main(["app", "--model", str(tmp_path)]) == 2
    assert "is not a wan-alpha model folder" in capsys.readouterr().err
