"""CORS as a real browser sees it: headless Chromium loads a page from one origin that calls
`netlang serve` with a bearer token and a JSON body (so the browser sends a preflight first).
The page on the allowed origin reads the answer; a page on another origin is refused."""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.servers import Server, free_port, start_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]
TOKEN = "browser-token"
PAGE = """<!doctype html><html><body><pre id="out">pending</pre><script>
const out = document.getElementById("out");
const body = {inputs: [{name: "input", shape: [1, 8], datatype: "FP32", data: Array(8).fill(0.5)}]};
fetch("http://127.0.0.1:%(port)d/v2/models/clf/infer", {
  method: "POST",
  headers: {"Authorization": "Bearer %(token)s", "Content-Type": "application/json"},
  body: JSON.stringify(body),
}).then(r => r.json().then(d => {
  out.textContent = "status=" + r.status + " shape=" + d.outputs[0].shape;
})).catch(e => { out.textContent = "refused:" + e.name; });
</script></body></html>"""


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int, int]]:
    """A folder served on two ports: two origins, http://127.0.0.1:A and http://127.0.0.1:B."""
    folder = tmp_path_factory.mktemp("pages")
    handler = functools.partial(_QuietHandler, directory=str(folder))
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler) for _ in "ab"]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, servers[0].server_address[1], servers[1].server_address[1]
    for server in servers:
        server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(
    model_dir: Path, pages: tuple[Path, int, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    _, allowed_port, _ = pages
    token_file = tmp_path_factory.mktemp("secret") / "token"
    token_file.write_text(TOKEN)
    origin = f"http://127.0.0.1:{allowed_port}"
    server = start_server(
        [str(model_dir / "clf.onnx"), "--token-file", str(token_file), "--allow-origin", origin]
    )
    yield server
    server.stop()


def _page_text(url: str, tmp_path: Path) -> str:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    return done.stdout


@pytest.mark.parametrize("allowed", [True, False], ids=["allowed origin", "other origin"])
def test_a_page_reads_the_answer_only_from_an_allowed_origin(
    server: Server, pages: tuple[Path, int, int], tmp_path: Path, allowed: bool
) -> None:
    folder, allowed_port, other_port = pages
    (folder / "page.html").write_text(PAGE % {"port": server.port, "token": TOKEN})
    port = allowed_port if allowed else other_port
    text = _page_text(f"http://127.0.0.1:{port}/page.html", tmp_path)
    if allowed:
        assert "status=200 shape=1,3" in text
    else:
        assert "refused:TypeError" in text
