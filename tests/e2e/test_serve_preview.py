"""/v1/image/preview, the route the web page asks for a "before" image the browser cannot
show (TIFF): through FastAPI's test client, so it runs where no browser is installed."""

import io

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient

from daekit.serve import Limits, create_app


@pytest.fixture(scope="module")
def client():
    # No model is needed: the preview only decodes and re-encodes, so it works before any is loaded.
    with TestClient(create_app({}, Limits(max_pixels=200 * 200))) as c:
        yield c


def tiff(arr) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="TIFF")
    return buf.getvalue()


def preview(client, data, ctype="image/tiff"):
    return client.post("/v1/image/preview", files={"file": ("scan.tiff", data, ctype)})


@pytest.mark.parametrize(
    "arr",
    [
        (np.random.default_rng(0).random((30, 40)) * 65535).astype(np.uint16),
        (np.random.default_rng(0).random((30, 40, 3)) * 255).astype(np.uint8),
    ],
    ids=["gray16", "rgb8"],
)
def test_a_tiff_comes_back_as_the_same_pixels_in_png(client, arr):
    from PIL import Image

    r = preview(client, tiff(arr))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    out = Image.open(io.BytesIO(r.content))
    assert out.format == "PNG" and out.size == (40, 30)
    np.testing.assert_array_equal(np.asarray(out), arr)


@pytest.mark.parametrize(
    ("data", "ctype", "status", "words"),
    [
        (b"not an image", "image/tiff", 415, "not an image"),
        (b"", "image/tiff", 400, "empty"),
        (tiff(np.zeros((300, 300), np.uint8)), "image/tiff", 413, "over the limit"),
        (b"GIF89a", "text/plain", 415, None),
    ],
    ids=["garbage", "empty", "too-many-pixels", "wrong-type"],
)
def test_a_bad_upload_gets_one_sentence(client, data, ctype, status, words):
    r = preview(client, data, ctype)
    assert r.status_code == status
    detail = r.json()["detail"]
    assert isinstance(detail, str) and detail.endswith(".") and "\n" not in detail
    if words:
        assert words in detail


def test_the_route_is_in_the_schema_the_docs_page_renders(client):
    assert "post" in client.get("/openapi.json").json()["paths"]["/v1/image/preview"]
