"""`digitlab serve` run as a user runs it: the URL it prints, a real server on loopback, and a
clear one-line error when the port is taken, the model file is bad or the web extra is missing."""

import http.client
import json
import socket
import threading
from urllib.parse import urlsplit

import pytest

from digitlab.errors import DigitlabError

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


def _request(url, method, path, body=None, headers=None):
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_serve_help_shows_the_defaults(cli):
    result = cli("serve", "--help")
    assert result.returncode == 0
    assert "127.0.0.1" in result.stdout and "8000" in result.stdout and "--model" in result.stdout


def test_serve_prints_the_url_and_answers_on_loopback(live_server, drawings):
    assert live_server.startswith("http://127.0.0.1:")
    status, body = _request(live_server, "GET", "/api/health")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    status, body = _request(live_server, "POST", "/api/predict", drawings["digit_png"](7),
                            {"Content-Type": "image/png"})
    assert status == 200 and json.loads(body)["digit"] == 7
    status, body = _request(live_server, "GET", "/")
    assert status == 200 and b"<canvas" in body


def test_a_real_server_refuses_a_large_body_and_keeps_answering(live_server, drawings):
    big = b"\0" * (3 * 1024 * 1024)
    try:
        status, body = _request(live_server, "POST", "/api/predict", big, {"Content-Type": "image/png"})
        assert status == 413 and "error" in json.loads(body)
    except (BrokenPipeError, ConnectionResetError):
        pass                            # the server may answer and close before all 3 MB are sent
    for _ in range(3):
        status, _ = _request(live_server, "POST", "/api/predict", b"nonsense", {"Content-Type": "image/png"})
        assert status == 422
    status, body = _request(live_server, "POST", "/api/predict", drawings["digit_png"](0),
                            {"Content-Type": "image/png"})
    assert status == 200 and json.loads(body)["digit"] == 0


def test_a_port_that_is_taken_is_one_clear_line(cli):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = cli("serve", "--port", port, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"error: port {port} on 127.0.0.1 is taken (is another server running "
                                     "there?): choose another with --port")
    assert "Traceback" not in result.stderr


def test_a_bad_model_file_is_one_clear_line(cli, tmp_path):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"nothing")
    result = cli("serve", "--model", bad, "--port", "0", timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "not a digitlab model file" in result.stderr


def test_without_the_web_extra_serve_says_how_to_install_it(cli, tmp_path):
    # a sitecustomize that hides fastapi, as if `pip install digitlab` had been run without [web]
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['fastapi'] = None\n")
    result = cli("serve", "--port", "0", env={"PYTHONPATH": str(tmp_path)}, timeout=60)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "pip install 'digitlab[web]'" in result.stderr and "fastapi" in result.stderr


def test_require_web_extra_names_what_is_missing(monkeypatch):
    import importlib.util

    from digitlab.web import server

    real = importlib.util.find_spec
    monkeypatch.setattr(server.importlib.util, "find_spec",
                        lambda name: None if name in ("uvicorn",) else real(name))
    with pytest.raises(DigitlabError, match=r"uvicorn missing.*pip install 'digitlab\[web\]'"):
        server.require_web_extra()


def test_the_listening_socket_is_tcp_so_answers_are_not_held_back():
    """asyncio sets TCP_NODELAY on accepted connections only when the listening socket's proto is
    IPPROTO_TCP; with proto 0 (socket.create_server's) each answer waited ~40 ms for an ACK."""
    from digitlab.web.server import bind

    with bind("127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP


def test_the_server_runs_blas_on_one_thread():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from digitlab.web.server import one_blas_thread

    with threadpoolctl.threadpool_limits(None):          # puts this process's limits back after
        one_blas_thread()
        blas = [pool for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]
        assert blas and all(pool["num_threads"] == 1 for pool in blas)


def test_running_serves_an_app_from_a_thread_and_stops():
    from digitlab.web.app import create_app
    from digitlab.web.server import running

    with running(create_app()) as url:
        status, _ = _request(url, "GET", "/api/health")
        assert status == 200
    with pytest.raises(OSError):
        _request(url, "GET", "/api/health")


def _send_ten_of_1000_bytes(url):
    """A connection that has sent a POST whose Content-Length says 1000 and 10 bytes of its body."""
    parts = urlsplit(url)
    connection = socket.create_connection((parts.hostname, parts.port), timeout=10)
    connection.sendall(b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/png\r\n"
                       b"Content-Length: 1000\r\n\r\n0123456789")
    return connection


def test_a_real_server_answers_408_to_a_body_that_never_arrives_whole(monkeypatch):
    from digitlab.web import app as web
    from digitlab.web.server import running

    monkeypatch.setattr(web, "BODY_TIMEOUT", 0.2)
    with running(web.create_app()) as url, _send_ten_of_1000_bytes(url) as connection:
        answer = b""
        while chunk := connection.recv(4096):           # the server closes the connection after it
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert "incomplete" in json.loads(body)["error"]


def test_a_real_server_takes_a_client_leaving_mid_body_quietly():
    """The app ends without an exception (which uvicorn would log as a traceback)."""
    from digitlab.web.app import create_app
    from digitlab.web.server import running

    app, finished, errors = create_app(), threading.Event(), []

    async def watched(scope, receive, send):
        try:
            await app(scope, receive, send)
        except BaseException as error:
            errors.append(error)
            raise
        finally:
            if scope.get("path") == "/api/predict":
                finished.set()

    with running(watched) as url:
        _send_ten_of_1000_bytes(url).close()
        assert finished.wait(10)
        status, _ = _request(url, "GET", "/api/health")
    assert errors == [] and status == 200
