"""The live demo page in a real browser (Debian's headless Chromium): its fake microphone plays speech with pauses,
the page streams it over WebRTC, and what it plays back is measured where the user would see and hear it: frames
drawn from the received video, each with the level of the received sound at that moment. The mouth opens while
the speech plays and is closed in its pauses; Stop hangs up and the server's stream ends."""

from __future__ import annotations

import base64
import time

import numpy as np
import pytest
from conftest import write_wav
from live_media import decode_jpeg, mouth_openings, open_streams, speech_with_pauses
from test_serve_browser import CHROMEDRIVER, CHROMIUM, server, wait_for, webdriver  # noqa: F401 - server: fixture

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromedriver")]
pytest.importorskip("aiortc", reason="needs aiortc (the [serve] extra)")

STEP_MS = 40  # between captures
CAPTURE = """
const STEP_MS = arguments[1];
window.captures = [];
const canvas = document.createElement("canvas"), video = document.getElementById("video");
canvas.width = video.videoWidth; canvas.height = video.videoHeight;
const started = performance.now();
window.capturing = setInterval(() => {
  canvas.getContext("2d").drawImage(video, 0, 0);
  window.captures.push({t: performance.now() - started, level: live.level(),
                        image: canvas.toDataURL("image/jpeg", 0.92)});
  if (performance.now() - started > arguments[0] * 1000) clearInterval(window.capturing);
}, STEP_MS);
"""


@pytest.fixture(scope="module")
def speaking_browser(tmp_path_factory):
    """Chromium whose microphone plays the example speech with pauses, over and over."""
    from selenium.webdriver.chrome.service import Service

    samples = speech_with_pauses(48000)
    wav = write_wav(tmp_path_factory.mktemp("mic") / "speech.wav", samples, 48000)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--autoplay-policy=no-user-gesture-required", "--use-fake-ui-for-media-stream",
                 "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={wav}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(1280, 1200)
    yield driver, len(samples) / 48000
    driver.quit()


def started(browser, url: str) -> None:
    """The demo page, started, once the first frames play."""
    browser.find_element("id", "start").click()
    wait_for(browser, "(v => v.readyState >= 2 && v.currentTime > 0.5 && v.videoWidth)(document.getElementById"
                      "('video'))", 120)
    assert open_streams(url) == 1


def recorded(browser, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """The mouth opening in frames of the received video captured every :data:`STEP_MS` for ``seconds``, and the
    level (dB) of the received sound at each capture."""
    browser.execute_script(CAPTURE, seconds, STEP_MS)
    time.sleep(seconds + 0.5)
    captures = browser.execute_script("return window.captures")
    pictures = [decode_jpeg(base64.b64decode(c["image"].split(",", 1)[1])) for c in captures]
    opening = mouth_openings(pictures)
    assert len(captures) > seconds * 1000 / STEP_MS * 0.8 and np.isfinite(opening).mean() > 0.95
    return opening, np.array([c["level"] for c in captures])


def stopped(browser, url: str) -> None:
    """Stop pressed: the server's stream ends."""
    browser.find_element("id", "stop").click()
    for _ in range(50):
        if open_streams(url) == 0:
            break
        time.sleep(0.2)
    assert open_streams(url) == 0


def test_the_microphone_drives_the_face_in_step_with_the_speech_played_back(server, speaking_browser):  # noqa: F811
    browser, loop_s = speaking_browser
    browser.get(server + "/live")
    started(browser, server)
    opening, level = recorded(browser, loop_s + 0.5)
    latency, buffer = (browser.find_element("id", name).text for name in ("latency", "buffer"))
    stopped(browser, server)
    loud, quiet = level > -35, level < -70
    print(f"{len(level)} captures; server latency {latency} ms, browser buffer {buffer} ms; opening while loud",
          np.nanpercentile(opening[loud], [25, 50, 75]), "while quiet", np.nanpercentile(opening[quiet], [50, 90]))
    assert loud.sum() > 60 and quiet.sum() > 30
    assert np.nanmedian(opening[quiet]) < 0.05
    assert np.nanpercentile(opening[loud], 75) > 2 * np.nanmedian(opening[quiet]) + 0.05
    # in step: the mouth follows the sound heard with it (a user notices more than about 120 ms either way)
    lags = {lag: np.corrcoef(level[max(0, lag):len(level) + min(0, lag)],
                             np.nan_to_num(opening[max(0, -lag):len(opening) - max(0, lag)]))[0, 1]
            for lag in range(-8, 9)}
    best = max(lags, key=lags.get)
    print(f"the mouth best matches the sound {best * STEP_MS} ms later; correlation by lag (ms):",
          {k * STEP_MS: round(v, 2) for k, v in lags.items()})
    assert abs(best * STEP_MS) <= 120


def test_typed_text_is_spoken_by_the_face_without_a_microphone(server, speaking_browser):  # noqa: F811
    browser, _ = speaking_browser
    browser.get(server + "/live")
    browser.find_element("id", "microphone").click()
    started(browser, server)
    wait_for(browser, "!document.getElementById('say').disabled", 30)
    browser.find_element("id", "text").send_keys("Hello! My name is Grace. Welcome to talking head.")
    browser.find_element("id", "say").click()
    opening, level = recorded(browser, 6.0)  # the text lasts about 3.5 s
    stopped(browser, server)
    loud, quiet = level > -35, level < -70
    print("opening while the text is heard", np.nanpercentile(opening[loud], [25, 50, 75]), "in silence",
          np.nanpercentile(opening[quiet], [50, 90]))
    assert loud.sum() > 30 and quiet.sum() > 30  # silence after the text
    assert np.nanmedian(opening[quiet]) < 0.05
    assert np.nanpercentile(opening[loud], 75) > 2 * np.nanmedian(opening[quiet]) + 0.05
