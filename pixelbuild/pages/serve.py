"""`watch --serve`: the gallery on localhost, reloading itself after each rebuild.

`/` is the gallery page as last written; `/events` is a Server-Sent Events stream on which each
rebuild sends a `rebuilt` event (the page's script reloads on it). Only loopback is bound, and
nothing but the page is served: no file of the project is reachable through the server.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pixelbuild.errors import UsageError

HOST = "127.0.0.1"
KEEPALIVE_S = 15  # an SSE comment this often, so a closed tab is noticed


class GalleryServer:
    """Serves one page file and pushes a reload to every open page on `notify()`."""

    def __init__(self, page: Callable[[], Path], port: int = 0):
        self.page = page  # where the page is now (the project's cache may move)
        self._clients: list[queue.Queue[str]] = []
        self._lock = threading.Lock()
        try:
            self._http = ThreadingHTTPServer((HOST, port), self._handler())
        except OSError as exc:
            raise UsageError(f"cannot serve on {HOST}:{port}: {exc.strerror or exc}") from None
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._http.server_address[1]}/"

    def start(self) -> GalleryServer:
        self._thread.start()
        return self

    def notify(self) -> None:
        with self._lock:
            for client in self._clients:
                client.put("rebuilt")

    def close(self) -> None:
        with self._lock:
            for client in self._clients:
                client.put("")
        self._http.shutdown()
        self._http.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path in ("/", "/index.html"):
                    self._page()
                elif self.path == "/events":
                    self._events()
                else:
                    self.send_error(404)

            def _page(self) -> None:
                try:
                    body = server.page().read_bytes()
                except OSError:
                    body = b"<!doctype html><title>gallery</title><p>no gallery yet: building"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _events(self) -> None:
                client: queue.Queue[str] = queue.Queue()
                with server._lock:
                    server._clients.append(client)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                try:
                    self.wfile.write(b": connected\n\n")
                    self.wfile.flush()
                    while True:
                        try:
                            event = client.get(timeout=KEEPALIVE_S)
                        except queue.Empty:
                            self.wfile.write(b": keepalive\n\n")
                        else:
                            if not event:
                                break
                            self.wfile.write(f"event: {event}\ndata: 1\n\n".encode())
                        self.wfile.flush()
                except OSError:  # the page went away
                    pass
                finally:
                    with server._lock, contextlib.suppress(ValueError):
                        server._clients.remove(client)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the watch output is the user's terminal."""

        return Handler
