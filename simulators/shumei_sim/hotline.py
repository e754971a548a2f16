"""Hotline work orders (12345, 12319, smart property platform) and their status-change events.

Each order's whole lifecycle is drawn at receipt time from an RNG keyed by (seed, day), so the events
of an order never depend on the end date; the store keeps only events recorded (updated_at) up to
the end date, and a later run appends the rest.

Callers call again: when an order's lifecycle is drawn, an RNG keyed by (seed, order id) decides
whether the same caller calls again (likelier after an unresolved or unsatisfied visit) and draws that
follow-up order whole (received on a later day, mostly within 30 days after the first order closed,
mostly about the same category). A few callers are residents of a compound's stable pool of frequent
callers (keyed by seed, compound and slot). No state crosses days: the orders of day d and their
follow-ups depend only on (seed, d), the ledger on day d and keyed draws.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import sqlite3
from pathlib import Path

from .common import TZ, add_workdays, is_festival, iso, local_dt, person_name, phone, rng, verified_share
from .specs import CATEGORIES, EVENT_TYPES, HOTLINE_EVENTS

D = dt.date
H = dt.timedelta(hours=1)
PLATFORM_LIVE = D(2023, 11, 15)  # the smart property platform goes live (seed task 11: by end of 2023)
FOLLOW_UP_MAX_DAYS = 99  # a follow-up order is received at most this many days after the day of its first order
# no order received on day d, nor its follow-up, has events recorded later than d + LIFECYCLE_MAX_DAYS
# (a lifecycle lasts under 60 days; 120 days after the follow-up's receipt is a wide margin)
LIFECYCLE_MAX_DAYS = FOLLOW_UP_MAX_DAYS + 120
BASE_VOLUME = 32.1  # first calls a day (county, before 2024); follow-ups add about 11 %
RESIDENT_POOL = 3  # frequent callers per compound
RESIDENT_SHARE = 0.05  # share of first calls made by one of them
MONTH = [1.15, 0.85, 0.95, 1.0, 1.05, 1.2, 1.35, 1.35, 1.1, 0.9, 0.95, 1.15]
# relative frequency of the categories (the contract's allowed values; one it adds gets DEFAULT_CAT_W)
CAT_W = {"物业服务质量": 14, "物业收费": 10, "电梯故障": 7, "供水排水": 8, "消防安全": 4, "环境卫生": 9, "绿化养护": 4,
         "停车管理": 9, "门禁安保": 5, "噪音扰民": 6, "违章搭建": 4, "装修管理": 4, "公共收益": 3, "维修资金": 2,
         "业委会事务": 3, "其他物业问题": 4}
DEFAULT_CAT_W = 2
SUMMER = {"供水排水", "绿化养护", "电梯故障", "噪音扰民", "环境卫生"}
TYPE_W = {"投诉": 55, "求助": 18, "咨询": 15, "举报": 4, "建议": 4, "感谢": 2, "其他": 2}
SUMMARIES = {
    "物业服务质量": ["物业人员服务态度差，报修无人处理", "小区保洁不到位，楼道长期无人打扫", "物业不履行合同约定的服务内容"],
    "物业收费": ["物业费上涨未经业主大会同意", "物业强制收取车位管理费", "对物业费收费标准有疑问"],
    "电梯故障": ["电梯频繁故障，多次困人", "电梯年检过期仍在运行", "电梯停运超过一周无人维修"],
    "供水排水": ["小区二次供水水压不足", "下水道堵塞污水外溢", "停水未提前通知"],
    "消防安全": ["消防通道被车辆占用", "楼道堆放杂物存在消防隐患", "消防设施损坏未修复"],
    "环境卫生": ["垃圾清运不及时，气味难闻", "小区蚊虫多，未进行消杀", "化粪池满溢"],
    "绿化养护": ["绿化带被毁种菜", "树木遮挡采光要求修剪", "绿化长期无人养护"],
    "停车管理": ["小区内乱停车严重", "外来车辆随意进出占用车位", "地下车库照明损坏"],
    "门禁安保": ["门禁损坏无人修理", "夜间无人值守，安全隐患", "小区监控损坏"],
    "噪音扰民": ["商铺夜间噪音扰民", "广场舞噪音扰民", "设备机房噪音大"],
    "违章搭建": ["业主在楼顶私搭乱建", "一楼业主侵占公共绿地搭建", "阳台违规外扩"],
    "装修管理": ["装修垃圾随意堆放", "装修时间违反规定", "装修破坏承重墙"],
    "公共收益": ["要求公开小区公共收益", "电梯广告收入去向不明"],
    "维修资金": ["申请使用专项维修资金流程咨询", "维修资金使用未公示"],
    "业委会事务": ["业委会换届选举程序有异议", "业委会成员不履职", "咨询如何成立业主委员会"],
    "其他物业问题": ["物业撤场后无人管理", "前期物业交接问题", "快递柜设置问题"],
}


def _summaries(cat: str) -> list[str]:
    return SUMMARIES.get(cat) or [f"反映{cat}相关问题"]  # a category of the contract the simulator has no texts for
COLUMNS = HOTLINE_EVENTS.names
PREFIX = {"12345": "RX", "12319": "JS", "smart_platform": "ZH"}


def daily_volume(seed: int, scale: int, d: D) -> int:
    r = rng(seed, "hotline-volume", d)
    mean = BASE_VOLUME * scale * MONTH[d.month - 1] * (1.1 if d >= D(2024, 1, 1) else 1.0)
    if d.weekday() >= 5:
        mean *= 0.75
    if is_festival(d):
        mean *= 0.55
    return max(0, round(r.gauss(mean, math.sqrt(mean) * 1.2)))


def _sla(received: dt.datetime, rtype: str, urgency: str) -> dt.datetime:
    if urgency == "特急":
        return received + 2 * H
    if urgency == "紧急":
        return received + 24 * H
    return add_workdays(received, 3 if rtype == "咨询" else 10)


def response_due(dispatched: dt.datetime, urgency: str) -> dt.datetime:
    """Default response limit (sign and first contact with the caller) from the dispatch: 特急 30 minutes,
    紧急 2 hours, 一般 the end (17:30) of the next working day."""
    if urgency == "特急":
        return dispatched + dt.timedelta(minutes=30)
    if urgency == "紧急":
        return dispatched + 2 * H
    return add_workdays(dispatched, 1)


def _work_after(ts: dt.datetime, r, lo_h: float, hi_h: float) -> dt.datetime:
    """ts plus a random delay, moved into office hours of a day."""
    t = ts + dt.timedelta(hours=r.uniform(lo_h, hi_h))
    if t.hour >= 18:
        t = dt.datetime.combine(t.date() + dt.timedelta(days=1), dt.time(8, r.randint(30, 59)), tzinfo=TZ)
    elif t.hour < 8:
        t = t.replace(hour=8, minute=r.randint(30, 59))
    return t


def _channel(r, platform: bool) -> str:
    x = r.random()
    return "smart_platform" if platform and x < 0.3 else ("12319" if x > 0.88 else "12345")


def _urgency(r) -> str:
    return "特急" if r.random() < 0.01 else ("紧急" if r.random() < 0.07 else "一般")


def _head(order_id, channel, received, rtype, cat, urgency, comp, uscc, unmatched, name, tel, summary) -> dict:
    return {"order_id": order_id, "channel": channel, "duplicate_of": None, "received_at": iso(received),
            "request_type": rtype, "category": cat, "urgency": urgency,
            "compound_id": None if unmatched else comp.id, "community_code": comp.community.code,
            "town_code": comp.community.code[:9] + "000", "enterprise_uscc": uscc,
            "caller_name": name, "caller_phone": tel,
            "summary": f"{'' if unmatched else comp.name}{summary}"}


def resident(seed: int, compound_id: str, slot: int) -> tuple[str, str]:
    """Name and phone of a compound's frequent caller (stable: keyed by seed, compound and slot)."""
    rr = rng(seed, "hotline-resident", compound_id, slot)
    return person_name(rr), phone(rr)


