"""Reader queries on the disclosure tables at county scale: EXPLAIN ANALYZE timings.

    .venv/bin/python bench/disclosure_queries.py            # --releases N, --orders N

Starts its own throwaway embedded PostgreSQL, publishes one release per month end (48 by default,
2022-12 .. 2026-11) through `shumei.publish.publish` with county-sized candidates (320 compounds in
23 towns, 31 enterprises, 66,000 work orders over the four years: the sizes of the county build), each
release finalising the previous month and moving the orders of the last two months on (so the tables
hold the versions a real history would), then times the usual reader queries as the statistics
office's role runs them (median of 7 runs of EXPLAIN ANALYZE, Execution Time). Appends to results.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace

RESULTS = Path(__file__).with_name("results.md")
TOWNS = [f"341523{c}000" for c in ("100", "101", "102", "103", "104", "105", "106", "107", "108", "109", "110",
                                    "111", "112", "113", "114", "200", "201", "202", "203", "204", "205", "400")]
TOWNS.append("341523115000")  # 23 town-level codes

CANDIDATES_SQL = """
delete from published_candidate.compound_status_list;
delete from published_candidate.enterprise_credit_list;
delete from published_candidate.work_orders;
with months as (
    select (d + interval '1 month - 1 day')::date as month_end_date
    from generate_series('2022-12-01'::date, %(last_month)s::date, interval '1 month') d)
insert into published_candidate.compound_status_list
select 'C' || lpad(c::text, 4, '0'), m.month_end_date, '小区' || c, left((%(towns)s::text[])[1 + c %% 23], 9) || '001',
       (%(towns)s::text[])[1 + c %% 23], c %% 2 = 0, case when (c + extract(month from m.month_end_date)::int) %% 17 = 0
       then 'none' else 'professional' end, (c + extract(month from m.month_end_date)::int) %% 17 <> 0,
       '91341523MA2N' || lpad((c %% 31)::text, 6, '0'), '企业' || c %% 31, c %% 3 = 0, 'owners_committee', c %% 5 = 0,
       c %% 4 = 0, false, case when c %% 4 = 0 then 'compound_branch' else 'none' end, true, c %% 50 = 0,
       m.month_end_date = (%(last_month)s::date + interval '1 month - 1 day')::date
from months m cross join generate_series(1, 320) c;
with months as (
    select (d + interval '1 month - 1 day')::date as month_end_date
    from generate_series('2022-12-01'::date, %(last_month)s::date, interval '1 month') d)
insert into published_candidate.enterprise_credit_list
select '91341523MA2N' || lpad(e::text, 6, '0'), m.month_end_date, '企业' || e,
       55 + (e * 7 + extract(month from m.month_end_date)::int) %% 40, null, null, false, 'v1', 0, 0, 1, 0, 1,
       'complaint_substantiated:1', null, (%(towns)s::text[])[1 + e %% 23], 5, true,
       m.month_end_date = (%(last_month)s::date + interval '1 month - 1 day')::date
from months m cross join generate_series(0, 30) e;
update published_candidate.enterprise_credit_list set credit_grade = case when credit_score >= 85 then 'AAA'
    when credit_score >= 80 then 'AA' when credit_score >= 70 then 'A' when credit_score >= 60 then 'B' else 'C' end,
    score_grade = credit_grade;
insert into published_candidate.work_orders
select 'JS' || lpad(o::text, 8, '0'), 'C' || lpad((1 + o %% 320)::text, 4, '0'), '小区' || (1 + o %% 320),
       left((%(towns)s::text[])[1 + (1 + o %% 320) %% 23], 9) || '001', (%(towns)s::text[])[1 + (1 + o %% 320) %% 23],
       '12345', 'complaint', 'property_repair', '维修维护', 'Repairs', 'normal', r.received_at,
       (r.received_at at time zone 'Asia/Shanghai')::date, r.received_at + interval '3 hours',
       case when r.received_at < %(cut)s::timestamptz - interval '20 days' then r.received_at + interval '6 days' end,
       r.received_at + interval '14 days', 'source',
       least(%(cut)s::timestamptz, r.received_at + interval '6 days'),
       case when r.received_at < %(cut)s::timestamptz - interval '20 days' then 'VISITED' else 'SIGNED' end,
       case when r.received_at < %(cut)s::timestamptz - interval '20 days' then 'closed' else 'open' end,
       1, true, true
from generate_series(1, %(orders)s) o
cross join lateral (select '2022-12-01 08:00+08'::timestamptz
                           + (o::numeric / %(orders)s) * interval '1461 days' as received_at) r
