"""The web API: HTTP in, one digitlab.predict call, JSON out. No recognition logic of its own.

    POST /api/predict   a picture -> the digit, its ten probabilities and the 28x28 the network saw
                        body: the image itself (Content-Type image/... or application/octet-stream),
                        JSON {"image": "data:image/png;base64,...", "mode": "number"},
                        or a multipart/form-data upload in a field named "image" (or "file");
                        ?mode=number (or the JSON or form field) reads several digits in a row
    GET  /api/model     the model: recipe, test accuracy, parameter count (from its file's metadata)
    GET  /api/health    {"status": "ok"} (HEAD too)
    GET  /              the draw-a-digit page (static/index.html, app.js, style.css)

Every error is JSON, ``{"error": "one line"}``: 408 for a body that does not arrive whole within
BODY_TIMEOUT seconds, 413 for a body over 2 MB (whatever Content-Length claims), 415 for a body
that is declared as something other than an image, 422 for a picture digitlab cannot read or that
holds no digit. The model is loaded once, when the app is made.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import re
import time
from contextlib import aclosing
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from digitlab.errors import ImageError
from digitlab.predict import DEFAULT_MODEL, get_model, predict_file, read_number

MAX_BODY = 2 * 1024 * 1024      # bytes in a request body: a drawing is a few kB,
                                # a phone photo shrunk by the page ~0.3 MB
MAX_PIXELS = 16_000_000         # pixels in a picture: refused before decoding (a 16-megapixel photo passes)
# seconds to receive a whole body: without a bound, a client that sends less than its Content-Length
# (or stalls) holds its connection and this request forever; 2 MB in 15 s needs only ~140 kB/s
BODY_TIMEOUT = 15.0
QUOTED = 40                     # characters of a client's value quoted back in an error message
TOP = 3                         # guesses listed per digit (all ten probabilities are sent too)
MODES = ("digit", "number")
STATIC = Path(__file__).resolve().parent / "static"
NAME = "the image"              # how the picture is named in error messages
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                                 b"script-src 'self'; connect-src 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class Problem(Exception):
    """A request the API refuses: an HTTP status, a one-line message for the JSON body and any
    headers the answer needs."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


def create_app(model=None) -> FastAPI:
    """The ASGI app serving ``model`` (a model, a model file's path, or None for the shipped one)."""
    given, model = model, get_model(model)
    facts = model_facts(model, given)

    app = FastAPI(title="digitlab", version=_version(), docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json")
    app.add_middleware(_SecurityHeaders)

    @app.exception_handler(Problem)
    async def refused(request, problem: Problem):
        return JSONResponse({"error": problem.message}, status_code=problem.status,
                            headers=problem.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request, error: HTTPException):
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code,
                            headers=getattr(error, "headers", None))

    @app.api_route("/api/health", methods=["GET", "HEAD"])  # HEAD: what many uptime checks send
    async def health():
        return {"status": "ok"}

    @app.get("/api/model")
    async def model_info():
        return facts

    @app.post("/api/predict")
    async def predict(request: Request):
        picture, mode = await read_request(request)

        def read():
            check_pixels(picture)
            source = _named(picture)  # requests are read side by side: a forward pass reads nothing back
            if mode == "number":
                return number_json(read_number(source, model, TOP))
            return {"mode": "digit", **prediction_json(predict_file(source, model, TOP))}

        started = time.perf_counter()
        try:
            answer = await run_in_threadpool(read)
        except ImageError as error:
            raise Problem(422, str(error)) from None
        took = 1000 * (time.perf_counter() - started)         # the server's own share, for benchmarks
        return JSONResponse(answer, headers={"server-timing": f"predict;dur={took:.2f}"})

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


# ----------------------------------------------------------------------------- HTTP -> picture


