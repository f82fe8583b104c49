"""SSRF: URLs from the UI/API must be on the operator's allow-list (loopback by default), and no reply body of
an endpoint ever reaches the user in an error."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workbench import endpoint
from workbench.qa import generate

SECRET = "SECRET-7f3a-internal-token"


def test_only_loopback_is_allowed_unless_the_operator_says_more(monkeypatch):
    monkeypatch.delenv(endpoint.ALLOW_ENV, raising=False)
    for url in ("http://127.0.0.1:8000/v1", "http://localhost:11434/v1", "http://[::1]:8000/v1"):
        assert endpoint.check_url(url) == url
    for url in ("http://169.254.169.254/latest/meta-data", "http://example.invalid/v1", "file:///etc/passwd",
                "gopher://127.0.0.1:25/"):
        with pytest.raises(endpoint.EndpointNotAllowed):
            endpoint.check_url(url)
    monkeypatch.setenv(endpoint.ALLOW_ENV, "gpu-box:8000")
    assert endpoint.check_url("http://gpu-box:8000/v1")
    with pytest.raises(endpoint.EndpointNotAllowed, match="--allow-endpoint gpu-box:9000"):
        endpoint.check_url("http://gpu-box:9000/v1")


def test_the_qa_tab_refuses_an_endpoint_outside_the_allow_list(workspace, monkeypatch):
    from workbench.ui import qa as ui_qa
    from workbench.ui.common import UIError
    from workbench.ui.data import corpus_folder

    monkeypatch.delenv(endpoint.ALLOW_ENV, raising=False)
    (corpus_folder(workspace, "sample", create=True) / "a.txt").write_text("The depot opened in 1990.")
    settings = {"corpus": "sample", "name": "ssrf", "endpoint_url": "http://example.invalid:8080/v1"}
    with pytest.raises(UIError, match="not allowed"):
        ui_qa.launch_qa(workspace, settings)
    assert not workspace.runs.exists() or not list(workspace.runs.glob("*"))  # no job was started


@pytest.mark.parametrize("code,body", [(500, SECRET), (200, json.dumps({"secret": SECRET}))])
def test_an_endpoints_reply_body_never_reaches_the_error(code, body):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            raw = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        gen = generate.EndpointGenerator(f"http://127.0.0.1:{httpd.server_address[1]}/v1", "m", retries=0)
        with pytest.raises(endpoint.EndpointError) as err:
            gen.chat([[{"role": "user", "content": "hi"}]], max_new_tokens=8)
        assert SECRET not in str(err.value)
    finally:
        httpd.shutdown()
        httpd.server_close()
