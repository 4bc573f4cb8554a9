"""The page in a real headless Chromium: draw digits with the mouse (and a finger) as a person
does, and find the page showing what was drawn. Driven by Playwright's Python API with Debian's
``chromium`` (installed by .ci/run); skipped, with the reason, where either is missing.

Each test saves a screenshot in its tmp_path (``pytest --basetemp=DIR`` keeps them in DIR).
"""

import io
import math
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
        "--no-first-run", "--no-default-browser-check", "--mute-audio"]
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield browser
        browser.close()


def _open(browser, url, **context_options):
    """A fresh page on the server, recording page errors and any request that leaves it."""
    context = browser.new_context(reduced_motion="reduce", **context_options)   # bars without animation
    page = context.new_page()
    page.problems = []
    page.sent = []                                   # the pictures sent to api/predict
    page.on("request", lambda request: "api/predict" in request.url
            and page.sent.append(request.post_data_buffer))
    page.on("pageerror", lambda error: page.problems.append(f"page error: {error}"))
    page.on("console", lambda message: message.type == "error"
            and page.problems.append(f"console: {message.text}"))
    server = urlsplit(url).netloc

    def only_this_server(route):
        if urlsplit(route.request.url).netloc in (server, "") or route.request.url.startswith("data:"):
            route.continue_()
        else:
            page.problems.append(f"request elsewhere: {route.request.url}")
            route.abort()

    page.route("**/*", only_this_server)
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    page.wait_for_function("() => document.getElementById('model-facts').textContent.includes('parameters')")
    return context, page


@pytest.fixture
def page(browser, live_server):
    context, page = _open(browser, live_server, viewport={"width": 1100, "height": 860})
    yield page
    problems = page.problems
    context.close()
    assert not problems


def _canvas_points(page, stroke):
    box = page.locator("#canvas").bounding_box()
    return [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]


def _mouse_stroke(page, stroke, release=True):
    """Press, move through the points in small steps as a hand does, release."""
    points = _canvas_points(page, stroke)
    page.mouse.move(*points[0])
    page.mouse.down()
    for (x0, y0), (x1, y1) in pairwise(points):
        page.mouse.move(x1, y1, steps=max(1, round(math.hypot(x1 - x0, y1 - y0) / 5)))
    if release:
        page.mouse.up()


def _draw_digit(page, drawings, digit, left=0.15, top=0.12, width=0.7, height=0.76):
    for stroke in drawings["place"](drawings["DIGITS"][digit], left, top, width, height):
        _mouse_stroke(page, stroke)


def _answer(page):
    """The answer shown once the page has caught up with the drawing."""
    page.wait_for_function("""() => {
        const result = document.getElementById('result');
        return result.dataset.pending === 'false' && result.dataset.state !== 'empty';
    }""")
    return page.locator("#answer").inner_text().strip()


def _check_digit_shown(page, digit):
    assert page.locator("#result").get_attribute("data-state") == "done"
    best = page.locator(".bar.best")
    assert best.count() == 1 and best.locator(".label").inner_text() == str(digit)
    assert page.locator(".bar").count() == 10
    assert page.locator("#seen").is_visible()
    assert page.locator("#seen").evaluate("image => [image.naturalWidth, image.naturalHeight]") == [28, 28]
    assert page.locator("#seen").evaluate("image => getComputedStyle(image).imageRendering") == "pixelated"


@pytest.mark.parametrize("digit", [1, 7, 0])
def test_draw_a_digit_with_the_mouse(page, drawings, digit, tmp_path):
    _draw_digit(page, drawings, digit)
    assert _answer(page) == str(digit)
    _check_digit_shown(page, digit)
    page.screenshot(path=tmp_path / f"draw-{digit}.png", full_page=True)


def test_the_drawing_is_sent_as_a_small_png_white_on_black(page, drawings):
    """MNIST's convention, so that preprocessing has no ink colour to guess; small, so fast."""
    _draw_digit(page, drawings, 7)
    _answer(page)
    picture = Image.open(io.BytesIO(page.sent[-1]))
    assert picture.format == "PNG" and max(picture.size) == 160
    grey = np.asarray(picture.convert("L"))
    assert grey[:5, :5].max() < 10 and grey.max() > 200        # black paper, (nearly) white ink
    assert (grey > 128).mean() < 0.3


