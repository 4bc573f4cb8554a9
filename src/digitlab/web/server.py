"""Running the page: bind the address, say where to open it, and hand the socket to uvicorn.

    from digitlab.web.server import serve, running
    serve(host="127.0.0.1", port=8000)                 # what `digitlab serve` does; Ctrl+C stops it
    with running(create_app()) as url:                 # in a background thread (tests, notebooks)
        ...

The socket is bound here, before uvicorn starts, so a port that is taken is one clear error
(DigitlabError) rather than a log line, and port 0 means "any free port" (the URL says which).
"""

from __future__ import annotations

import errno
import importlib.util
import socket
import threading
import time
from contextlib import contextmanager

from digitlab.errors import DigitlabError

WEB_EXTRA = "pip install 'digitlab[web]'"


def require_web_extra():
    """Raise DigitlabError naming the install command if fastapi, uvicorn or python-multipart is missing."""
    needed = {"fastapi": ["fastapi"], "uvicorn": ["uvicorn"],
              "python-multipart": ["python_multipart", "multipart"]}     # its module's old name too
    missing = [name for name, modules in needed.items()
               if not any(importlib.util.find_spec(module) for module in modules)]
    if missing:
        raise DigitlabError(f"the web page needs the web extra ({', '.join(missing)} missing): {WEB_EXTRA}")


def bind(host: str = "127.0.0.1", port: int = 8000) -> socket.socket:
    """A listening TCP socket on host:port; DigitlabError if the port is taken or the host unknown."""
    sock = None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             proto=socket.IPPROTO_TCP)[0]
        # proto=IPPROTO_TCP, not 0 (as socket.create_server leaves it): asyncio sets TCP_NODELAY
        # on accepted connections only then, and without it every answer waits ~40 ms for an ACK
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        return sock
    except OSError as error:
        if sock is not None:
            sock.close()
        if error.errno == errno.EADDRINUSE:
            raise DigitlabError(f"port {port} on {host} is taken (is another server running there?): "
                                f"choose another with --port") from None
        if error.errno == errno.EACCES:
            raise DigitlabError(f"not allowed to listen on port {port}: choose one above 1023 with --port") from None
        reason = error.strerror or str(error)
        raise DigitlabError(f"cannot listen on {host}:{port}: {reason}") from None


def url_of(sock: socket.socket) -> str:
    """The address to open in a browser for a bound socket (127.0.0.1 for a wildcard host)."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def one_blas_thread():
    """Run NumPy's BLAS on one thread in this process. The server reads one small picture per
    request: for a 1x1x28x28 forward pass, BLAS threads cost more in waiting for each other than
    they save (on a busy 2-core machine, 18 ms instead of 0.6 ms), and they take cores from the
    other requests."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def _server(app):
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                         timeout_graceful_shutdown=3))


def serve(model=None, host: str = "127.0.0.1", port: int = 8000, echo=print):
    """Serve the page for ``model`` until interrupted; ``echo`` gets the line with the URL."""
    require_web_extra()
    from digitlab.web.app import create_app

    app = create_app(model)                 # the model loads (and a bad file fails) before binding
    sock = bind(host, port)
    one_blas_thread()
    try:
        echo(f"digitlab: draw a digit at {url_of(sock)}  (Ctrl+C to stop)")
        _server(app).run(sockets=[sock])
    except KeyboardInterrupt:               # uvicorn shut down cleanly, then passed Ctrl+C on
        pass
    finally:
        sock.close()


@contextmanager
def running(app, host: str = "127.0.0.1", port: int = 0, timeout: float = 20.0):
    """Serve ``app`` from a background thread for the ``with`` block; yields the URL."""
    require_web_extra()
    sock = bind(host, port)
    server = _server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name="digitlab-web")
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise DigitlabError("the web server did not start")
        time.sleep(0.01)
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
