"""Credit records of property enterprises, consistent with the ledger and the hotline.

Yearly campaigns (random inspections, surveys, third-party evaluations, the community party
organisation's annual evaluation) are scheduled per (seed, year); penalties and awards are drawn per
day; verified complaints come from the hotline orders (REPLIED with complaint_verified = true).
Rows are grouped by record_date = the feed day.

Each enterprise has a stable service quality (`common.enterprise_quality`, keyed by seed and USCC):
good enterprises get better inspections, surveys, evaluations and more awards, poor ones more
penalties and more complaints found true, so that the default scheme grades most enterprises A or
above, a few B and one or two C (docs/simulated_data.md).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from .common import enterprise_quality, rng
from .specs import CREDIT_EVENT_TYPES

D = dt.date
CODES = {"RANDOM_INSPECTION": "INS", "COMPLAINT_VERIFIED": "CPL", "PENALTY": "PEN", "AWARD": "AWD",
         "THIRD_PARTY_EVALUATION": "TPE", "SATISFACTION_SURVEY": "SAT", "PARTY_ANNUAL_EVALUATION": "PAE"}
UNITS = {"RANDOM_INSPECTION": "县城管局", "COMPLAINT_VERIFIED": "县城管局", "PENALTY": "县城管局",
         "AWARD": "县城管局", "THIRD_PARTY_EVALUATION": "第三方评价机构", "SATISFACTION_SURVEY": "县城管局",
         "PARTY_ANNUAL_EVALUATION": "社区党组织"}


def _conduct_for_score(score: float) -> str:
    return "守信" if score >= 90 else ("失信" if score < 70 else "中性")


class CreditFeed:
    def __init__(self, seed: int, ledger):
        self.seed, self.ledger = seed, ledger
        self.pending: dict[D, list[dict]] = {}  # verified complaints by record date

    def add_verified(self, items: list[dict]) -> None:
        for v in items:
            r = rng(self.seed, "credit-cpl", v["order_id"])
            rec = v["updated"] + dt.timedelta(days=r.randint(1, 3))
            self.pending.setdefault(rec, []).append(dict(v, record=rec))

    def quality(self, uscc: str) -> float:
        return enterprise_quality(self.seed, uscc)

    @lru_cache(maxsize=16)  # noqa: B019 - one feed object per run
    def _year(self, year: int) -> dict[D, list[tuple]]:
        """Campaign items of a year: {record_date: [(type, enterprise_index, event_date, r-seed)]}."""
        out: dict[D, list[tuple]] = {}
        for e in self.ledger.enterprises:
            r = rng(self.seed, "credit-year", e.uscc, year)
            items = []
            for lo, hi in ((D(year, 5, 10), D(year, 5, 31)), (D(year, 10, 10), D(year, 10, 31))):
                if r.random() < 0.3:
                    items.append(("RANDOM_INSPECTION", lo + dt.timedelta(days=r.randint(0, (hi - lo).days))))
            if year >= 2023:
                items.append(("SATISFACTION_SURVEY", D(year, 8, 20) + dt.timedelta(days=r.randint(0, 30))))
                items.append(("PARTY_ANNUAL_EVALUATION", D(year, 12, 15) + dt.timedelta(days=r.randint(0, 12))))
            if r.random() < 0.5:
                items.append(("THIRD_PARTY_EVALUATION", D(year, 11, 1) + dt.timedelta(days=r.randint(0, 29))))
            for kind, when in items:
                rec = when + dt.timedelta(days=r.randint(0, 5))
                out.setdefault(rec, []).append((kind, e.idx, when))
        return out

    def rows_for_day(self, d: D, served: dict[str, int]) -> list[dict]:
        """Records with record_date d. `served` = compounds served per USCC on day d."""
        ents = self.ledger.enterprises
        rows = []
        for kind, idx, when in self._year(d.year).get(d, []):
            e = ents[idx]
            if not served.get(e.uscc):
                continue
            r = rng(self.seed, "credit-item", kind, e.uscc, when)
            q = self.quality(e.uscc)
            row = self._row(e, kind, when, d)
            if kind == "RANDOM_INSPECTION":
                res = r.choices(["优秀", "合格", "责令整改", "不合格"],
                                weights=[4 + 30 * q ** 2, 60, 3 + 30 * (1 - q), 0.5 + 20 * (1 - q) ** 3])[0]
                row.update(result=res, conduct={"优秀": "守信", "合格": "中性"}.get(res, "失信"),
                           description=f"“双随机、一公开”物业服务监督检查：{res}",
                           document_no=f"舒城管检〔{when.year}〕{r.randint(1, 300)}号")
            elif kind == "SATISFACTION_SURVEY":
                score = round(min(99.0, max(50.0, r.gauss(63 + 30 * q, 5))), 1)
                row.update(score=score, result=f"满意度{score}%", conduct=_conduct_for_score(score),
                           description=f"{when.year}年度业主满意度测评")
            elif kind == "THIRD_PARTY_EVALUATION":
                score = round(min(99.0, max(55.0, r.gauss(66 + 27 * q, 5))), 1)
                row.update(score=score, result=f"{score}分", conduct=_conduct_for_score(score),
                           description=f"{when.year}年度物业服务质量第三方评价")
            elif kind == "PARTY_ANNUAL_EVALUATION":
                res = r.choices(["好", "较好", "一般", "差"],
                                weights=[5 + 60 * q ** 2, 35, 3 + 30 * (1 - q), 0.5 + 30 * (1 - q) ** 3])[0]
                row.update(result=res, conduct={"好": "守信", "较好": "守信", "一般": "中性"}.get(res, "失信"),
                           description=f"社区党组织{when.year}年度综合评价意见：{res}")
            rows.append(row)
        r = rng(self.seed, "credit-day", d)
        serving = sorted(u for u, n in served.items() if n)
        # penalties fall mostly on poor enterprises, awards mostly on good ones
        bad_w = [0.01 + (1 - self.quality(u)) ** 5 for u in serving]
        good_w = [0.2 + self.quality(u) for u in serving]
        for _ in range(self.ledger.k):
            if serving and r.random() < 3.5 / 365:
                e = self.ledger.by_uscc[r.choices(serving, weights=bad_w)[0]]
                x = r.random()
                veto = x < 0.12
                result = "罚款并责令退还" if veto else (r.choice(["警告", "通报批评"]) if x < 0.55 else "罚款")
                row = self._row(e, "PENALTY", d - dt.timedelta(days=r.randint(0, 6)), d)
                row.update(conduct="失信", is_veto=veto, result=result,
                           description="挪用专项维修资金" if veto else r.choice(
                               ["未按规定公示收费项目", "擅自占用共用部位经营", "未履行消防安全管理义务"]),
                           document_no=f"舒城管罚〔{d.year}〕{r.randint(1, 200)}号")
                rows.append(row)
            if serving and r.random() < 1.5 / 365:
                e = self.ledger.by_uscc[r.choices(serving, weights=good_w)[0]]
                row = self._row(e, "AWARD", d - dt.timedelta(days=r.randint(0, 6)), d)
                row.update(conduct="守信", result="通报表扬", description=r.choice(
                    ["防汛抢险表现突出", "疫情防控工作表现突出", "见义勇为事迹通报表扬"]))
                rows.append(row)
        for t in self.ledger.demos:  # demonstration enterprises get an award record
            if t[1] == "物业企业" and t[6] + dt.timedelta(days=3) == d:
                row = self._row(self.ledger.by_uscc[t[2]], "AWARD", t[6], d)
                row.update(conduct="守信", result=t[5], description=f"被命名为{t[4]}{t[5]}")
                rows.append(row)
        for v in self.pending.pop(d, []):
            e = self.ledger.by_uscc[v["uscc"]]
            row = self._row(e, "COMPLAINT_VERIFIED", v["event_date"], d)
            row.update(conduct="失信", result="投诉查实", compound_id=v["compound_id"], related_order_id=v["order_id"],
                       description=f"热线投诉经核查属实（{v['category']}）")
            rows.append(row)
        rows.sort(key=lambda x: (x["event_type"], x["enterprise_uscc"], x["event_date"], x["related_order_id"] or ""))
        for n, row in enumerate(rows, start=1):
            row["credit_event_id"] = f"XY{d.strftime('%Y%m%d')}{CODES[row['event_type']]}{n:04d}"
        return rows

    @staticmethod
    def _row(e, kind: str, when: D, d: D) -> dict:
        return {"credit_event_id": None, "enterprise_uscc": e.uscc, "enterprise_name": e.name, "event_type": kind,
                "event_type_zh": CREDIT_EVENT_TYPES[kind], "conduct": "中性", "event_date": when.isoformat(),
                "record_date": d.isoformat(), "result": None, "score": None, "is_veto": False, "compound_id": None,
                "related_order_id": None, "document_no": None, "issuing_unit": UNITS[kind], "description": ""}