def orders_for_day(seed: int, scale: int, d: D, serving: list) -> tuple[list[dict], list[dict]]:
    """All events of the orders received on day d (any updated_at) and of their follow-up orders
    (received later), and the verified complaints."""
    r = rng(seed, "hotline", d)
    n = daily_volume(seed, scale, d)
    events: list[dict] = []
    verified: list[dict] = []
    if not serving:
        return events, verified
    cats = CATEGORIES
    weights = [CAT_W.get(c, DEFAULT_CAT_W) * (1.6 if (c in SUMMER and d.month in (6, 7, 8)) else 1.0) for c in cats]
    types, tw = list(TYPE_W), list(TYPE_W.values())
    platform = d >= PLATFORM_LIVE
    cum = list(itertools.accumulate(max(1.0, c.households / 100) * (2.5 if mode == "无物业管理" else 1.0)
                                    for c, mode, _ in serving))
    ymd = d.strftime("%Y%m%d")
    for seq in range(1, n + 1):
        channel = _channel(r, platform)
        prefix = PREFIX[channel]
        order_id = f"{prefix}{ymd}{seq:05d}"
        secs = int(min(86399, max(0, r.gauss(13.5 * 3600, 3.6 * 3600))))
        received = local_dt(d, secs)
        comp, mode, uscc = r.choices(serving, cum_weights=cum)[0]
        rtype = r.choices(types, weights=tw)[0]
        cat = r.choices(cats, weights=weights)[0]
        urgency = _urgency(r)
        unmatched = r.random() < 0.03
        if r.random() < RESIDENT_SHARE:
            name, tel = resident(seed, comp.id, r.randrange(RESIDENT_POOL))
        else:
            name, tel = person_name(r), phone(r)
        head = _head(order_id, channel, received, rtype, cat, urgency, comp, uscc, unmatched, name, tel,
                     r.choice(_summaries(cat)))
        evs = _lifecycle(r, head, received, rtype, urgency, uscc, comp.community.name, verified,
                         verified_share(seed, uscc))
        events.extend(evs)
        # the same complaint copied to 12319 by the upper level (上级转办): merged into the original
        if channel == "12345" and rtype in ("投诉", "举报") and r.random() < 0.15:
            copy_at = received + dt.timedelta(hours=r.uniform(2, 40))
            # numbered after the original (its day and sequence), so two copies never share an id
            copy = dict(head, order_id=f"JS{ymd}{50000 + seq:05d}", channel="12319",
                        duplicate_of=order_id, received_at=iso(copy_at))
            merged_at = _work_after(copy_at, r, 0.5, 6)
            for i, (etype, at, note) in enumerate([("RECEIVED", copy_at, None),
                                                   ("MERGED", merged_at, f"与{order_id}重复，并案办理")], start=1):
                events.append(_event(copy, i, etype, at, at + dt.timedelta(minutes=r.randint(1, 20)), None, 1,
                                     "县住建局12319热线", note=note))
        events.extend(_follow_up(seed, scale, d, seq, head, evs, comp, weights, verified))
    return events, verified


