"""The key commands' HTTPS client (protocols/https) against a loopback HTTPS server: answers and
headers come through, the certificate is checked (trusted only with --ca-file; the name or address
must match), and every failure is one sentence within the deadline: refused, silent, too large."""

import http.server
import os
import socket
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "sim"))
from fake_https import serve_https  # noqa: E402

TOOL = os.path.join(os.environ.get("CLOUDLESS_TOOLS_DIR", ""), "https_tool")


class EchoHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/big"):
            payload = b"x" * 200_000
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if self.path.startswith("/silent"):
            time.sleep(3)
            return
        text = f"{self.command} {self.path} host={self.headers.get('Host')} x={self.headers.get('X-Test')} " \
               f"body={body.decode()}"
        payload = text.encode()
        self.send_response(302 if self.path.startswith("/redirect") else 200)
        self.send_header("Set-Cookie", "serviceToken=abc/def==; Path=/; Domain=.example")
        self.send_header("Set-Cookie", "userId=42")
        if self.path.startswith("/redirect"):
            self.send_header("Location", "https://127.0.0.1:1/elsewhere")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _answer
    do_POST = _answer


@pytest.fixture()
def server(tmp_path):
    with serve_https(EchoHandler, tmp_path) as running:
        yield running


def run_tool(*args, timeout=20):
    return subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=timeout)


def test_get_and_post_with_headers_and_cookies(server):
    result = run_tool(server.url + "/path?a=1&b=%2F", "--ca-file", server.ca_file, "--header", "X-Test:yes")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[0] == "200"
    assert "Set-Cookie: serviceToken=abc/def==; Path=/; Domain=.example" in lines
    assert "Set-Cookie: userId=42" in lines
    assert result.stdout.endswith(f"GET /path?a=1&b=%2F host=127.0.0.1:{server.port} x=yes body=")

    posted = run_tool(server.url + "/form", "--ca-file", server.ca_file, "--method", "POST", "--body", "k=v&w=1")
    assert posted.returncode == 0, posted.stderr
    assert posted.stdout.endswith("POST /form host=127.0.0.1:%d x=None body=k=v&w=1" % server.port)


def test_redirects_are_returned_not_followed(server):
    result = run_tool(server.url + "/redirect", "--ca-file", server.ca_file)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("302\n")
    assert "Location: https://127.0.0.1:1/elsewhere" in result.stdout


def test_certificate_must_be_trusted(server):
    # Without --ca-file the system store decides, and it does not know the test's certificate.
    result = run_tool(server.url + "/", "--timeout-ms", "5000")
    assert result.returncode == 1
    assert "certificate not trusted" in result.stderr
    assert result.stdout == ""


def test_certificate_must_name_the_host(tmp_path):
    # The certificate names 127.0.0.1 and localhost; a server on 127.0.0.2 presenting it is trusted
    # (--ca-file) but not for that address.
    with serve_https(EchoHandler, tmp_path, host="127.0.0.2") as other:
        result = run_tool(other.url + "/", "--ca-file", other.ca_file, "--timeout-ms", "5000")
    assert result.returncode == 1
    assert "TLS handshake with 127.0.0.2" in result.stderr


def test_refused_connection_is_one_sentence():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_tool(f"https://127.0.0.1:{port}/", "--timeout-ms", "5000")
    assert result.returncode == 1
    assert result.stderr.strip() == f"127.0.0.1:{port} refused the connection"


def test_silent_server_costs_the_deadline_only(server):
    started = time.monotonic()
    result = run_tool(server.url + "/silent", "--ca-file", server.ca_file, "--timeout-ms", "800")
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert result.stderr.strip() == \
        f"no answer from 127.0.0.1:{server.port} within 0.8 s (while waiting for the answer)"
    assert elapsed < 2.5  # the server sleeps 3 s: the client gave up on its own deadline


def test_silent_listener_before_tls(tmp_path):
    # A TCP listener that never speaks TLS: the handshake is what times out.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        result = run_tool(f"https://127.0.0.1:{port}/", "--timeout-ms", "500")
    assert result.returncode == 1
    assert result.stderr.strip() == f"no answer from 127.0.0.1:{port} within 0.5 s (during the TLS handshake)"


def test_reply_larger_than_the_limit(server):
    result = run_tool(server.url + "/big", "--ca-file", server.ca_file, "--max-body", "100000")
    assert result.returncode == 1
    assert result.stderr.strip() == f"127.0.0.1:{server.port} sent a reply larger than 100000 bytes"


def test_not_an_https_address():
    result = run_tool("http://127.0.0.1:1/")
    assert result.returncode == 1
    assert result.stderr.strip() == "not an https:// address: http://127.0.0.1:1/"