def test_the_answer_updates_while_drawing(page, drawings):
    """Half a 0, the button still held: an answer comes while the pen is on the paper."""
    loop = drawings["place"](drawings["DIGITS"][0], 0.15, 0.12, 0.7, 0.76)[0]
    _mouse_stroke(page, loop[: len(loop) * 3 // 5], release=False)
    page.wait_for_function("() => document.getElementById('result').dataset.state === 'done'")
    _mouse_stroke(page, loop[len(loop) * 3 // 5 - 1:], release=True)
    assert _answer(page) == "0"


def test_clear_and_draw_again(page, drawings):
    _draw_digit(page, drawings, 7)
    assert _answer(page) == "7"
    page.get_by_role("button", name="Clear").click()
    assert page.locator("#answer").inner_text() == "–"
    assert page.locator("#result").get_attribute("data-state") == "empty"
    assert page.locator(".bar.best").count() == 0
    _draw_digit(page, drawings, 1)
    assert _answer(page) == "1"


def test_stray_dots_get_an_answer_not_a_broken_page(page):
    box = page.locator("#canvas").bounding_box()
    page.mouse.click(box["x"] + 5, box["y"] + 5)
    page.mouse.click(box["x"] + box["width"] - 5, box["y"] + box["height"] - 5)
    _answer(page)
    # preprocessing reads them as some digit or as no digit: either way the page says so calmly
    # (the fixture checks that no script error happened)
    assert page.locator("#result").get_attribute("data-state") in ("done", "error")


def test_number_mode_reads_digits_in_a_row(page, drawings, tmp_path):
    page.get_by_role("radio", name="A number").click()
    assert page.locator("#sheet").get_attribute("data-mode") == "number"
    for index, digit in enumerate([1, 7, 0]):
        _draw_digit(page, drawings, digit, left=(index + 0.15) / 3, top=0.15, width=0.6 / 3, height=0.7)
    assert _answer(page) == "170"
    tiles = page.locator(".tile")
    assert tiles.count() == 3
    assert [tiles.nth(i).locator(".tile-digit").inner_text() for i in range(3)] == ["1", "7", "0"]
    tiles.nth(1).click()
    assert page.locator(".bar.best .label").inner_text() == "7"
    page.screenshot(path=tmp_path / "number-170.png", full_page=True)


def test_upload_a_photo(page, drawings, tmp_path):
    photo = tmp_path / "seven.png"
    photo.write_bytes(drawings["digit_png"](7, size=600))
    page.set_input_files("#upload", str(photo))
    assert _answer(page) == "7"
    _check_digit_shown(page, 7)


def test_on_a_phone_a_finger_draws(browser, live_server, drawings, tmp_path):
    """A phone-sized screen with touch: the layout fits the width, the buttons are big enough to
    tap, and a finger (real touch events, so pointerType "touch") draws a 7."""
    context, page = _open(browser, live_server, viewport={"width": 390, "height": 844},
                          device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1]
        for name in ("Clear", "Upload photo"):
            assert page.get_by_text(name).bounding_box()["height"] >= 44
        assert page.locator(".modes button").first.bounding_box()["height"] >= 44
        session = context.new_cdp_session(page)
        for stroke in drawings["place"](drawings["DIGITS"][7], 0.15, 0.12, 0.7, 0.76):
            points = _canvas_points(page, stroke)
            fine = [(x0 + (x1 - x0) * t / 8, y0 + (y1 - y0) * t / 8)
                    for (x0, y0), (x1, y1) in pairwise(points) for t in range(8)] + [points[-1]]
            session.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [_touch(*fine[0])]})
            for x, y in fine[1:]:
                session.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [_touch(x, y)]})
            session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        assert page.evaluate("() => window.scrollY") == 0            # the finger drew; the page did not scroll
        assert _answer(page) == "7"
        page.screenshot(path=tmp_path / "phone-7.png", full_page=True)
        assert not page.problems
    finally:
        context.close()


def _touch(x, y):
    return {"x": x, "y": y, "radiusX": 6, "radiusY": 6, "force": 1, "id": 1}
