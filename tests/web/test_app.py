"""The web API through FastAPI's test client: every endpoint, every way to send a picture, and
every way a request can be wrong (a JSON error with 408, 413, 415 or 422; never a 500)."""

import asyncio
import base64
import io
import json
import re

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient
from PIL import Image

from digitlab.errors import ModelFileError
from digitlab.predict import DEFAULT_MODEL, default_model, predict_file, read_number
from digitlab.web import app as web
from digitlab.web.app import MAX_BODY, MAX_PIXELS, Problem, check_pixels, create_app

PNG = {"content-type": "image/png"}


@pytest.fixture(scope="module")
def client():
    # raise_server_exceptions: any exception that would have been a 500 fails the test instead
    with TestClient(create_app(), raise_server_exceptions=True) as client:
        yield client


@pytest.fixture(scope="module")
def seven(drawings):
    return drawings["digit_png"](7)


def _data_url(data, media="image/png"):
    return f"data:{media};base64," + base64.b64encode(data).decode()


def _picture(url):
    """The grey pixels of a PNG data URL, as the API returns the 28x28 the network saw."""
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def _error(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    assert isinstance(message, str) and message and "\n" not in message
    return message


# ----------------------------------------------------------------------------- the endpoints


def test_health(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert client.head("/api/health").status_code == 200


def test_model_facts_come_from_the_model_files_metadata(client):
    facts = client.get("/api/model").json()
    model = default_model()
    assert facts["recipe"] == model.metadata["recipe"]["name"]
    assert facts["test_accuracy"] == pytest.approx(model.metadata["result"]["test_accuracy"])
    assert facts["parameters"] == model.count_params() > 0
    assert facts["file"] == DEFAULT_MODEL.name
    assert facts["input_shape"] == [1, 28, 28]


def test_a_model_file_given_by_path(drawings):
    with TestClient(create_app(str(DEFAULT_MODEL))) as other:
        assert other.get("/api/model").json()["file"] == DEFAULT_MODEL.name
        response = other.post("/api/predict", content=drawings["digit_png"](1), headers=PNG)
        assert response.json()["digit"] == 1


def test_a_bad_model_file_fails_when_the_app_is_made(tmp_path):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError):
        create_app(bad)


def test_the_page_and_its_files(client):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<canvas" in page.text
    for path, kind in (("static/app.js", "javascript"), ("static/style.css", "text/css")):
        assert path in page.text
        response = client.get("/" + path)
        assert response.status_code == 200 and kind in response.headers["content-type"]


def test_the_page_needs_nothing_from_elsewhere(client):
    """No CDN: every file the page loads comes from this server (it works offline)."""
    for path in ("/", "/static/app.js", "/static/style.css"):
        text = client.get(path).text
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), path
        assert "@import" not in text


def test_the_page_uses_pointer_events_and_the_json_api(client):
    script = client.get("/static/app.js").text
    for needed in ("pointerdown", "pointermove", "setPointerCapture", "api/predict", "api/model"):
        assert needed in script
    assert "touch-action: none" in client.get("/static/style.css").text
    assert "image-rendering: pixelated" in client.get("/static/style.css").text


# ----------------------------------------------------------------------------- predicting


def test_predict_a_png_body(client, seven):
    response = client.post("/api/predict", content=seven, headers=PNG)
    assert response.status_code == 200
    answer = response.json()
    assert answer["digit"] == 7
    assert len(answer["probabilities"]) == 10
    assert sum(answer["probabilities"]) == pytest.approx(1, abs=1e-4)
    assert answer["probability"] == pytest.approx(max(answer["probabilities"]), abs=1e-6)
    assert [guess["digit"] for guess in answer["top"]][0] == 7
    assert _picture(answer["image"]).shape == (28, 28)
    assert re.fullmatch(r"predict;dur=\d+\.\d\d", response.headers["server-timing"])


def test_the_api_gives_what_digitlab_predict_gives(client, seven):
    """Same preprocessing, same model, same numbers: the API adds nothing of its own."""
    answer = client.post("/api/predict", content=seven, headers=PNG).json()
    expected = predict_file(seven)
    assert answer["digit"] == expected.digit
    np.testing.assert_allclose(answer["probabilities"], expected.probabilities, atol=1e-6)
    seen = _picture(answer["image"]).astype(np.float32) / 255
    np.testing.assert_allclose(seen, expected.image, atol=1 / 255 + 1e-6)
    assert seen.max() == 1 and seen[0, 0] == 0          # white digit on black, as MNIST


