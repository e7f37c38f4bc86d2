"""The web page in a real browser: Debian's chromium driven by Playwright, against a
uvicorn server on 127.0.0.1. Skipped (with the reason) where either is missing; CI
installs both (.ci/run). Never downloads a browser."""

import io
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CHROMIUM = os.environ.get("DAEKIT_CHROMIUM", "/usr/bin/chromium")


def missing(reason):
    """Skip, except in CI (DAEKIT_REQUIRE_BROWSER=1, set by .ci/run), where it is a failure."""
    if os.environ.get("DAEKIT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
    missing(f"no chromium at {CHROMIUM} (apt-get install chromium)")
try:
    from playwright import sync_api
except ImportError:
    missing("Playwright for Python is not installed (pip install playwright)")
pytest.importorskip("fastapi")

from serve_models import RunningServer, shared_models  # noqa: E402

from daekit.serve import Limits, create_app  # noqa: E402

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = os.environ.get("DAEKIT_E2E_SHOTS")  # a folder to keep screenshots in, for a human to look at


@pytest.fixture(scope="module")
def server():
    app = create_app(shared_models(), Limits(max_upload_mb=2))
    with RunningServer(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    """A fresh page on the server that refuses (and records) any request elsewhere."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    pg.outside, pg.errors = [], []

    def guard(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            pg.outside.append(route.request.url)
            route.abort()

    pg.route("**/*", guard)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.goto(server + "/")
    sync_api.expect(pg.locator("#status")).to_contain_text("loaded:")
    yield pg
    assert pg.outside == [], f"the page asked for {pg.outside}"
    assert pg.errors == [], f"JavaScript errors: {pg.errors}"
    context.close()


def shot(page, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def blob_bytes(page, selector, attr) -> bytes:
    data = page.evaluate(
        """async ([sel, attr]) => {
        const r = await fetch(document.querySelector(sel)[attr]);
        return Array.from(new Uint8Array(await r.arrayBuffer()));
    }""",
        [selector, attr],
    )
    return bytes(data)


def test_image_before_after_and_download(page, tmp_path):
    from PIL import Image

    y, x = np.mgrid[0:96, 0:128]
    img = np.clip(((x + y) % 64) * 4 + np.random.default_rng(0).normal(0, 20, x.shape), 0, 255).astype(np.uint8)
    Image.fromarray(np.stack([img, img[::-1], 255 - img], -1)).save(tmp_path / "noisy.png")
    page.set_input_files("#image-input", str(tmp_path / "noisy.png"))
    sync_api.expect(page.locator("#image-download")).to_be_visible()
    page.wait_for_function(
        "document.querySelector('#image-after').naturalWidth > 0 && "
        "document.querySelector('#image-before').naturalWidth > 0"
    )
    assert page.evaluate(
        "[document.querySelector('#image-after').naturalWidth, document.querySelector('#image-after').naturalHeight]"
    ) == [128, 96]
    sync_api.expect(page.locator("#image-caption")).to_contain_text("color")
    out = Image.open(io.BytesIO(blob_bytes(page, "#image-download", "href")))
    assert out.format == "PNG" and out.size == (128, 96) and out.mode == "RGB"
    shot(page, "image")


def test_audio_before_after_and_download(page, tmp_path):
    import soundfile as sf

    t = np.arange(12000) / 16000
    sf.write(
        tmp_path / "noisy.wav",
        (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.random.default_rng(0).standard_normal(t.size)).astype(
            np.float32
        ),
        16000,
    )
    page.click("button[data-tab=audio]")
    page.set_input_files("#audio-input", str(tmp_path / "noisy.wav"))
    sync_api.expect(page.locator("#audio-download")).to_be_visible()
    page.wait_for_function("document.querySelector('#audio-after').readyState >= 1")
    assert page.evaluate("document.querySelector('#audio-after').duration") == pytest.approx(0.75, abs=0.01)
    wave, sr = sf.read(io.BytesIO(blob_bytes(page, "#audio-download", "href")))
    assert sr == 16000 and wave.shape == (12000,)
    shot(page, "audio")


def test_csv_scores_are_plotted_with_flagged_points(page, tmp_path):
    v = np.sin(np.arange(300) / 7.0)
    v[200] += 4.0
    (tmp_path / "series.csv").write_text(
        "timestamp,value\n" + "".join(f"2024-01-01 {i // 60:02d}:{i % 60:02d},{x:.5f}\n" for i, x in enumerate(v))
    )
    page.click("button[data-tab=anomaly]")
    page.check("#table-fit")
    page.fill("#table-window", "16")
    page.fill("#table-contamination", "0.02")
    page.set_input_files("#table-input", str(tmp_path / "series.csv"))
    sync_api.expect(page.locator("#anomaly-summary")).to_contain_text(
        "300 rows scored by a detector fitted on this file"
    )
    flags = page.locator("#plot svg circle.flag")
    assert flags.count() >= 2  # each flagged step is marked on both panels
    assert page.locator("#plot svg path.scores").count() == 1
    sync_api.expect(page.locator("#table-download")).to_be_visible()
    shot(page, "anomaly")


def test_a_dropped_bad_file_shows_the_servers_sentence(page):
    # Dropped, not chosen: a synthetic drop event carrying a File, as a drag from the desktop.
    page.evaluate("""() => {
        const dt = new DataTransfer();
        dt.items.add(new File(["this is not an image at all"], "notes.png", { type: "image/png" }));
        document.querySelector("#image-drop").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true }));
    }""")
    sync_api.expect(page.locator("#image-error")).to_contain_text("415: the upload is not an image")
    sync_api.expect(page.locator("#image-result")).to_be_hidden()
