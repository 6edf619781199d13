"""The written clips in a real browser: headless Chromium shows each `wan-alpha preview --html` page over
magenta, and the screenshot must show magenta where the clip's alpha is 0 and the clip's colour where it is 1.

VP9 and VP8 WebM play in a <video>, APNG and WebP in an <img>, the stacked-alpha MP4 through the bundled
canvas player (package data ``wan_alpha/io/web/player.html``).
"""

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from wan_alpha.cli import main
from wan_alpha.io import PLAYER, RGBAVideo, WriteOptions, write_video

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)",
)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")

MAGENTA = np.array([255, 0, 255])
GREEN = np.array([20, 200, 60])
WIDTH, HEIGHT = 96, 64
# format -> (file name, --format)
CLIPS = {"VP9 WebM": ("c.webm", None), "VP8 WebM": ("c8.webm", "webm-vp8"),
         "stacked MP4": ("c.mp4", "mp4-stacked"), "APNG": ("c.apng", None), "WebP": ("c.webp", None)}


def _clip() -> RGBAVideo:
    """Left half transparent (its colour green, which must not show), right half opaque green."""
    frames = np.zeros((5, HEIGHT, WIDTH, 4), np.uint8)
    frames[..., :3] = GREEN
    frames[:, :, WIDTH // 2:, 3] = 255
    return RGBAVideo(frames, 16.0)


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required",
                 "--window-size=400,300", "--force-device-scale-factor=1", "--hide-scrollbars"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.mark.slow
@pytest.mark.parametrize("label", CLIPS)
def test_page_shows_background_through_alpha(tmp_path, browser, label):
    name, fmt = CLIPS[label]
    clip = write_video(tmp_path / name, _clip(), format=fmt)
    page = tmp_path / "page.html"
    assert main(["preview", str(clip), str(page), "--html", "--background", "#ff00ff"]) == 0
    _check_screenshot(browser, page.as_uri(), label)


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["below", "right"])
def test_player_copied_next_to_a_stacked_mp4_on_a_web_server(tmp_path, browser, layout):
    """The player file as a user deploys it: beside the video, the clip and its layout in the page's query."""
    import functools
    import http.server
    import threading

    write_video(tmp_path / "clip.mp4", _clip(), format="mp4-stacked", options=WriteOptions(stacked_layout=layout))
    shutil.copy(PLAYER, tmp_path / "player.html")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/player.html?src=clip.mp4&layout={layout}&background=%23ff00ff"
        _check_screenshot(browser, url, f"player.html?src=clip.mp4&layout={layout}")
    finally:
        server.shutdown()


def _check_screenshot(browser, url: str, label: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
    shot = np.asarray(Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")).astype(int)
    box = browser.execute_script("const r = document.querySelector('#clip > *').getBoundingClientRect();"
                                 "return [r.left, r.top, r.width, r.height];")
    assert [round(v) for v in box] == [0, 0, WIDTH, HEIGHT], label  # drawn at its own size, top left
    transparent = shot[8:HEIGHT - 8, 8:WIDTH // 2 - 8]  # away from the edge, where 4:2:0 chroma blends
    opaque = shot[8:HEIGHT - 8, WIDTH // 2 + 8:WIDTH - 8]
    assert np.abs(transparent - MAGENTA).max() <= 12, f"{label}: magenta does not show where alpha is 0"
    assert np.abs(opaque - GREEN).max() <= 12, f"{label}: the clip's colour does not cover where alpha is 1"
    assert np.abs(shot[HEIGHT + 8:HEIGHT + 40, :2 * WIDTH] - MAGENTA).max() <= 12  # the page background itself