def _follow_up(seed, scale, d, seq, first, evs, comp, weights, verified) -> list[dict]:
    """The same caller calls again (or not): a whole follow-up order drawn from an RNG keyed by the first
    order. Likelier after an unresolved or unsatisfied last visit; mostly within 30 days after the first
    order closed and about the same category; some while it is still open, some after the 30 days."""
    closes = [e for e in evs if e["event_type"] in ("CLOSED", "DIRECT_ANSWERED")]
    if not closes:  # rejected
        return []
    rf = rng(seed, "hotline-again", first["order_id"])
    closed = dt.datetime.fromisoformat(closes[-1]["event_at"])
    visits = [e for e in evs if e["event_type"] == "VISITED"]
    last = visits[-1] if visits else None
    unsatisfied = last is not None and (last["resolved_rating"] == "未解决" or last["satisfaction"] == "不满意")
    unrated = last is None or last["satisfaction"] == "未评价"
    if rf.random() >= (0.5 if unsatisfied else (0.12 if unrated else 0.06)):
        return []
    received0 = dt.datetime.fromisoformat(first["received_at"])
    x = rf.random()
    if x < 0.1 and closed - received0 > dt.timedelta(days=3):  # chases the open order (催办)
        when = received0 + (closed - received0) * rf.uniform(0.3, 0.95)
    elif x < 0.85:  # within the 30-day repeat window, mostly in the first days
        when = closed + dt.timedelta(days=min(29.0, 0.3 + rf.expovariate(1 / 6)))
    else:  # later than the window
        when = closed + dt.timedelta(days=rf.uniform(31, 75))
    d1 = when.date()
    received = local_dt(d1, int(min(86399, max(0, rf.gauss(13.5 * 3600, 3.6 * 3600)))))
    if received <= closed and when > closed:
        received = closed + dt.timedelta(minutes=rf.randint(20, 240))
    d1 = received.date()
    gap = (d1 - d).days
    if not 0 <= gap <= FOLLOW_UP_MAX_DAYS or seq > 400 * scale:
        return []
    same = rf.random() < (0.88 if unsatisfied else 0.72)
    cat = first["category"]
    if not same:
        others = [(c, w) for c, w in zip(CATEGORIES, weights, strict=True) if c != cat]
        cat = rf.choices([c for c, _ in others], weights=[w for _, w in others])[0]
    if same and unsatisfied and rf.random() < 0.8:
        rtype = "投诉"
    else:
        rtype = rf.choices(list(TYPE_W), weights=list(TYPE_W.values()))[0]
    channel = _channel(rf, d1 >= PLATFORM_LIVE)
    urgency = _urgency(rf)
    unmatched = rf.random() < 0.03
    svc = comp.service_at(d1)  # the ledger as known on day d (a later change of company is not foreseen)
    uscc = svc[2] if svc else None
    if same:
        text = first["summary"].removeprefix(comp.name)
        summary = rf.choice(["再次反映：", "来电人再次来电，", "此前已反映，"]) + text + (
            "，问题仍未解决" if unsatisfied else "")
    else:
        summary = rf.choice(_summaries(cat))
    # numbered from 60000 by (days after the first order's day, its sequence): unique per prefix and day
    order_id = f"{PREFIX[channel]}{d1.strftime('%Y%m%d')}{60000 + gap * 400 * scale + seq - 1:05d}"
    head = _head(order_id, channel, received, rtype, cat, urgency, comp, uscc, unmatched,
                 first["caller_name"], first["caller_phone"], summary)
    return _lifecycle(rf, head, received, rtype, urgency, uscc, comp.community.name, verified,
                      verified_share(seed, uscc))


