"""Client of the complaints hotline API (12345 / 12319 / smart property platform work-order events).

The API pages through immutable status-change events by `updated_since` / `updated_until` and an
opaque cursor. Transient failures (429 with Retry-After, 5xx, timeouts, dropped connections,
truncated or repeated pages) are retried with exponential backoff; when the retries run out the
error propagates and the caller's transaction loads nothing of the batch.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import msgspec

from shumei.ingest.loader import BatchStructureError

log = logging.getLogger(__name__)

EVENTS_PATH = "/api/v1/work-order-events"


class SourceUnavailable(RuntimeError):
    """The source kept failing after every retry."""


class BadPage(RuntimeError):
    """A page that cannot be right: truncated, not JSON, or a repeat of the previous page."""


@dataclass
class HotlineClient:
    base_url: str
    token: str
    page_size: int = 1000
    max_attempts: int = 8
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    timeout: float = 30.0
    sleep: callable = time.sleep
    pages_fetched: int = field(default=0, init=False)
    retries: int = field(default=0, init=False)
    digest: hashlib._Hash = field(default_factory=hashlib.sha256, init=False)

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=self.timeout,
                            headers={"Authorization": f"Bearer {self.token}"})

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        if retry_after is not None:
            try:
                delay = float(retry_after)
            except ValueError:
                delay = self.backoff_base
        else:
            delay = min(self.backoff_cap, self.backoff_base * 2 ** attempt) * (0.5 + random.random() / 2)
        self.retries += 1
        self.sleep(delay)

    @staticmethod
    def _check_order(items: list, since: datetime, until: datetime, after: tuple | None) -> None:
        """Items must lie in the requested window, ordered by (updated_at, event_id), after the previous
        page's last item: a stale or repeated page fails here."""
        previous = after
        for item in items:
            try:
                key = (datetime.fromisoformat(item["updated_at"]), str(item["event_id"]))
            except (KeyError, TypeError, ValueError):
                return  # a malformed row is the validator's business (quarantined with its reason)
            if not since <= key[0] < until:
                raise BadPage(f"page holds an event updated {item['updated_at']}, outside the requested window")
            # a key equal to the one before it inside a page is a duplicate row (quarantined later);
            # the first item must come strictly after the previous page
            if previous is not None and (key < previous or (previous == after and key == previous)):
                raise BadPage("page is out of order or repeats earlier events")
            previous = key

    def _page(self, client: httpx.Client, params: dict, previous_ids: tuple | None,
              window: tuple[datetime, datetime, tuple | None] | None = None) -> tuple[dict, bytes]:
        last_error: Exception | None = None
        for attempt in range(self.max_attempts):
            retry_after = None
            try:
                response = client.get(EVENTS_PATH, params=params)
                if response.status_code == 429 or response.status_code >= 500:
                    retry_after = response.headers.get("Retry-After")
                    raise httpx.HTTPStatusError(f"HTTP {response.status_code}", request=response.request,
                                                response=response)
                if response.status_code in (401, 403):
                    raise SourceUnavailable(f"hotline API refused the token (HTTP {response.status_code})")
                response.raise_for_status()
                try:
                    response.content.decode("utf-8")
                except UnicodeDecodeError as exc:
                    if exc.reason == "unexpected end of data":
                        # the body stops inside a character: a truncated page, transient (retried)
                        raise BadPage(f"page is truncated inside a multibyte character "
                                      f"({len(response.content)} bytes)") from None
                    # not transient: the source sends another encoding; retrying cannot help
                    raise BatchStructureError(f"hotline page is not UTF-8 ({exc.reason} at byte {exc.start}): "
                                              "the source must send UTF-8") from None
                try:
                    body = msgspec.json.decode(response.content)
                except msgspec.DecodeError as exc:
                    raise BadPage(f"page is not complete JSON ({len(response.content)} bytes)") from exc
                if not isinstance(body, dict):
                    raise BadPage(f"page is not a JSON object ({len(response.content)} bytes)")
                items = body.get("items")
                if not isinstance(items, list) or body.get("count") != len(items):
                    raise BadPage(f"page says count={body.get('count')} but holds "
                                  f"{len(items) if isinstance(items, list) else 'no'} items (truncated)")
                ids = _event_ids(items)
                if ids and ids == previous_ids:
                    raise BadPage("the server repeated the previous page")
                if window is not None:
                    self._check_order(items, *window)
                self.pages_fetched += 1
                self.digest.update(response.content)
                return body, response.content
            except (httpx.TransportError, httpx.HTTPStatusError, BadPage) as exc:
                last_error = exc
                log.warning("hotline page %s failed (attempt %d/%d): %s", params.get("cursor") or "first",
                            attempt + 1, self.max_attempts, exc)
                if attempt + 1 < self.max_attempts:
                    self._wait(attempt, retry_after)
        raise SourceUnavailable(f"hotline API failed {self.max_attempts} times: {last_error}") from last_error

    def iter_pages(self, since: datetime, until: datetime) -> Iterator[bytes]:
        """The body of every page of events with since <= updated_at < until (all pages, or an
        exception). Each page is checked (complete JSON, count, window, order) before it is yielded;
        the bodies go to the loader as they came."""
        params: dict = {"updated_since": since.isoformat(), "updated_until": until.isoformat(),
                        "limit": self.page_size}
        previous_ids: tuple | None = None
        last_key: tuple | None = None
        with self._client() as client:
            while True:
                body, content = self._page(client, params, previous_ids, (since, until, last_key))
                items = body["items"]
                previous_ids = _event_ids(items)
                if items:
                    try:
                        last_key = (datetime.fromisoformat(items[-1]["updated_at"]), str(items[-1]["event_id"]))
                    except (KeyError, TypeError, ValueError):
                        pass
                yield content
                cursor = body.get("next_cursor")
                if not cursor:
                    return
                params = {**params, "cursor": cursor}

    def checksum(self) -> str:
        return self.digest.hexdigest()


def _event_ids(items: list) -> tuple:
    """The page's event ids (None for an item that is not an object: the loader refuses those)."""
    return tuple(item.get("event_id") if isinstance(item, dict) else None for item in items)