@pytest.mark.parametrize("digit", [1, 7, 0])
def test_each_drawn_digit(client, drawings, digit):
    response = client.post("/api/predict", content=drawings["digit_png"](digit), headers=PNG)
    assert response.json()["digit"] == digit


@pytest.mark.parametrize("headers", [{"content-type": "application/octet-stream"}, {}],
                         ids=["octet-stream", "no-content-type"])
def test_predict_a_raw_body_of_any_declared_kind(client, seven, headers):
    response = client.post("/api/predict", content=seven, headers=headers)
    assert response.status_code == 200 and response.json()["digit"] == 7


def test_predict_a_jpeg(client, seven):
    buffer = io.BytesIO()
    Image.open(io.BytesIO(seven)).save(buffer, format="JPEG", quality=85)
    response = client.post("/api/predict", content=buffer.getvalue(), headers={"content-type": "image/jpeg"})
    assert response.json()["digit"] == 7


def test_predict_a_data_url_in_json(client, seven):
    response = client.post("/api/predict", json={"image": _data_url(seven)})
    assert response.status_code == 200 and response.json()["digit"] == 7


def test_base64_broken_into_lines_is_read(client, seven):
    lines = base64.encodebytes(seven).decode()  # a line break every 76 characters
    response = client.post("/api/predict", json={"image": "data:image/png;base64," + lines})
    assert response.status_code == 200 and response.json()["digit"] == 7


def test_predict_a_multipart_upload(client, seven):
    for field in ("image", "file"):
        response = client.post("/api/predict", files={field: ("seven.png", seven, "image/png")})
        assert response.status_code == 200 and response.json()["digit"] == 7


def _check_number(answer, expected):
    assert answer["mode"] == "number"
    assert answer["number"] == expected
    assert [digit["digit"] for digit in answer["digits"]] == [int(d) for d in expected]
    for digit in answer["digits"]:
        assert len(digit["probabilities"]) == 10
        assert _picture(digit["image"]).shape == (28, 28)
        assert set(digit["box"]) == {"top", "bottom", "left", "right"}
    assert answer["probability"] == pytest.approx(np.prod([d["probability"] for d in answer["digits"]]),
                                                  rel=1e-4)


def test_number_mode_by_query_json_and_form(client, drawings):
    number = drawings["number_png"]([1, 7, 0])
    assert read_number(number).text == "170"               # the library reads it: the API must agree
    _check_number(client.post("/api/predict?mode=number", content=number, headers=PNG).json(), "170")
    _check_number(client.post("/api/predict", json={"image": _data_url(number), "mode": "number"}).json(),
                  "170")
    _check_number(client.post("/api/predict", files={"image": ("n.png", number, "image/png")},
                              data={"mode": "number"}).json(), "170")


def test_digit_mode_is_the_default_and_can_be_named(client, seven):
    for path in ("/api/predict", "/api/predict?mode=digit", "/api/predict?mode=DIGIT"):
        answer = client.post(path, content=seven, headers=PNG).json()
        assert answer["mode"] == "digit" and answer["digit"] == 7 and "number" not in answer


# ----------------------------------------------------------------------------- limits and errors


def test_a_body_over_2_mb_with_an_honest_content_length(client):
    message = _error(client.post("/api/predict", content=b"\0" * (MAX_BODY + 1), headers=PNG), 413)
    assert "2 MB" in message


def test_a_body_over_2_mb_without_a_content_length(client):
    def chunks():                                         # chunked: no Content-Length at all
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"\0" * 65536

    _error(client.post("/api/predict", content=chunks(), headers=PNG), 413)


def test_a_body_over_2_mb_with_a_lying_content_length(client):
    """The header claims a few bytes; the bytes really read are counted and stop it."""
    def chunks():
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"\0" * 65536

    response = client.post("/api/predict", content=chunks(), headers={**PNG, "content-length": "100"})
    _error(response, 413)


def test_a_body_of_exactly_2_mb_is_read(client):
    # not an image, so refused, but for what it is and not for its size
    _error(client.post("/api/predict", content=b"\0" * MAX_BODY, headers=PNG), 422)


def test_a_json_body_over_2_mb(client):
    response = client.post("/api/predict", json={"image": "data:image/png;base64," + "A" * MAX_BODY})
    _error(response, 413)


