"""The reference seeds of the simulated world at a scale (`shumei-sim scale-references --scale
city|province`): its division list and the programme's baselines.

At county scale the simulator's communities are those of the county's list
(dbt_project/scales/county/ref_divisions.csv). A city or a province is simulated as one county with
communities in every town (registry.Ledger._plan): their codes are invented, so the pipeline needs a
division list that holds them. This writes it: the county's rows for the county and its towns, one
invented row for each of the world's communities (the county's own row where the code is the same).
The programme's baselines (ref_indicator_baselines: 131 of 140 compounds managed at 2022-12-31) are
calibrated at every scale with counts times the scale (docs/simulated_data.md), the rate the same.
The files under dbt_project/scales/<scale>/ are this output; tests/simulators/test_sim_scale_references.py
fails when they drift.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .common import DEFAULT_SEED, SCALES
from .registry import Ledger

INVENTED_NOTE = "invented for the simulated {scale} (shumei-sim divisions); not an official code"


def division_rows(county_rows: list[dict[str, str]], scale: str, seed: int = DEFAULT_SEED) -> list[dict[str, str]]:
    """The rows of the division list at `scale`, from the county's list."""
    own = {row["area_code"]: row for row in county_rows}
    towns = {row["area_code"]: row for row in county_rows if row["area_level"] == "town"}
    rows = [row for row in county_rows if row["area_level"] != "community"]
    for community in Ledger(seed, SCALES[scale]).communities:
        if community.code in own:
            rows.append(own[community.code])
            continue
        town = towns[community.code[:9] + "000"]
        town_en = town["area_name_en"].removesuffix(" Township").removesuffix(" Town")
        number = int(community.code[9:])
        rows.append({**town, "area_code": community.code, "area_name_zh": community.name,
                     "area_name_en": f"{town_en} Community No. {number}", "area_level": "community",
                     "area_type": "community", "parent_code": town["area_code"], "urban_rural_class": "",
                     "is_invented": "true", "source_note": INVENTED_NOTE.format(scale=scale)})
    return rows


def baseline_rows(county_rows: list[dict[str, str]], scale: str) -> list[dict[str, str]]:
    """The baselines at `scale`: the county's with numerator and denominator times the scale."""
    k = SCALES[scale]
    return [{**row, "numerator": str(int(row["numerator"]) * k), "denominator": str(int(row["denominator"]) * k)}
            for row in county_rows]


def as_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def scale_references(county_dir: Path, scale: str, seed: int = DEFAULT_SEED) -> dict[str, str]:
    """File name -> text of the seeds of `scale`, from the county's folder."""
    return {"ref_divisions.csv": as_csv(division_rows(read_csv(county_dir / "ref_divisions.csv"), scale, seed)),
            "ref_indicator_baselines.csv": as_csv(baseline_rows(read_csv(county_dir / "ref_indicator_baselines.csv"),
                                                                scale))}