def _event(head: dict, seq: int, etype: str, at: dt.datetime, upd: dt.datetime, due, level: int, unit: str,
           **extra) -> dict:
    ev = dict(head)
    ev.update(event_id=f"{head['order_id']}-{seq:02d}", event_seq=seq, event_type=etype, raw_status=EVENT_TYPES[etype],
              event_at=iso(at), updated_at=iso(max(upd, at)), due_at=iso(due) if due else None, new_due_at=None,
              escalation_level=level, satisfaction=None, resolved_rating=None, complaint_verified=None,
              operator_unit=unit, note=None)
    ev.update(extra)
    return ev


def _contact(r, signed: dt.datetime, limit: dt.datetime, urgency: str) -> dt.datetime | None:
    """First contact with the caller after signing: None (about 2 %: never contacted before the reply),
    late (after the response limit: about 5 %, plus the orders signed after the limit), else on time."""
    x = r.random()
    if x < 0.02:
        return None
    if x < 0.07 or signed >= limit:
        if urgency == "一般":
            return _work_after(max(signed, limit), r, 0.3, 30)
        return max(signed, limit) + dt.timedelta(minutes=r.uniform(5, 180 if urgency == "紧急" else 90))
    if urgency == "一般":
        at = _work_after(signed, r, 0.1, 6)
        if at > limit:  # signed late on the last day: call before the end of it
            at = signed + (limit - signed) * r.uniform(0.1, 0.9)
        return at
    return signed + (limit - signed) * r.uniform(0.05, 0.95)