@pytest.mark.parametrize("kind", ["text/plain", "application/pdf", "text/html; charset=utf-8"])
def test_a_body_declared_as_something_else_is_415(client, kind):
    message = _error(client.post("/api/predict", content=b"hello", headers={"content-type": kind}), 415)
    assert "not an image" in message


def test_a_data_url_of_something_else_is_415(client):
    _error(client.post("/api/predict", json={"image": _data_url(b"hello", "text/plain")}), 415)


@pytest.mark.parametrize("body", [b"hello, not a picture", b"\x89PNG\r\n\x1a\n" + b"\0" * 40],
                         ids=["text", "damaged-png"])
def test_bytes_that_are_not_an_image_are_422(client, body):
    assert "the image" in _error(client.post("/api/predict", content=body, headers=PNG), 422)


def test_a_truncated_png_is_422(client, seven):
    _error(client.post("/api/predict", content=seven[: len(seven) // 2], headers=PNG), 422)


def test_an_empty_body_is_422(client):
    assert "no image" in _error(client.post("/api/predict", content=b"", headers=PNG), 422)


@pytest.mark.parametrize("mode", ["digit", "number"])
def test_an_empty_drawing_is_422_no_digit_found(client, drawings, mode):
    blank = drawings["render"]([], (160, 160))
    message = _error(client.post(f"/api/predict?mode={mode}", content=blank, headers=PNG), 422)
    assert "no digit found" in message


def test_a_tiny_image_is_422(client):
    buffer = io.BytesIO()
    Image.new("L", (4, 4), 255).save(buffer, format="PNG")
    assert "too small" in _error(client.post("/api/predict", content=buffer.getvalue(), headers=PNG), 422)


def _blank_png(width, height):
    buffer = io.BytesIO()
    Image.new("1", (width, height), 1).save(buffer, format="PNG")   # megapixels in a few kB
    assert len(buffer.getvalue()) < MAX_BODY
    return buffer.getvalue()


def test_too_many_pixels_is_refused_before_decoding(client):
    message = _error(client.post("/api/predict", content=_blank_png(5000, 5000), headers=PNG), 422)
    assert "too many pixels (5000x5000)" in message


def test_a_decompression_bomb_is_refused_with_its_real_size(client):
    """Pillow itself refuses 400 megapixels before telling the size: the count in its message is
    reported, and no dimensions are made up."""
    message = _error(client.post("/api/predict", content=_blank_png(20000, 20000), headers=PNG), 422)
    assert "too many pixels (400,000,000)" in message
    assert f"{MAX_PIXELS}x" not in message


def test_a_decompression_bomb_of_unknown_size_invents_none(monkeypatch):
    def refuse(*args, **kwargs):
        raise Image.DecompressionBombError("could be decompression bomb DOS attack")

    monkeypatch.setattr(web.Image, "open", refuse)
    with pytest.raises(Problem) as refused:
        check_pixels(b"any picture")
    assert refused.value.status == 422
    assert f"too many pixels (more than {MAX_PIXELS:,})" in refused.value.message


@pytest.mark.parametrize("payload", [
    b"{not json",
    b"[1, 2]",
    b'{"picture": "data:image/png;base64,AAAA"}',
    b'{"image": 42}',
    b'{"image": "iVBORw0KGgo="}',                                   # base64 but not a data URL
    b'{"image": "data:image/png;base64,@@@not base64@@@"}',
    b'{"image": "data:image/png;base64,AAAA", "mode": 3}',
], ids=["broken", "a-list", "no-image-field", "not-a-string", "not-a-data-url", "bad-base64", "bad-mode"])
def test_bad_json_is_422(client, payload):
    _error(client.post("/api/predict", content=payload, headers={"content-type": "application/json"}), 422)


def test_an_unknown_mode_is_422(client, seven):
    assert "mode" in _error(client.post("/api/predict?mode=letters", content=seven, headers=PNG), 422)


def test_a_long_unknown_mode_is_quoted_short(client, seven):
    long = "x" * 5000
    responses = [
        client.post(f"/api/predict?mode={long}", content=seven, headers=PNG),
        client.post("/api/predict", json={"image": _data_url(seven), "mode": long}),
        client.post("/api/predict", files={"image": ("7.png", seven, "image/png")}, data={"mode": long}),
    ]
    for response in responses:
        message = _error(response, 422)
        assert f"unknown mode '{'x' * 40}'..." in message
        assert len(message) < 120


def test_a_long_content_type_is_quoted_short(client):
    kind = {"content-type": "text/" + "x" * 5000}
    message = _error(client.post("/api/predict", content=b"hello", headers=kind), 415)
    assert len(message) < 300 and "x" * 41 not in message


def test_a_form_without_the_file_is_422(client):
    _error(client.post("/api/predict", data={"mode": "digit"}, files={"other": ("x.txt", b"x", "text/plain")}),
           422)
    _error(client.post("/api/predict", files={"image": (None, "just text")}), 422)   # a field, not a file
    _error(client.post("/api/predict", data={"image": "just text"}), 415)             # urlencoded: no file


def test_a_broken_multipart_body_is_a_json_error(client):
    response = client.post("/api/predict", content=b"--x\r\ngarbage",
                           headers={"content-type": "multipart/form-data; boundary=x"})
    assert 400 <= response.status_code < 500
    assert "error" in response.json()


def test_a_non_numeric_content_length_is_400(client, seven):
    _error(client.post("/api/predict", content=seven, headers={**PNG, "content-length": "lots"}), 400)


# ----------------------------------------------------------------------------- bodies that never arrive whole


def _post(app, receive, timeout=10):
    """The messages ``app`` sends for a POST /api/predict of a PNG that claims 1000 bytes, its body
    read from ``receive`` (an ASGI call, as a server makes it, with any exception raised here)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/api/predict", "raw_path": b"/api/predict", "root_path": "",
             "query_string": b"", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
             "headers": [(b"content-type", b"image/png"), (b"content-length", b"1000")]}
    sent = []

    async def send(message):
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout))
    return sent


def _ten_bytes_then(after):
    """An ASGI receive giving 10 bytes of the body, then what ``after`` gives."""
    messages = iter([{"type": "http.request", "body": b"0123456789", "more_body": True}])

    async def receive():
        return next(messages, None) or await after()

    return receive


def test_a_body_shorter_than_its_content_length_is_408(client, monkeypatch):
    """The rest of the body never comes: the read gives up after BODY_TIMEOUT (shortened here)."""
    async def never():
        await asyncio.Event().wait()

    monkeypatch.setattr(web, "BODY_TIMEOUT", 0.05)
    start, body = _post(client.app, _ten_bytes_then(never))[:2]
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
    message = json.loads(body["body"])["error"]
    assert "incomplete" in message and "\n" not in message


def test_a_client_that_disconnects_mid_body_ends_the_request_quietly(client, caplog):
    """No exception (a server logs one as a traceback); the answer is for no one, but well formed."""
    async def gone():
        return {"type": "http.disconnect"}

    sent = _post(client.app, _ten_bytes_then(gone))
    assert 400 <= sent[0]["status"] < 500
    assert not sent[-1].get("more_body", False)
    assert not [record for record in caplog.records if record.levelname in ("ERROR", "CRITICAL")]


def test_unknown_routes_and_methods_answer_json(client):
    _error(client.get("/api/predict"), 405)
    _error(client.get("/api/nothing-here"), 404)


def test_the_server_keeps_answering_after_bad_requests(client, seven, drawings):
    bad = [
        dict(content=b"\0" * (MAX_BODY + 10), headers=PNG),
        dict(content=b"hello", headers={"content-type": "text/plain"}),
        dict(content=b"hello", headers=PNG),
        dict(content=drawings["render"]([], (64, 64)), headers=PNG),
        dict(content=b"{", headers={"content-type": "application/json"}),
        dict(content=seven[:100], headers=PNG),
    ]
    for request in bad * 3:
        assert 400 <= client.post("/api/predict", **request).status_code < 500
    assert client.get("/api/health").status_code == 200
    assert client.post("/api/predict", content=seven, headers=PNG).json()["digit"] == 7


# ----------------------------------------------------------------------------- headers


def test_no_cors_wildcard(client, seven):
    origin = {"origin": "https://example.com"}
    responses = [
        client.get("/api/health", headers=origin),
        client.post("/api/predict", content=seven, headers={**PNG, **origin}),
        client.options("/api/predict", headers={**origin, "access-control-request-method": "POST"}),
    ]
    for response in responses:
        assert "access-control-allow-origin" not in response.headers
        assert "access-control-allow-credentials" not in response.headers


def test_a_strict_content_security_policy(client):
    headers = client.get("/").headers
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert headers["x-content-type-options"] == "nosniff"


def test_the_json_api_describes_itself(client):
    schema = client.get("/api/openapi.json").json()
    assert {"/api/predict", "/api/model", "/api/health"} <= set(schema["paths"])
    assert json.dumps(schema)