where r.received_at < %(cut)s::timestamptz;
"""

QUERIES = {
    "town's compounds without property service, a month (latest)":
        "select compound_name, community_name_zh from published.v_compound_status_list"
        " where town_code = '341523100000' and month_end_date = '2025-06-30' and not has_property_service",
    "town's compound list, a month, in release {r}":
        "select * from published.compound_status_list_in_release({r})"
        " where town_code = '341523100000' and month_end_date = '2025-03-31'",
    "town's compound list, a month, as of 2025-01-15":
        "select * from published.compound_status_list_as_of('2025-01-15')"
        " where town_code = '341523100000' and month_end_date = '2024-12-31'",
    "an enterprise's credit history (latest)":
        "select month_end_date, credit_score, credit_grade from published.v_enterprise_credit_list"
        " where enterprise_uscc = '91341523MA2N000007' order by month_end_date",
    "an enterprise's credit history in release {r}":
        "select month_end_date, credit_grade from published.enterprise_credit_list_in_release({r})"
        " where enterprise_uscc = '91341523MA2N000007' order by month_end_date",
    "C-rated enterprises of a month (latest)":
        "select enterprise_uscc, enterprise_name, credit_score from published.v_enterprise_credit_list"
        " where month_end_date = '2025-06-30' and credit_grade = 'C'",
    "one order by id (latest)":
        "select * from published.v_work_orders where work_order_id = 'JS00040000'",
    "one order by id, Open311 view":
        "select * from published.v_open311_requests where service_request_id = 'JS00040000'",
    "one order through every release (全程跟踪)":
        "select r.release_id, w.status_code, w.closed_at from published.release_log r"
        " cross join lateral published.work_orders_in_release(r.release_id) w"
        " where w.work_order_id = 'JS00062000' order by r.release_id",
    "a town's orders of a month (latest)":
        "select count(*) from published.v_work_orders where town_code = '341523100000'"
        " and received_date >= '2025-06-01' and received_date < '2025-07-01'",
}


def month_ends(n: int) -> list[date]:
    out, y, m = [], 2022, 12
    for _ in range(n):
        out.append(date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--releases", type=int, default=48)
    parser.add_argument("--orders", type=int, default=66_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    import psycopg
    from scratch import scratch_warehouse
    from shumei.migrations import migrate
    from shumei.publish import publish
    from shumei.publish.tables import DISCLOSURE_TABLES

    audit = SimpleNamespace(passed=True, target="indicator_candidate", candidate_checksum=None)
    with scratch_warehouse() as (server, env, work):
        with psycopg.connect(env["SHUMEI_WAREHOUSE_URL"], autocommit=True) as conn:
            conn.execute("create schema published_candidate; create table published_candidate.indicator_values ("
                         "indicator_code text, area_code text, area_level text, period_type text, period_start date,"
                         " period_end date, breakdown_type text, breakdown_code text, numerator numeric,"
                         " denominator numeric, value numeric, unit text, target numeric, deadline date,"
                         " target_met boolean, is_provisional boolean)")
            for t in DISCLOSURE_TABLES:
                conn.execute(f"create table {t.candidate} ({', '.join(f'{c} {ty}' for c, ty in t.columns)})")
            migrate(conn)
            publish_seconds = []
            for month in month_ends(args.releases):
                cut = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
                params = {"last_month": month, "towns": TOWNS, "orders": args.orders, "cut": f"{cut} 00:00+08"}
                for statement in filter(str.strip, CANDIDATES_SQL.split(";\n")):
                    conn.execute(statement, params if "%(" in statement else None)
                started = time.perf_counter()
                result = publish(conn, cut, "bench", audit)
                publish_seconds.append(time.perf_counter() - started)
                conn.execute("update published.release_log set published_at = %s::timestamptz + interval '9 hours'"
                             " where release_id = %s", (cut, result.release_id))
            conn.execute("vacuum analyze")
            sizes = {t.name: conn.execute(f"select count(*), count(*) filter (where valid_to_release is null)"
                                          f" from {t.table}").fetchone() for t in DISCLOSURE_TABLES}
        print("stored rows (all versions, current):", sizes, flush=True)
        print(f"publish(): median {statistics.median(publish_seconds):.2f} s, last {publish_seconds[-1]:.2f} s", flush=True)
        timings = {}
        mid = {"r": max(1, args.releases * 5 // 8)}
        with psycopg.connect(env["SHUMEI_STATS_URL"], autocommit=True) as conn:
            for label, query in ((k.format(**mid), v.format(**mid)) for k, v in QUERIES.items()):
                runs = []
                for _ in range(args.runs):
                    plan = [r[0] for r in conn.execute("explain (analyze, timing off) " + query)]
                    runs.append(float(next(p for p in plan if p.startswith("Execution Time")).split()[2]))
                timings[label] = statistics.median(runs)
                print(f"{timings[label]:8.3f} ms  {label}", flush=True)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL 18 (embedded)"
    stored = ", ".join(f"{name} {total:,} ({current:,} current)" for name, (total, current) in sizes.items())
    lines = [f"\n## Disclosure reader queries (bench/disclosure_queries.py), {date.today()}, {machine}\n",
             f"{args.releases} monthly releases; stored rows: {stored}. `publish()` (values candidate empty, the"
             f" three lists versioned): median {statistics.median(publish_seconds):.2f} s, last release"
             f" {publish_seconds[-1]:.2f} s. Reader queries: median of {args.runs} EXPLAIN ANALYZE runs"
             " as the shumei_stats role.\n", "| query | ms |", "| --- | --- |"]
    lines += [f"| {label} | {ms:.3f} |" for label, ms in timings.items()]
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