def _lifecycle(r, head, received, rtype, urgency, uscc, community_name, verified, p_verified) -> list[dict]:
    evs: list[dict] = []
    intake = {"12345": "县12345热线", "12319": "县住建局12319热线", "smart_platform": "智慧物业综合管理平台"}[head["channel"]]
    town_unit = "城关镇" if head["town_code"].startswith("341523100") else (
        "开发区管委会" if head["town_code"].startswith("341523400") else "县城管局")
    handler = "物业服务企业" if uscc else community_name
    level = 1

    def add(etype, at, unit, lag_p=0.05, **extra):
        lag = dt.timedelta(minutes=r.randint(1, 30))
        if r.random() < lag_p:  # entered into the system days later
            lag += dt.timedelta(days=r.randint(1, 5), hours=r.randint(0, 8))
        evs.append(_event(head, len(evs) + 1, etype, at, at + lag, due, level, unit, **extra))

    due = None
    add("RECEIVED", received, intake, lag_p=0.0)
    t = received
    if rtype == "咨询" and r.random() < 0.45:
        add("DIRECT_ANSWERED", t + dt.timedelta(minutes=r.randint(3, 40)), intake, lag_p=0.0, note="政策咨询已当场答复")
        return evs
    if r.random() < 0.015:
        add("REJECTED", t + dt.timedelta(minutes=r.randint(10, 300)), intake, note="不属于受理范围")
        return evs
    due = _sla(received, rtype, urgency)
    for attempt in range(2):  # original handling, then at most one reopen
        t = _work_after(t, r, 0.3, 4)
        add("DISPATCHED", t, "县城管局" if attempt == 0 else intake)
        if r.random() < 0.06:
            t = _work_after(t, r, 1, 20)
            add("RETURNED", t, town_unit, note="非本单位职责，申请退单")
            t = _work_after(t, r, 0.5, 4)
            add("DISPATCHED", t, "县城管局")
        limit = response_due(t, urgency)  # from the dispatch the handling unit signs
        if urgency == "一般":
            t = _work_after(t, r, 0.2, 10 if r.random() < 0.9 else 40)
        else:  # urgent orders are signed at once, also out of office hours
            t += dt.timedelta(minutes=r.uniform(2, 12) if urgency == "特急" else r.uniform(5, 70))
        add("SIGNED", t, town_unit)
        contacted = _contact(r, t, limit, urgency)
        if contacted is not None:  # the handler phones the caller (联系诉求人)
            t = contacted
            add("CONTACTED", t, handler, note="已电话联系诉求人，了解诉求")
        t = _work_after(t, r, 0.5, 20)
        add("IN_PROGRESS", t, handler)
        if r.random() < 0.18:
            level = 2 if r.random() < 0.78 else 3
            t = _work_after(t, r, 2, 48)
            add("ESCALATED", t, community_name if level == 2 else town_unit,
                note="社区党组织吹哨，协调处置" if level == 2 else "乡镇（开发区）党（工）委协调相关部门处置")
        if urgency == "一般" and r.random() < 0.08:
            new_due = add_workdays(due, 5)
            t = _work_after(t, r, 4, 60)
            add("EXTENDED", t, town_unit, new_due_at=iso(new_due), note="情况复杂，申请延期")
            due = new_due
        hours = {"特急": (0.5, 3), "紧急": (3, 36)}.get(urgency, (8, 24 * 12))
        if r.random() < 0.07 or level == 3:
            hours = (hours[0], hours[1] * 2.2)
        reply_at = _work_after(t, r, *hours)
        if reply_at > due and r.random() < 0.5:
            add("SUPERVISED", _work_after(due, r, 1, 24), "县城管局", note="超期督办")
        is_complaint = rtype in ("投诉", "举报")
        ver = is_complaint and uscc is not None and r.random() < p_verified
        add("REPLIED", reply_at, handler, complaint_verified=ver if is_complaint else None,
            note="经核查，反映问题属实，已督促整改" if ver else ("已联系来电人处理" if contacted else "已处理"))
        if ver:
            ev = evs[-1]
            verified.append({"order_id": head["order_id"], "uscc": uscc, "compound_id": head["compound_id"],
                             "event_date": reply_at.date(), "updated": dt.datetime.fromisoformat(ev["updated_at"]).date(),
                             "category": head["category"]})
        t = _work_after(reply_at, r, 0.5, 30)
        add("CLOSED", t, town_unit)
        t = _work_after(t, r, 20, 72)
        x = r.random()
        if x < 0.12:
            sat, res = "未评价", "未评价"
        else:
            sat = r.choices(["满意", "基本满意", "不满意"], weights=[62, 24, 14])[0]
            res = "未解决" if sat == "不满意" and r.random() < 0.8 else ("已解决" if r.random() < 0.93 else "未解决")
        add("VISITED", t, intake, lag_p=0.15, satisfaction=sat, resolved_rating=res)
        if attempt == 0 and res == "未解决" and r.random() < 0.35:
            t = _work_after(t, r, 1, 30)
            add("REOPENED", t, "县城管局", note="回访不满意，重新办理")
            due = _sla(t, rtype, urgency)
            continue
        break
    return evs


# ---------------------------------------------------------------- store
SCHEMA = f"""
create table if not exists events (
  updated_at text not null, event_id text not null, {', '.join(c + ' ' + ('integer' if c in ('event_seq', 'escalation_level') else 'text') for c in COLUMNS if c not in ('updated_at', 'event_id'))},
  primary key (updated_at, event_id)
) without rowid;
create table if not exists meta (key text primary key, value text);
"""


def open_store(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.executescript(SCHEMA)
    return con


def store_meta(con: sqlite3.Connection) -> dict:
    return dict(con.execute("select key, value from meta"))


def insert_events(con: sqlite3.Connection, events: list[dict]) -> None:
    cols = ["updated_at", "event_id", *[c for c in COLUMNS if c not in ("updated_at", "event_id")]]
    rows = [tuple((int(e[c]) if c == "complaint_verified" and e[c] is not None else e[c]) for c in cols) for e in events]
    con.executemany(f"insert or ignore into events ({', '.join(cols)}) values ({', '.join('?' * len(cols))})", rows)


def row_to_event(row: sqlite3.Row) -> dict:
    ev = {c: row[c] for c in COLUMNS}
    if ev["complaint_verified"] is not None:
        ev["complaint_verified"] = bool(ev["complaint_verified"])
    return ev
