"""A local HTTP mirror for the downloaders' tests: a folder served on 127.0.0.1 that honours
Range requests (as the real mirrors do) and can drop a connection partway through a file."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Mirror:
    url: str  # ends with "/": a mirror prefix
    cut: dict[str, int] = field(default_factory=dict)  # file -> bytes sent before one drop
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (file, Range)


class _Handler(SimpleHTTPRequestHandler):
    mirror: Mirror

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        name = self.path.lstrip("/")
        self.mirror.requests.append((name, self.headers.get("Range")))
        path = Path(self.directory) / name
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = int(self.headers.get("Range", "bytes=0-")[6:].rstrip("-") or 0)
        if start >= len(data) > 0 and "Range" in self.headers:
            self.send_error(416)
            return
        self.send_response(206 if "Range" in self.headers else 200)
        self.send_header("Content-Length", str(len(data) - start))
        if "Range" in self.headers:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        body = data[start:]
        if name in self.mirror.cut:  # promise the whole file, send part of it, hang up
            body = body[: self.mirror.cut.pop(name)]
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serve(folder: Path) -> Iterator[Mirror]:
    """Serve `folder` until the block ends."""
    mirror = Mirror("")
    handler = type("Handler", (_Handler,), {"mirror": mirror})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(folder)))
    mirror.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield mirror
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