async def read_request(request: Request) -> tuple[bytes, str]:
    """The picture's bytes and the mode, from a raw body, a JSON data URL or a multipart upload."""
    body = await read_body(request)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    mode = request.query_params.get("mode")
    if kind == "application/json":
        picture, mode = _from_json(body, mode)
    elif kind == "multipart/form-data":
        picture, mode = await _from_form(request, body, mode)
    elif kind in ("", "application/octet-stream") or kind.startswith("image/"):
        picture = body
    else:
        raise Problem(415, f"a body of type {quoted(kind)} is not an image: send the image itself "
                           "(image/png, image/jpeg, ...), JSON {\"image\": \"data:image/png;base64,...\"} "
                           "or a multipart upload")
    if not picture:
        raise Problem(422, "the request holds no image: send a PNG, JPEG, ... picture of a digit")
    mode = (mode or "digit").lower()
    if mode not in MODES:
        raise Problem(422, f"unknown mode {quoted(mode)}: use 'digit' or 'number'")
    return picture, mode


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The whole body, refused with 413 as soon as it passes ``limit`` bytes, whatever the
    Content-Length header claims (it is checked first, and then the bytes really received), and
    with 408 if it has not all arrived after BODY_TIMEOUT seconds."""
    too_large = f"the request is larger than {limit // (1024 * 1024)} MB: send a smaller picture"
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise Problem(400, "the Content-Length header is not a number")
        if int(declared) > limit:
            raise Problem(413, too_large)
    chunks, size = [], 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT), aclosing(request.stream()) as stream:
            async for chunk in stream:
                size += len(chunk)
                if size > limit:
                    raise Problem(413, too_large)
                chunks.append(chunk)
    except TimeoutError:                    # the rest of the body may still come: close, not keep alive
        raise Problem(408, f"the upload was incomplete: the whole body did not arrive within "
                           f"{BODY_TIMEOUT:g} seconds", {"connection": "close"}) from None
    except ClientDisconnect:                # the answer goes nowhere (the server drops it), quietly
        raise Problem(400, "the client disconnected before sending the whole body") from None
    return b"".join(chunks)


def _from_json(body: bytes, mode):
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Problem(422, "the body is not valid JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("image"), str):
        raise Problem(422, 'the JSON needs an "image" field holding a data URL '
                           '("data:image/png;base64,...")')
    mode = payload.get("mode", mode)
    if mode is not None and not isinstance(mode, str):
        raise Problem(422, "the mode must be 'digit' or 'number'")
    return decode_data_url(payload["image"]), mode


def decode_data_url(url: str) -> bytes:
    """The bytes of a base64 ``data:image/...;base64,...`` URL; 415 for another media type."""
    header, comma, data = url.partition(",")
    if not header.startswith("data:") or not comma or not header.endswith(";base64"):
        raise Problem(422, 'the "image" field must be a base64 data URL: "data:image/png;base64,..."')
    media = header[len("data:"):-len(";base64")].split(";")[0].strip().lower()
    if media and not media.startswith("image/"):
        raise Problem(415, f"the data URL holds {quoted(media)}, not an image")
    try:
        return base64.b64decode("".join(data.split()), validate=True)  # line breaks, as some encoders write
    except (binascii.Error, ValueError):
        raise Problem(422, "the data URL's base64 is damaged") from None


async def _from_form(request: Request, body: bytes, mode):
    async def replay():
        return {"type": "http.request", "body": body, "more_body": False}

    async with Request(request.scope, replay).form(max_files=1, max_fields=8) as form:
        upload = form.get("image") or form.get("file")
        if upload is None or isinstance(upload, str):
            raise Problem(422, 'the upload needs the picture as a file in a field named "image"')
        field = form.get("mode")
        return await upload.read(), (field if isinstance(field, str) else mode)


def check_pixels(picture: bytes, limit: int = MAX_PIXELS):
    """Refuse a picture of more than ``limit`` pixels from its header, before it is decoded (a
    small file can decode to a huge image); anything unreadable is left to digitlab to explain."""
    try:
        with Image.open(io.BytesIO(picture)) as image:
            width, height = image.size
    except Image.DecompressionBombError as error:
        raise Problem(422, too_many_pixels(bomb_pixels(error) or f"more than {limit:,}", limit)) from None
    except Exception:                       # not an image, damaged...: preprocess says which
        return
    if width * height > limit:
        raise Problem(422, too_many_pixels(f"{width}x{height}", limit))


def too_many_pixels(size: str, limit: int) -> str:
    """The message for a picture of ``size`` ("5000x5000", "400,000,000", ...) pixels."""
    return f"{NAME}: too many pixels ({size}): the server takes pictures of up to {limit:,} pixels"


def bomb_pixels(error: Exception) -> str | None:
    """The real pixel count in Pillow's DecompressionBombError ("Image size (400000000 pixels)
    exceeds limit ..."), as "400,000,000"; None if its message says none. Pillow raises before it
    hands back the image, so its width and height are not to be had."""
    found = re.search(r"\((\d+) pixels\)", str(error))
    return f"{int(found.group(1)):,}" if found else None


def quoted(value: str, length: int = QUOTED) -> str:
    """A client's value quoted for an error message, cut to its first ``length`` characters."""
    return repr(value[:length]) + ("..." if len(value) > length else "")


def _named(picture: bytes):
    """The bytes as a file whose name (used in digitlab's messages) is "the image"."""
    file = io.BytesIO(picture)
    file.name = NAME
    return file


# ----------------------------------------------------------------------------- results -> JSON


def prediction_json(prediction) -> dict:
    """A Prediction as the page uses it: digit, probability, top guesses, all ten probabilities,
    and the 28x28 the network saw as a PNG data URL (white digit on black, as in MNIST)."""
    facts = prediction.to_dict()
    facts.pop("file", None)
    facts["probabilities"] = [round(float(p), 6) for p in prediction.probabilities]
    facts["image"] = png_data_url(prediction.image)
    return facts


def number_json(reading) -> dict:
    return {"mode": "number", "number": reading.text, "probability": round(reading.probability, 6),
            "digits": [prediction_json(digit) for digit in reading.digits]}


def png_data_url(image: np.ndarray) -> str:
    """A grey image in [0, 1] as a ``data:image/png;base64,...`` URL."""
    pixels = np.clip(np.rint(np.asarray(image, np.float32) * 255), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def model_facts(model, source=None) -> dict:
    """What /api/model tells: the recipe, its test accuracy and the parameter count, from the
    model file's metadata (a model built in Python may have none)."""
    metadata = getattr(model, "metadata", None) or {}
    recipe = metadata.get("recipe") or {}
    recipe = recipe if isinstance(recipe, dict) else {"name": str(recipe)}
    result = metadata.get("result") or {}
    if isinstance(source, (str, Path)):
        file = Path(source).name
    else:
        file = DEFAULT_MODEL.name if source is None else None
    return {"recipe": recipe.get("name"), "description": recipe.get("description"),
            "test_accuracy": result.get("test_accuracy"), "parameters": int(model.count_params()),
            "input_shape": list(model.input_shape or []), "file": file}


def _version():
    from digitlab import __version__

    return __version__


class _SecurityHeaders:
    """Adds a strict Content-Security-Policy and friends to every response (pure ASGI, no cost)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)
