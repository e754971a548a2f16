"""Measure the programme indicators on the simulated ledger at the seed's deadlines (docs/simulated_data.md)."""

from __future__ import annotations

import datetime as dt

from .common import HISTORY_START
from .registry import Ledger

D = dt.date
TARGETS = [  # (indicator, deadline, threshold)
    ("WY_FG", D(2022, 12, 31), None), ("WY_FG", D(2023, 12, 31), 1.0), ("WY_FG", D(2024, 12, 31), 1.0),
    ("YWH_FG", D(2023, 7, 31), 0.6), ("YWH_FG", D(2023, 12, 31), 0.7), ("YWH_FG", D(2024, 6, 30), 0.9),
    ("YWH_FG", D(2024, 12, 31), 0.9),
    ("DZB_ZJ", D(2023, 12, 31), 0.5), ("DZB_ZJ", D(2024, 6, 30), 0.9), ("DZB_ZJ", D(2024, 12, 31), 0.9),
    ("QYDZZ_ZJ", D(2023, 12, 31), 0.5), ("QYDZZ_ZJ", D(2024, 6, 30), 0.9), ("QYDZZ_ZJ", D(2024, 12, 31), 0.9),
    ("LM_FG", D(2023, 6, 30), 1.0), ("QY_LJ", D(2023, 12, 31), 1.0), ("QY_LJ", D(2024, 12, 31), 1.0),
    ("SFD_XQ", D(2024, 12, 31), 5), ("SFD_QY", D(2024, 12, 31), 5),
]


def indicators(snap: dict) -> dict[str, tuple[int, int]]:
    """(numerator, denominator) of the stock indicators on one ledger snapshot."""
    urban = [r for r in snap["registry_compounds"] if r["is_urban_residential"] == "是"]
    ids = {r["compound_id"] for r in urban}
    ywh = {r["compound_id"] for r in snap["registry_owners_committees"] if r["status"] == "正常履职"} & ids
    dzb = {r["compound_id"] for r in snap["registry_party_orgs"] if r["org_form"] != "党的工作小组"} & ids
    serving = {r["enterprise_uscc"] for r in urban if r["enterprise_uscc"]}
    ents = [r for r in snap["registry_enterprises"] if r["enterprise_uscc"] in serving]
    comms = [r for r in snap["registry_communities"] if r["town_code"][:9] in ("341523100", "341523400")]
    agreed = {r["enterprise_uscc"] for r in snap["registry_agreements"]}
    demos = snap["registry_demonstrations"]
    return {
        "WY_FG": (sum(r["has_property_service"] == "是" for r in urban), len(urban)),
        "YWH_FG": (len(ywh), len(urban)),
        "DZB_ZJ": (len(dzb), len(urban)),
        "QYDZZ_ZJ": (sum(r["has_party_org"] == "是" for r in ents), len(ents)),
        "LM_FG": (sum(r["has_alliance"] == "是" and r["has_joint_meeting"] == "是" for r in comms), len(comms)),
        "QY_LJ": (len(serving & agreed), len(serving)),
        "SFD_XQ": (sum(t["object_type"] == "小区" and t["title_level"] == "市级" for t in demos), 1),
        "SFD_QY": (sum(t["object_type"] == "物业企业" and t["title_level"] == "市级" for t in demos), 1),
    }


def measure(seed: int = 20230306, scale: int = 1) -> list[dict]:
    led = Ledger(seed, scale)
    wanted = sorted({t[1] for t in TARGETS})
    snaps, d = {}, HISTORY_START
    while d <= wanted[-1]:
        led.advance(d)
        if d in wanted:
            snaps[d] = indicators(led.snapshot(d))
        d += dt.timedelta(days=1)
    out = []
    for code, when, threshold in TARGETS:
        num, den = snaps[when][code]
        value = num if code.startswith("SFD") else num / den
        met = None if threshold is None else value >= threshold
        out.append({"indicator": code, "deadline": when.isoformat(), "target": threshold, "numerator": num,
                    "denominator": den, "value": value, "met": met})
    return out


def markdown(rows: list[dict]) -> str:
    lines = ["| indicator | deadline | target | numerator | denominator | actual | met |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        sfd = r["indicator"].startswith("SFD")
        target = "baseline" if r["target"] is None else (f"≥ {r['target']}" if sfd else f"{r['target']:.0%}")
        actual = str(r["value"]) if sfd else f"{r['value']:.1%}"
        lines.append(f"| {r['indicator']} | {r['deadline']} | {target} | {r['numerator']} | "
                     f"{'' if sfd else r['denominator']} | {actual} | {'' if r['met'] is None else ('met' if r['met'] else 'missed')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(measure()))
