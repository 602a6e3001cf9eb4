"""Superset's REST API as civiclake talks to it: JWT login, the CSRF token (CSRF stays
enabled), connection retries, and one error type whose message says what to do.

It needs only ``requests`` (the core environment has it) and never imports Superset, so
the importer, the access rules (``dashboards.access``) and the tests use it from any
environment.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


class AssetImportError(RuntimeError):
    """A problem the operator can act on; the message says what and where."""


def retrying_session() -> requests.Session:
    """A requests session that sends a request again when the connection fails.

    gunicorn recycles its workers (--max-requests); a request sent on a kept-alive
    connection the old worker just closed is reset before Superset sees it, so connection
    errors are retried (HTTP error answers are not).
    """
    session = requests.Session()
    retry = Retry(total=3, connect=3, read=2, status=0, allowed_methods=None, backoff_factor=0.5)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


class SupersetClient:
    """Superset REST API with JWT login and CSRF token (CSRF stays enabled)."""

    def __init__(self, url: str, username: str, password: str, timeout: float = 60):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = retrying_session()
        self.session.headers["Referer"] = self.url
        self.credentials = (username, password)  # to log in again when the token expires
        self._login(username, password)

    def _login(self, username: str, password: str) -> None:
        try:
            r = self.session.post(
                f"{self.url}/api/v1/security/login",
                timeout=self.timeout,
                json={
                    "username": username,
                    "password": password,
                    "provider": "db",
                    "refresh": True,
                },
            )
        except requests.ConnectionError as exc:
            raise AssetImportError(
                f"Superset does not answer at {self.url}: start it with `bash infra/superset/start.sh`"
            ) from exc
        if r.status_code != 200:
            raise AssetImportError(
                f"login as {username!r} at {self.url} failed (HTTP {r.status_code}): {r.text[:300]}"
            )
        self.session.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        token = self.request("GET", "/api/v1/security/csrf_token/")["result"]
        self.session.headers["X-CSRFToken"] = token

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201), **kwargs: Any) -> Any:
        r = self.session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        if r.status_code == 401 and "expired" in r.text.lower():
            # Superset's access tokens last 15 minutes; a client held longer logs in again once.
            self._login(*self.credentials)
            r = self.session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        if r.status_code not in ok:
            raise AssetImportError(f"{method} {path} → HTTP {r.status_code}: {r.text[:1000]}")
        return r.json() if r.content else None

    def get_all(self, path: str, q: str = "") -> list[dict[str, Any]]:
        """Every row of a list endpoint (pages of 100), q in rison without page args."""
        out: list[dict[str, Any]] = []
        page = 0
        while True:
            inner = f"{q}," if q else ""
            res = self.request("GET", f"{path}?q=({inner}page:{page},page_size:100)")
            rows = res.get("result", [])
            out += rows
            if len(rows) < 100:
                return out
            page += 1
