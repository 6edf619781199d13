"""``wan-alpha app`` in a real browser (Debian's chromium + chromedriver through selenium): start the command on a
free port, type a prompt, drag the ellipse on the canvas and draw a new one, generate, download, and check the
downloaded clip's alpha; then move the ellipse to the right with its slider and check the subject moved; last,
draw an end ellipse for motion; then the "Start from" choice shows its inputs and picks the placement.

``WAN_ALPHA_APP_SCREENSHOT=docs/app.png`` also saves a screenshot of the page with the clip (the README's).
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tests.app.alpha import centroid_x
from wan_alpha.io import read_video

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

BROWSER = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(BROWSER is None or DRIVER is None,
                       reason="no chromium/chromedriver on PATH (Debian: apt-get install chromium chromium-driver)"),
]
SIZE = (96, 64)  # width, height: small and not square, so the canvas' aspect is exercised
STARTUP_S = 180  # the app imports torch, diffusers and gradio and loads the model; 2 shared CPU cores are slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "wan_alpha", "app", "--port", str(port)],
                                  stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"wan-alpha app exited with {server.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"wan-alpha app did not answer within {STARTUP_S} s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1000"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(DRIVER))
    driver.downloads = downloads
    yield driver
    driver.quit()


def wait_for(condition, timeout: float = 60, what: str = "the page"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def type_number(driver, elem_id: str, value) -> None:
    """Type into the number box of a slider or number field and leave it, as a user does."""
    box = driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input[type=number]")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(str(value), Keys.TAB)


def number(driver, elem_id: str) -> float:
    return float(driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input[type=number]").get_attribute("value"))


def drag_on_canvas(driver, canvas, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Press at ``start`` and release at ``end`` (fractions of the canvas), as a mouse does."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    width, height = canvas.size["width"], canvas.size["height"]
    ActionChains(driver).move_to_element_with_offset(
        canvas, int((start[0] - 0.5) * width), int((start[1] - 0.5) * height)).click_and_hold().move_by_offset(
        int((end[0] - start[0]) * width), int((end[1] - start[1]) * height)).release().perform()


def canvas_blue_centroid_x(driver) -> float:
    """Where the start ellipse (drawn blue) is on the canvas, as a fraction of its width."""
    return driver.execute_script("""
        const c = document.querySelector('#ellipse-canvas canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let sum = 0, n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i + 2] > d[i] + 60) { sum += (i / 4) % c.width + 0.5; n++; }
        return sum / n / c.width;""")


def generate_and_download(driver) -> np.ndarray:
    """Click Generate, wait for the result, click *Download webp*; the downloaded clip's alpha ``(T, H, W)``."""
    before = set(driver.downloads.iterdir())
    old = [img.get_attribute("src") for img in driver.find_elements(By.CSS_SELECTOR, "#result-checker img")]
    driver.find_element(By.ID, "generate").click()
    wait_for(lambda: [img for img in driver.find_elements(By.CSS_SELECTOR, "#result-checker img")
                      if img.get_attribute("src") not in old], what="the generated clip")
    assert driver.find_elements(By.CSS_SELECTOR, "#result-matte img")  # the matte beside it
    wait_for(lambda: driver.find_element(By.ID, "download-webp").is_displayed(), what="the download button")
    driver.find_element(By.ID, "download-webp").click()
    (path,) = wait_for(lambda: [p for p in set(driver.downloads.iterdir()) - before if p.suffix == ".webp"],
                       what="the download")
    video = read_video(path)
    assert video.frames.shape == (5, SIZE[1], SIZE[0], 4)
    return video.alpha


def test_generate_in_the_browser_places_the_subject_where_the_ellipse_is(app_url, browser):
    browser.get(app_url)
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#ellipse-canvas canvas"), what="the ellipse canvas")

    browser.find_element(By.ID, "generate").click()  # no prompt yet: the page says what is wrong
    wait_for(lambda: "no prompt given" in browser.find_element(By.TAG_NAME, "body").text, what="the error message")
    for close in browser.find_elements(By.CSS_SELECTOR, ".toast-close"):
        close.click()

    prompt = browser.find_element(By.CSS_SELECTOR, "#prompt textarea")
    prompt.send_keys("a red balloon floating up, transparent background")
    type_number(browser, "frames", 5)
    type_number(browser, "width", SIZE[0])
    type_number(browser, "height", SIZE[1])
    canvas = browser.find_element(By.CSS_SELECTOR, "#ellipse-canvas canvas")
    wait_for(lambda: canvas.size["height"] < canvas.size["width"], what="the canvas to take the clip's aspect")

    # drag the ellipse from the centre a quarter of the frame to the left: the slider follows
    drag_on_canvas(browser, canvas, (0.5, 0.5), (0.25, 0.5))
    wait_for(lambda: abs(number(browser, "start-cx") - 0.25) < 0.02, what="the centre slider to follow the drag")
    # drag where there is no ellipse: that draws a new one spanning the drag, here (0.05, 0.1) to (0.45, 0.9)
    drag_on_canvas(browser, canvas, (0.05, 0.1), (0.45, 0.9))
    wait_for(lambda: abs(number(browser, "start-w") - 0.4) < 0.03 and abs(number(browser, "start-h") - 0.8) < 0.03,
             what="the size sliders to follow the drawn ellipse")
    assert abs(number(browser, "start-cx") - 0.25) < 0.03 and abs(number(browser, "start-cy") - 0.5) < 0.03
    assert canvas_blue_centroid_x(browser) < 0.4
    left = generate_and_download(browser)
    assert 0.005 < (left > 127).mean() < 0.9 and left.min() < 64 and left.max() > 191  # a real alpha channel

    type_number(browser, "start-cx", 0.75)  # the slider moves the ellipse on the canvas too
    wait_for(lambda: canvas_blue_centroid_x(browser) > 0.6, what="the canvas to follow the slider")
    right = generate_and_download(browser)
    assert 0.005 < (right > 127).mean() < 0.9
    assert centroid_x(left) < 0.45 < 0.55 < centroid_x(right)

    if shot := os.environ.get("WAN_ALPHA_APP_SCREENSHOT"):
        browser.execute_script("window.scrollTo(0, 0)")
        time.sleep(1)  # let the animated WebPs play a frame or two
        Path(shot).parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(shot)

    # motion: tick "move", pick the end ellipse and draw it in the lower left corner; its sliders follow
    browser.find_element(By.CSS_SELECTOR, "#moving input").click()
    wait_for(lambda: browser.find_element(By.CSS_SELECTOR, "#ellipse-canvas button[data-edit=end]").is_displayed(),
             what="the end ellipse's button")
    browser.find_element(By.CSS_SELECTOR, "#ellipse-canvas button[data-edit=end]").click()
    drag_on_canvas(browser, canvas, (0.05, 0.7), (0.35, 0.95))
    wait_for(lambda: abs(number(browser, "end-cx") - 0.2) < 0.03 and abs(number(browser, "end-cy") - 0.825) < 0.03,
             what="the end ellipse's sliders to follow the drawing")
    assert abs(number(browser, "start-cx") - 0.75) < 0.02  # the start ellipse stayed where it was

    # start from an image: its uploads show, the placement becomes the input's alpha, and without an image the page
    # says what is missing; a clip shows the strength slider; text brings the ellipse back
    def choose_start(value: str) -> None:
        browser.find_element(By.CSS_SELECTOR, f"#start input[value='{value}']").click()

    def shown(elem_id: str) -> bool:  # gradio leaves hidden components out of the page
        return any(e.is_displayed() for e in browser.find_elements(By.ID, elem_id))

    def placement() -> str:
        return browser.find_element(By.CSS_SELECTOR, "#placement input:checked").get_attribute("value")

    choose_start("image")
    wait_for(lambda: shown("image") and placement() == "input's alpha",
             what="the image upload and the input's alpha placement")
    assert not shown("strength")
    browser.find_element(By.ID, "generate").click()
    wait_for(lambda: "starting from an image needs one" in browser.find_element(By.TAG_NAME, "body").text,
             what="the missing image's message")
    choose_start("clip")
    wait_for(lambda: shown("strength") and not shown("image"), what="the clip upload's strength slider")
    choose_start("text")
    wait_for(lambda: placement() == "ellipse", what="the ellipse placement back")
