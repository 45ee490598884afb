"""The web app in a real browser: Debian's headless Chromium, driven by Selenium through Debian's chromedriver (nothing
downloads a browser). A user uploads the example portrait and speech, clicks Animate and watches the video; a bad
file shows the one-line error in the page."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import cv2
import numpy as np
from conftest import PORTRAIT, SPEECH, audio_seconds, free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                 reason="needs Debian's chromium and chromium-driver (scripts/setup.sh installs them "
                                        "where apt-get can)")]
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the [serve] extra)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`talkinghead serve` on a free port, as a user starts it."""
    port = free_port()
    root = tmp_path_factory.mktemp("serve")
    process = subprocess.Popen([sys.executable, "-m", "talkinghead", "serve", "--port", str(port), "--root",
                                str(root), "--workers", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(url + "/api/health", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail(f"server did not start: {process.stdout.read().decode()[-2000:]}")
    yield url
    process.terminate()  # SIGTERM: uvicorn stops, then the CLI exits as a terminated command does
    assert process.wait(30) in (0, 143)
    assert b"Traceback" not in process.stdout.read()


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(1280, 1600)
    yield driver
    driver.quit()


def upload(browser, element_id: str, path: Path) -> None:
    """Give a file to the upload box of a Gradio component, as choosing it in the file dialog does."""
    field = browser.find_element("css selector", f"#{element_id} input[type=file]")
    field.send_keys(str(path))


def wait_for(browser, script: str, timeout: float):
    """Poll a JavaScript expression until it is truthy; its value."""
    end = time.time() + timeout
    while time.time() < end:
        value = browser.execute_script(f"return {script}")
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {script}; page says: {browser.find_element('tag name', 'body').text[:500]}")


def test_animate_in_the_page_plays_a_video_as_long_as_the_speech(server, browser):
    browser.get(server)
    wait_for(browser, "document.querySelector('#animate-image input[type=file]')", 60)
    upload(browser, "animate-image", PORTRAIT)
    upload(browser, "animate-audio", SPEECH)
    wait_for(browser, "document.querySelector('#animate-audio audio, #animate-audio .waveform-container')", 30)
    time.sleep(1)
    browser.find_element("id", "animate-run").click()
    duration = wait_for(browser, "(v => v && v.readyState >= 1 && v.duration)(document.querySelector("
                                 "'#animate-video video'))", 240)
    assert abs(duration - audio_seconds(SPEECH)) < 0.2
    assert "Error" not in browser.find_element("id", "error").text


def test_a_bad_file_shows_the_one_line_error(server, browser, tmp_path):
    browser.get(server)
    wait_for(browser, "document.querySelector('#animate-image input[type=file]')", 60)
    flat = tmp_path / "no_face.png"
    cv2.imwrite(str(flat), np.full((300, 300, 3), 180, np.uint8))
    upload(browser, "animate-image", flat)
    upload(browser, "animate-audio", SPEECH)
    time.sleep(2)
    browser.find_element("id", "animate-run").click()
    message = wait_for(browser, "(e => e && e.innerText.includes('Error') && e.innerText)(document.querySelector("
                                "'#error'))", 60)
    assert "no face found" in message and "Traceback" not in message
    assert len(message.strip().splitlines()) == 1
