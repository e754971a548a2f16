"""A small, deterministic raw layer for testing the dbt models without the ingestion.

It creates `raw.<feed>` tables shaped like the ingestion's (`_batch_id`, `_interval_start`,
`_row_number`, then one column per contract field; pii fields as `<name>_hash`) and
`raw.batch_log` with the ingestion's own DDL (shumei.ingest.schema), and loads hand-made data: 140 urban compounds of which 131 under property service
at 2022-12-31 (the seed's baseline), registry snapshots on a few days, hotline events in daily
batches that overlap (the same event in two batches), and credit records.

`load(conn, until)` loads every batch whose interval starts on or before `until`, so a test can
load part of the history, build, load the rest and build incrementally.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random

import psycopg

FEEDS: dict[str, list[tuple[str, str]]] = {
    "registry_communities": [
        ("community_code", "text"), ("community_name", "text"), ("town_code", "text"), ("town_name", "text"),
        ("has_alliance", "text"), ("alliance_date", "date"), ("has_joint_meeting", "text"),
        ("joint_meeting_date", "date")],
    "registry_compounds": [
        ("compound_id", "text"), ("compound_name", "text"), ("town_code", "text"), ("town_name", "text"),
        ("community_code", "text"), ("community_name", "text"), ("address", "text"),
        ("is_urban_residential", "text"), ("households", "bigint"), ("buildings", "bigint"),
        ("built_year", "bigint"), ("service_mode", "text"), ("has_property_service", "text"),
        ("enterprise_uscc", "text"), ("enterprise_name", "text"), ("service_start_date", "date"),
        ("ledger_date", "date")],
    "registry_enterprises": [
        ("enterprise_uscc", "text"), ("enterprise_name", "text"), ("registered_area_code", "text"),
        ("is_local", "text"), ("is_state_owned", "text"), ("legal_representative", "text"),
        ("has_party_org", "text"), ("party_org_type", "text"), ("party_org_date", "date"),
        ("served_compounds", "bigint"), ("ledger_date", "date")],
    "registry_owners_committees": [
        ("committee_id", "text"), ("compound_id", "text"), ("committee_type", "text"), ("formed_date", "date"),
        ("term_no", "bigint"), ("term_start_date", "date"), ("term_end_date", "date"), ("members", "bigint"),
        ("party_members", "bigint"), ("director_is_community_cadre", "text"), ("status", "text"),
        ("dissolved_date", "date")],
    "registry_party_orgs": [
        ("org_id", "text"), ("compound_id", "text"), ("org_form", "text"), ("org_name", "text"),
        ("formed_date", "date"), ("party_members", "bigint"), ("secretary_source", "text")],
    "registry_agreements": [
        ("agreement_id", "text"), ("enterprise_uscc", "text"), ("enterprise_name", "text"),
        ("community_code", "text"), ("community_name", "text"), ("signed_date", "date")],
    "registry_service_projects": [
        ("project_id", "text"), ("enterprise_uscc", "text"), ("community_code", "text"), ("project_name", "text"),
        ("claim_year", "bigint"), ("claimed_date", "date"), ("status", "text"), ("completed_date", "date")],
    "registry_demonstrations": [
        ("title_id", "text"), ("object_type", "text"), ("object_id", "text"), ("object_name", "text"),
        ("title_level", "text"), ("title_name", "text"), ("awarded_date", "date")],
    "hotline_events": [
        ("event_id", "text"), ("order_id", "text"), ("event_seq", "bigint"), ("channel", "text"),
        ("duplicate_of", "text"), ("received_at", "timestamptz"), ("request_type", "text"), ("category", "text"),
        ("urgency", "text"), ("compound_id", "text"), ("community_code", "text"), ("town_code", "text"),
        ("enterprise_uscc", "text"), ("caller_name_hash", "text"), ("caller_phone_hash", "text"),
        ("summary", "text"), ("event_type", "text"), ("raw_status", "text"), ("event_at", "timestamptz"),
        ("updated_at", "timestamptz"), ("due_at", "timestamptz"), ("new_due_at", "timestamptz"),
        ("escalation_level", "bigint"), ("satisfaction", "text"), ("resolved_rating", "text"),
        ("complaint_verified", "boolean"), ("operator_unit", "text"), ("note", "text")],
    "credit_events": [
        ("credit_event_id", "text"), ("enterprise_uscc", "text"), ("enterprise_name", "text"),
        ("event_type", "text"), ("event_type_zh", "text"), ("conduct", "text"), ("event_date", "date"),
        ("record_date", "date"), ("result", "text"), ("score", "numeric"), ("is_veto", "boolean"),
        ("compound_id", "text"), ("related_order_id", "text"), ("document_no", "text"),
        ("issuing_unit", "text"), ("description", "text")],
}

SNAPSHOT_DAYS = [dt.date(2022, 12, 30), dt.date(2022, 12, 31), dt.date(2023, 3, 31), dt.date(2023, 6, 30),
                 dt.date(2023, 7, 31), dt.date(2023, 12, 31), dt.date(2024, 3, 31), dt.date(2024, 6, 30)]
SH = dt.timezone(dt.timedelta(hours=8))
COMMUNITIES = [f"3415231000{n:02d}" for n in range(1, 13)] + [f"3415234000{n:02d}" for n in range(1, 5)]
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def uscc(n: int) -> str:
    body = f"91341523MA2{n:06d}"
    check = (31 - sum(_ALPHABET.index(c) * w for c, w in zip(body, _WEIGHTS, strict=True)) % 31) % 31
    return body + _ALPHABET[check]


ENTERPRISES = [uscc(n) for n in range(1, 11)]


def town_of(community: str) -> str:
    return community[:9] + "000"


def _registry(day: dt.date) -> dict[str, list[dict]]:
    """The full ledger as of `day`."""
    compounds, committees, orgs = [], [], []
    for i in range(1, 141):
        cid = f"XQ{i:04d}"
        if i == 140 and day >= dt.date(2024, 3, 31):
            continue  # demolished: disappears from the ledger (deleted)
        comm = COMMUNITIES[(i - 1) % len(COMMUNITIES)]
        # 131 served at 2022-12-31; the 9 others gain service during 2023 (one per snapshot step)
        served = i <= 131 or day >= dt.date(2023, 12, 31) or (i <= 134 and day >= dt.date(2023, 6, 30))
        ent = ENTERPRISES[i % 10] if served else None
        if i == 5 and day >= dt.date(2023, 7, 31):
            ent = ENTERPRISES[9]  # change of enterprise: a new SCD2 version
        compounds.append(dict(
            compound_id=cid, compound_name=f"小区{i}", town_code=town_of(comm), town_name="城关镇",
            community_code=comm, community_name=f"社区{comm[-2:]}", address=f"路{i}号",
            is_urban_residential="是", households=100 + i, buildings=5, built_year=2005,
            service_mode="专业化物业服务" if served else "无物业管理", has_property_service="是" if served else "否",
            enterprise_uscc=ent, enterprise_name=f"企业{ent[-4:]}" if ent else None,
            service_start_date=dt.date(2020, 1, 1) if served else None, ledger_date=dt.date(2020, 1, 1)))
        # owners' committees: 70 at baseline, 100 from 2023-07-31, 130 from 2024-06-30
        n_comm = 70 if day < dt.date(2023, 7, 31) else (100 if day < dt.date(2024, 6, 30) else 130)
        if i <= n_comm:
            committees.append(dict(
                committee_id=f"YWH{i:04d}", compound_id=cid, committee_type="业主委员会", formed_date=dt.date(2021, 5, 1),
                term_no=1, term_start_date=dt.date(2021, 5, 1), term_end_date=dt.date(2026, 4, 30), members=5,
                party_members=3 if i % 3 else 2, director_is_community_cadre="否", status="正常履职", dissolved_date=None))
        n_org = 40 if day < dt.date(2023, 12, 31) else 80
        if i <= n_org:
            orgs.append(dict(org_id=f"DZB{(i + 1) // 2:04d}", compound_id=cid,
                             org_form="网格联合党支部" if i % 2 == 0 else "小区党支部", org_name=f"党支部{i}",
                             formed_date=dt.date(2022, 1, 1), party_members=10, secretary_source="小区居民党员"))
        elif i <= n_org + 5:
            orgs.append(dict(org_id=f"GZXZ{i:04d}", compound_id=cid, org_form="党的工作小组", org_name=f"工作小组{i}",
                             formed_date=dt.date(2022, 1, 1), party_members=3, secretary_source="小区居民党员"))
    served_count = {e: sum(1 for c in compounds if c["enterprise_uscc"] == e) for e in ENTERPRISES}
    enterprises = [dict(
        enterprise_uscc=e, enterprise_name=f"企业{e[-4:]}", registered_area_code="341523", is_local="是",
        is_state_owned="是" if k == 0 else "否", legal_representative=f"法人{k}",
        has_party_org="是" if k < (4 if day < dt.date(2023, 12, 31) else 8) else "否",
        party_org_type="独立党支部" if k < 8 else None, party_org_date=dt.date(2022, 6, 1) if k < 8 else None,
        served_compounds=served_count[e], ledger_date=dt.date(2020, 1, 1)) for k, e in enumerate(ENTERPRISES)]
    communities = [dict(
        community_code=c, community_name=f"社区{c[-2:]}", town_code=town_of(c), town_name="城关镇",
        has_alliance="是" if (k < 10 or day >= dt.date(2023, 6, 30)) else "否", alliance_date=dt.date(2023, 3, 1),
        has_joint_meeting="是" if (k < 8 or day >= dt.date(2023, 6, 30)) else "否",
        joint_meeting_date=dt.date(2023, 3, 1)) for k, c in enumerate(COMMUNITIES)]
    agreements = [dict(agreement_id=f"LJ{k:05d}", enterprise_uscc=e, enterprise_name=f"企业{e[-4:]}",
                       community_code=COMMUNITIES[k], community_name="社区", signed_date=dt.date(2023, 4, 1))
                  for k, e in enumerate(ENTERPRISES[:6]) if day >= dt.date(2023, 6, 30) or k < 3]
    projects = []
    for k, e in enumerate(ENTERPRISES[:8]):
        for year in (2023, 2024):
            for p in range(2 if k % 2 == 0 else 1):
                claimed = dt.date(year, 3, 1 + p)
                if claimed <= day:
                    projects.append(dict(project_id=f"XM{year}{k:04d}{p:04d}", enterprise_uscc=e,
                                         community_code=COMMUNITIES[k], project_name=f"项目{k}-{p}", claim_year=year,
                                         claimed_date=claimed, status="已认领", completed_date=None))
    demos = []
    for k in range(6):
        if day >= dt.date(2023, 12, 31) or k < 2:
            demos.append(dict(title_id=f"SF{k:05d}", object_type="小区", object_id=f"XQ{k + 1:04d}",
                              object_name=f"小区{k + 1}", title_level="市级" if k < 5 else "县级", title_name="示范点",
                              awarded_date=dt.date(2023, 11, 1)))
            demos.append(dict(title_id=f"SF9{k:04d}", object_type="物业企业", object_id=ENTERPRISES[k],
                              object_name="企业", title_level="市级", title_name="示范企业", awarded_date=dt.date(2023, 11, 1)))
    return {"registry_compounds": compounds, "registry_owners_committees": committees,
            "registry_party_orgs": orgs, "registry_enterprises": enterprises, "registry_communities": communities,
            "registry_agreements": agreements, "registry_service_projects": projects,
            "registry_demonstrations": demos}


REQUEST_TYPES = ["投诉", "投诉", "求助", "咨询", "举报"]


def _orders(n_orders: int = 120) -> list[dict]:
    """Hotline events of n_orders orders received 2023-01-03 .. 2024-06-20 (more orders = denser)."""
    r = random.Random(20230306)
    events = []
    spacing = dt.timedelta(days=4 * 120 / n_orders)
    for n in range(n_orders):
        received = dt.datetime(2023, 1, 3, 9, tzinfo=SH) + n * spacing + dt.timedelta(hours=r.randint(0, 8))
        oid = f"WO{n:05d}"
        comm = COMMUNITIES[n % len(COMMUNITIES)]
        cid = f"XQ{(n % 130) + 1:04d}" if n % 11 else f"XQ{(n % 3) + 1:04d}"
        header = dict(order_id=oid, channel="12345", duplicate_of=None, received_at=received,
                      request_type=REQUEST_TYPES[n % 5], category="物业收费" if n % 2 else "电梯故障",
                      urgency="紧急" if n % 17 == 0 else "一般", compound_id=cid, community_code=comm,
                      town_code=town_of(comm), enterprise_uscc=ENTERPRISES[n % 10],
                      caller_name_hash=hashlib.sha256(f"name{n % 40}".encode()).hexdigest(),
                      caller_phone_hash=hashlib.sha256(f"phone{n - 1 if n % 4 == 1 else n}".encode()).hexdigest(),
                      summary="诉求", operator_unit="12345")
        due = received + dt.timedelta(days=14 if n % 17 else 1)
        steps = [("RECEIVED", 0), ("DISPATCHED", 1), ("SIGNED", 3 if n % 7 else 30)]
        if n % 6 == 0:
            steps.append(("EXTENDED", 48))
        if n % 9 == 0:
            steps.append(("ESCALATED", 50))
        closes_after = 24 * (2 + n % 12)
        steps += [("REPLIED", closes_after - 2), ("CLOSED", closes_after), ("VISITED", closes_after + 20)]
        level = 1
        for seq, (etype, hours) in enumerate(steps, start=1):
            at = received + dt.timedelta(hours=hours)
            if etype == "ESCALATED":
                level = 2 if n % 2 else 3
            late = dt.timedelta(days=3 if n % 13 == 0 and etype == "VISITED" else 0)
            events.append(dict(header, event_id=f"{oid}-{seq}", event_seq=seq, event_type=etype, raw_status=etype,
                               event_at=at, updated_at=at + late, due_at=due if etype != "RECEIVED" else None,
                               new_due_at=due + dt.timedelta(days=7) if etype == "EXTENDED" else None,
                               escalation_level=level,
                               satisfaction=(["满意", "基本满意", "不满意", "未评价"][n % 4]) if etype == "VISITED" else None,
                               resolved_rating=(["已解决", "已解决", "未解决", "未评价"][n % 4]) if etype == "VISITED" else None,
                               complaint_verified=(n % 5 == 0) if etype == "REPLIED" else None, note=None))
            if etype == "EXTENDED":
                due = due + dt.timedelta(days=7)
        if n % 10 == 3:  # the same complaint also arrived from 12319: a copy pointing to the original
            events.append(dict(header, order_id=f"Z{oid}", channel="12319", duplicate_of=oid,
                               event_id=f"Z{oid}-1", event_seq=1, event_type="RECEIVED", raw_status="已受理",
                               event_at=received + dt.timedelta(hours=1), updated_at=received + dt.timedelta(hours=1),
                               due_at=None, new_due_at=None, escalation_level=1, satisfaction=None,
                               resolved_rating=None, complaint_verified=None, note=None))
    return events


def _credit() -> list[dict]:
    rows = []
    plan = [("RANDOM_INSPECTION", "守信", "合格", None, False), ("RANDOM_INSPECTION", "失信", "不合格", None, False),
            ("AWARD", "守信", "市级", None, False), ("PENALTY", "失信", "罚款", None, False),
            ("THIRD_PARTY_EVALUATION", "守信", "优秀", 92, False), ("SATISFACTION_SURVEY", "失信", None, 65, False),
            ("PARTY_ANNUAL_EVALUATION", "守信", "优秀", None, False), ("COMPLAINT_VERIFIED", "失信", "查实", None, False)]
    for k, e in enumerate(ENTERPRISES):
        for j, (etype, conduct, result, score, veto) in enumerate(plan):
            if (k + j) % 3 == 0:
                continue
            day = dt.date(2023, 1 + (k + j) % 12, 10)
            rows.append(dict(credit_event_id=f"XY{day:%Y%m%d}ABC{k:02d}{j:02d}", enterprise_uscc=e,
                             enterprise_name="企业", event_type=etype, event_type_zh=etype, conduct=conduct,
                             event_date=day, record_date=day, result=result, score=score, is_veto=veto,
                             compound_id=None, related_order_id=None, document_no=None, issuing_unit="县住建局",
                             description="记录"))
    rows.append(dict(credit_event_id="XY20240115VET0001", enterprise_uscc=ENTERPRISES[9], enterprise_name="企业",
                     event_type="PENALTY", event_type_zh="行政处罚", conduct="失信", event_date=dt.date(2024, 1, 15),
                     record_date=dt.date(2024, 1, 15), result="挪用专项维修资金", score=None, is_veto=True,
                     compound_id=None, related_order_id=None, document_no="舒罚1号", issuing_unit="县住建局",
                     description="挪用专项维修资金"))
    return rows


def batches(n_orders: int = 120) -> list[tuple[str, dt.date, list[dict]]]:
    """(feed, interval_start, rows) of every batch, in load order."""
    out: list[tuple[str, dt.date, list[dict]]] = []
    for day in SNAPSHOT_DAYS:
        for feed, rows in _registry(day).items():
            out.append((feed, day, rows))
    by_day: dict[dt.date, list[dict]] = {}
    for ev in _orders(n_orders):
        day = ev["updated_at"].astimezone(SH).date()
        by_day.setdefault(day, []).append(ev)
        # overlapping pages: an event recorded just before midnight is delivered again the next day
        if ev["updated_at"].astimezone(SH).hour >= 15:
            by_day.setdefault(day + dt.timedelta(days=1), []).append(ev)
    for day in sorted(by_day):
        out.append(("hotline_events", day, by_day[day]))
    by_credit: dict[dt.date, list[dict]] = {}
    for row in _credit():
        by_credit.setdefault(row["record_date"], []).append(row)
    for day in sorted(by_credit):
        out.append(("credit_events", day, by_credit[day]))
    return out


def create(conn: psycopg.Connection) -> None:
    """A fresh raw layer with the warehouse's own DDL step (shumei.migrations: the feed tables from the
    contracts)."""
    from migrated import fresh_migrated

    fresh_migrated(conn)


def load(conn: psycopg.Connection, until: dt.date | None = None, since: dt.date | None = None,
         n_orders: int = 120) -> int:
    """Load the batches with since < interval_start <= until, replacing any earlier batch of that day.
    Returns the number of batches loaded."""
    loaded = 0
    with conn.cursor() as cur:
        for feed, day, rows in batches(n_orders):
            if (until is not None and day > until) or (since is not None and day <= since):
                continue
            names = [name for name, _ in FEEDS[feed]]
            cur.execute(f"delete from raw.{feed} where _interval_start = %s", (day,))
            cur.execute("update raw.batch_log set status = 'superseded' where feed = %s and interval_start = %s",
                        (feed, day))
            cur.execute("insert into raw.batch_log (source, feed, interval_start, interval_end, file_or_page, "
                        "received_at, rows_received, rows_loaded, rows_rejected, checksum, status) "
                        "values (%s, %s, %s, %s, 'fixture', %s, %s, %s, 0, 'fixture', 'loaded') returning batch_id",
                        (feed.split("_")[0], feed, day, day + dt.timedelta(days=1),
                         dt.datetime.combine(day + dt.timedelta(days=1), dt.time(2), SH), len(rows), len(rows)))
            batch_id = cur.fetchone()[0]
            with cur.copy(f"copy raw.{feed} (_batch_id, _interval_start, _row_number, {', '.join(names)}) "
                          "from stdin") as copy:
                for k, row in enumerate(rows, start=1):
                    copy.write_row([batch_id, day, k, *[row.get(name) for name in names]])
            loaded += 1
    conn.commit()
    return loaded


if __name__ == "__main__":  # python tests/dbt/raw_fixture.py "postgresql://..." [n_orders]
    import sys

    with psycopg.connect(sys.argv[1]) as c:
        create(c)
        print(load(c, n_orders=int(sys.argv[2]) if len(sys.argv) > 2 else 120), "batches")  # noqa: T201
