"""The Superset API client logs in again when its access token expires."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dashboards.superset_client import AssetImportError, SupersetClient


class _FakeSuperset(BaseHTTPRequestHandler):
    """Login hands out numbered tokens; a token is refused as expired once it was used `lifetime` times."""

    logins = 0
    uses: dict[str, int] = {}
    lifetime = 2

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/api/v1/security/login":
            if body.get("password") != "right":
                return self._reply(401, {"message": "Not authorized"})
            type(self).logins += 1
            return self._reply(200, {"access_token": f"t{self.logins}"})
        self._reply(404, {})

    def do_GET(self):
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        used = self.uses.get(token, 0)
        if used >= self.lifetime:
            return self._reply(401, {"msg": "Token has expired"})
        self.uses[token] = used + 1
        if self.path == "/api/v1/security/csrf_token/":
            return self._reply(200, {"result": "csrf"})
        return self._reply(200, {"token": token})


@pytest.fixture
def superset_url():
    _FakeSuperset.logins = 0
    _FakeSuperset.uses = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeSuperset)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_an_expired_token_is_renewed_by_logging_in_again(superset_url):
    client = SupersetClient(superset_url, "admin", "right")  # login + csrf: t1 used once
    assert client.request("GET", "/api/v1/x")["token"] == "t1"  # t1 used twice: now expired
    assert client.request("GET", "/api/v1/x")["token"] == "t2"  # refused, logged in again, retried
    assert _FakeSuperset.logins == 2


def test_a_wrong_password_names_the_user_and_the_url(superset_url):
    with pytest.raises(
        AssetImportError, match=r"login as 'admin' at http://127\.0\.0\.1:\d+ failed \(HTTP 401\)"
    ):
        SupersetClient(superset_url, "admin", "wrong")
