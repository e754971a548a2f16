"""The hotline API over real HTTP: auth, paging, resume from updated_since, rate limit, fault switches."""

from __future__ import annotations

import json
import sqlite3
import time

import httpx
import pytest
from shumei.ingest.contracts import valid_uscc
from sim_setup import TOKEN


def _all(api, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        page = api.get("/api/v1/work-order-events", params={**params, **({"cursor": cursor} if cursor else {})}).json()
        items += page["items"]
        assert page["count"] == len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_health_and_auth(hotline_url):
    assert httpx.get(hotline_url + "/health").json()["status"] == "ok"
    assert httpx.get(hotline_url + "/api/v1/work-order-events").status_code == 401
    bad = httpx.get(hotline_url + "/api/v1/work-order-events", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert httpx.post(hotline_url + "/admin/faults", json={"reset": True}).status_code == 401


def test_pages_cover_the_store_in_order(api, sim_data):
    items = _all(api, limit=700)
    con = sqlite3.connect(sim_data / "hotline/events.sqlite")
    assert len(items) == con.execute("select count(*) from events").fetchone()[0]
    keys = [(i["updated_at"], i["event_id"]) for i in items]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert api.get("/api/v1/work-order-events", params={"limit": 5001}).status_code == 422
    assert api.get("/api/v1/work-order-events", params={"cursor": "garbage"}).status_code == 400


def test_resume_from_updated_since_and_windows(api):
    everything = _all(api, limit=1000)
    since = everything[len(everything) // 2]["updated_at"]
    tail = _all(api, updated_since=since, limit=333)
    assert tail == [i for i in everything if i["updated_at"] >= since]
    # the same instant in UTC selects the same events
    utc = _all(api, updated_since=since.replace("+08:00", "") + "+08:00", limit=5000)
    assert utc == tail
    window = _all(api, updated_since="2023-01-02T00:00:00+08:00", updated_until="2023-01-03T00:00:00+08:00")
    assert window and all(i["updated_at"][:10] == "2023-01-02" for i in window)
    assert window == _all(api, updated_since="2023-01-01T16:00:00Z", updated_until="2023-01-02T16:00:00Z")


def test_rate_limit_answers_429_with_retry_after(limited_url):
    h = {"Authorization": f"Bearer {TOKEN}"}
    codes = [httpx.get(limited_url + "/api/v1/work-order-events", params={"limit": 1}, headers=h) for _ in range(6)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited and int(limited[0].headers["Retry-After"]) >= 1
    time.sleep(1.1)
    assert httpx.get(limited_url + "/api/v1/work-order-events", params={"limit": 1}, headers=h).status_code == 200


def _get(api, **params):
    return api.get("/api/v1/work-order-events", params={"limit": 50, **params})


def test_fault_http_500_and_503(api):
    api.post("/admin/faults", json={"http_500_next": 2}).raise_for_status()
    assert [_get(api).status_code for _ in range(3)] == [500, 500, 200]
    api.post("/admin/faults", json={"http_503_next": 1})
    r = _get(api)
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    api.post("/admin/faults", json={"reset": True, "http_503_every": 3})
    assert [_get(api).status_code for _ in range(6)] == [200, 200, 503, 200, 200, 503]
    api.post("/admin/faults", json={"reset": True, "http_500_rate": 0.5, "fault_seed": 1})
    codes = [_get(api).status_code for _ in range(20)]
    assert 500 in codes and 200 in codes
    api.post("/admin/faults", json={"reset": True, "http_500_rate": 0.5, "fault_seed": 1})
    assert [_get(api).status_code for _ in range(20)] == codes  # deterministic


def test_fault_timeout(api):
    api.post("/admin/faults", json={"timeout_seconds": 1.5})
    with pytest.raises(httpx.ReadTimeout):
        api.get("/api/v1/work-order-events", params={"limit": 5}, timeout=0.5)


def test_fault_truncated_repeated_dropped_pages(api):
    api.post("/admin/faults", json={"truncate_page": 1})
    with pytest.raises(json.JSONDecodeError):
        json.loads(_get(api).content)
    assert _get(api).json()["count"] == 50  # only the next page was spoiled
    first = _get(api).json()
    api.post("/admin/faults", json={"repeat_page": 1})
    again = _get(api, cursor=first["next_cursor"]).json()
    assert again == first
    api.post("/admin/faults", json={"drop_connection": 1})
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        _get(api).json()
    assert _get(api).status_code == 200


@pytest.mark.parametrize("drift,check", [
    ("rename", lambda i: "category_name" in i and "category" not in i),
    ("missing", lambda i: "urgency" not in i),
    ("extra", lambda i: i["source_system"] == "12345-v2"),
])
def test_fault_schema_drift(api, drift, check):
    api.post("/admin/faults", json={"schema_drift": drift})
    assert all(check(i) for i in _get(api).json()["items"])


def test_fault_bad_rows(api):
    normal = _get(api).json()["items"]
    assert all(valid_uscc(i["enterprise_uscc"]) for i in normal if i["enterprise_uscc"])
    expect = {
        "invalid_uscc": lambda items: any(i["enterprise_uscc"] and not valid_uscc(i["enterprise_uscc"]) for i in items),
        "unknown_compound": lambda items: items[0]["compound_id"] == "XQ9999",
        "closed_before_received": lambda items: items[0]["event_type"] == "CLOSED" and items[0]["event_at"] < items[0]["received_at"],
        "future_date": lambda items: items[0]["event_at"].startswith("2099"),
        "duplicate_key_conflict": lambda items: items[0]["event_id"] == items[1]["event_id"] and items[0] != items[1],
        "excel_date_serial": lambda items: isinstance(items[0]["received_at"], float),
        "out_of_range": lambda items: items[0]["escalation_level"] == 7,
    }
    for kind, ok in expect.items():
        api.post("/admin/faults", json={"reset": True, "bad_rows": [kind]})
        assert ok(_get(api).json()["items"]), kind
    api.post("/admin/faults", json={"reset": True, "bad_rows": ["gbk_text"]})
    body = _get(api).content
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert json.loads(body.decode("gbk"))["count"] == 50
    api.post("/admin/faults", json={"reset": True, "bad_rows": ["empty_file"]})
    r = _get(api)
    assert r.status_code == 200 and r.content == b""
    assert api.post("/admin/faults", json={"bad_rows": ["nonsense"]}).status_code == 422
