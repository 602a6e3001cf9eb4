"""Connector for an Open311 GeoReport v2 API: services, paged requests, one request.

What makes it safe to run every day against a real city server:

* every call has a connect and a read timeout, and transient failures (connection errors,
  timeouts, HTTP 5xx) are retried with exponential backoff (tenacity); a 4xx or an answer
  that is not GeoReport JSON is a clear error at once, since retrying would not change it;
* requests are read page by page until a short or empty page, within a fixed window
  ``[updated_after, updated_before)`` and the server's stable order, so a page holds the
  same rows however often it is asked for;
* progress is kept per page in a :class:`PageSink` (the ingest job's sink writes each page
  to bronze, then records the page in the lake's state area). When retries run out in
  the middle, :class:`Open311PageError` names the URL and page, and the next run with the
  same sink starts at that page: no page is lost or taken twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import requests
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

log = logging.getLogger(__name__)

API_PREFIX = "/open311/v2"
DEFAULT_TIMEOUT = (5.0, 30.0)  # seconds to connect, seconds between bytes of the answer
DEFAULT_PAGE_SIZE = 200


class Open311Error(RuntimeError):
    """The Open311 server answered something the connector cannot use."""


class Open311PageError(Open311Error):
    """A page could not be read even after retries; progress up to the page before is kept."""

    def __init__(self, url: str, page: int, attempts: int, cause: BaseException):
        self.url, self.page, self.attempts, self.cause = url, page, attempts, cause
        super().__init__(
            f"Open311 page {page} failed after {attempts} attempts: {url} — {_describe(cause)}. "
            f"Pages before {page} are kept; running the same batch again resumes at page {page}."
        )


class _ServerError(Exception):
    """An HTTP 5xx answer: the server may recover, so the call is retried."""

    def __init__(self, status: int, body: str):
        self.status, self.body = status, body
        super().__init__(f"HTTP {status}: {body[:200]}")


def _describe(error: BaseException) -> str:
    if isinstance(error, requests.Timeout):
        return f"timed out ({error.__class__.__name__})"
    if isinstance(error, requests.ConnectionError):
        return f"cannot connect ({error})"
    return str(error)


@dataclass(frozen=True)
class Page:
    number: int
    url: str
    records: list[dict]


@dataclass(frozen=True)
class Progress:
    pages_done: int = 0
    complete: bool = False


class PageSink(Protocol):
    """Where pages go, and what was already taken (kept across runs of the same batch)."""

    def progress(self) -> Progress: ...

    def save(self, page: Page, last: bool) -> None:
        """Keeps ``page``; ``last`` marks the end of the batch. Must be safe to repeat for a page."""


def w3c(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"{value} has no UTC offset; Open311 datetimes must carry one")
    return value.isoformat(timespec="seconds")


class Open311Client:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: tuple[float, float] | float = DEFAULT_TIMEOUT,
        attempts: int = 5,
        backoff_s: float = 0.5,
        backoff_max_s: float = 30.0,
        session: requests.Session | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts
        self.backoff_s, self.backoff_max_s = backoff_s, backoff_max_s
        self.session = session or requests.Session()
        self.session.headers.setdefault("Accept", "application/json")

    def url(self, path: str, params: dict | None = None) -> str:
        """The full URL of a call, as it appears in errors and in bronze."""
        prepared = requests.Request("GET", f"{self.base_url}{API_PREFIX}{path}", params=params).prepare()
        return prepared.url

    def _get_once(self, url: str):
        response = self.session.get(url, timeout=self.timeout)
        if response.status_code >= 500:
            raise _ServerError(response.status_code, response.text)
        if response.status_code >= 400:
            raise Open311Error(f"Open311 {url} answered HTTP {response.status_code}: {response.text[:300]}")
        try:
            return response.json()
        except ValueError:
            raise Open311Error(
                f"Open311 {url} did not answer JSON (Content-Type {response.headers.get('Content-Type')!r}): "
                f"{response.text[:200]!r}"
            ) from None

    def get(self, path: str, params: dict | None = None, *, page: int | None = None):
        """GET with retries on timeouts, connection errors and 5xx; JSON of the answer."""
        url = self.url(path, params)
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff_s, max=self.backoff_max_s),
            retry=retry_if_exception_type((requests.ConnectionError, requests.Timeout, _ServerError)),
            before_sleep=lambda state: log.warning(
                "Open311 %s attempt %d failed (%s); retrying",
                url,
                state.attempt_number,
                _describe(state.outcome.exception()),
            ),
        )
        try:
            return retrying(self._get_once, url)
        except RetryError as error:
            cause = error.last_attempt.exception()
            if page is not None:
                raise Open311PageError(url, page, self.attempts, cause) from cause
            raise Open311Error(
                f"Open311 {url} failed after {self.attempts} attempts: {_describe(cause)}"
            ) from cause

    def services(self) -> list[dict]:
        services = self.get("/services.json")
        if not isinstance(services, list):
            raise Open311Error(f"Open311 {self.url('/services.json')} did not answer a list of services")
        return services

    def request(self, service_request_id: str) -> dict | None:
        """One request by id; None when the server does not know it."""
        try:
            answer = self.get(f"/requests/{requests.utils.quote(service_request_id, safe='')}.json")
        except Open311Error as error:
            if "HTTP 404" in str(error):
                return None
            raise
        return answer[0] if isinstance(answer, list) and answer else None

    def page(self, number: int, page_size: int, query: dict) -> Page:
        params = {**query, "page": number, "page_size": page_size}
        records = self.get("/requests.json", params, page=number)
        url = self.url("/requests.json", params)
        if not isinstance(records, list):
            raise Open311Error(f"Open311 {url} did not answer a list of requests")
        return Page(number, url, records)


def window_query(updated_after: datetime | None, updated_before: datetime, **filters: str) -> dict:
    """Query parameters of one extraction window ``[updated_after, updated_before)``."""
    query = {k: v for k, v in filters.items() if v is not None}
    if updated_after is not None:
        query["updated_after"] = w3c(updated_after)
    query["updated_before"] = w3c(updated_before)
    return query


@dataclass(frozen=True)
class ExtractResult:
    first_page: int  # where this run started (> 1: it resumed an interrupted batch)
    pages_fetched: int
    rows_fetched: int
    complete: bool


def extract_pages(client: Open311Client, query: dict, sink: PageSink, page_size: int) -> ExtractResult:
    """Reads every page of ``query`` into ``sink``, starting after the pages it already holds."""
    progress = sink.progress()
    first = progress.pages_done + 1
    if progress.complete:
        return ExtractResult(first, 0, 0, True)
    if first > 1:
        log.info("Open311 %s: resuming at page %d", client.base_url, first)
    number, rows = first, 0
    while True:
        page = client.page(number, page_size, query)
        last = len(page.records) < page_size
        sink.save(page, last)
        rows += len(page.records)
        log.info("Open311 page %d: %d requests", number, len(page.records))
        if last:
            return ExtractResult(first, number - first + 1, rows, True)
        number += 1


class MemorySink:
    """A sink in memory (tests and one-off reads): pages by number, progress from them."""

    def __init__(self):
        self.pages: dict[int, Page] = {}
        self.done = False

    def progress(self) -> Progress:
        return Progress(len(self.pages), self.done)

    def save(self, page: Page, last: bool) -> None:
        self.pages[page.number] = page
        self.done = last

    def records(self) -> list[dict]:
        return [r for n in sorted(self.pages) for r in self.pages[n].records]
