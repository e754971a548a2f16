"""The division list of each scale (dbt_project/divisions/<scale>/): the simulated world's own, read by
the door (contracts.division_codes) and by dbt (seed-paths) alike."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from shumei.ingest.contracts import division_codes, divisions_file
from shumei.settings import SCALES, get_settings
from shumei_sim.common import SCALES as SIM_SCALES
from shumei_sim.divisions import division_csv
from shumei_sim.registry import Ledger

REPO = Path(__file__).resolve().parents[2]
COUNTY = REPO / "dbt_project" / "divisions" / "county" / "ref_divisions.csv"


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_pipeline_and_the_simulator_know_the_same_scales() -> None:
    assert set(SCALES) == set(SIM_SCALES)


def test_the_county_list_holds_the_simulated_county_communities() -> None:
    listed = {r["area_code"] for r in rows(COUNTY) if r["area_level"] == "community"}
    assert {c.code for c in Ledger(20230306, 1).communities} == listed


@pytest.mark.parametrize("scale", ["city", "province"])
def test_the_list_of_a_scale_is_the_simulators_output(scale: str) -> None:
    """Regenerate with: shumei-sim divisions --scale <scale> --county-list <county list> --out <file>."""
    assert divisions_file(scale).read_text(encoding="utf-8") == division_csv(rows(COUNTY), scale)


@pytest.mark.parametrize("scale", SCALES)
def test_every_code_of_the_simulated_world_is_in_its_list(scale: str) -> None:
    listed = {r["area_code"]: r for r in rows(divisions_file(scale))}
    ledger = Ledger(20230306, SIM_SCALES[scale])
    for community in ledger.communities:
        assert listed[community.code]["area_level"] == "community"
        assert listed[community.code]["parent_code"] == community.code[:9] + "000"
    assert {r["area_code"] for r in rows(COUNTY) if r["area_level"] != "community"} <= set(listed)
    assert len({r["area_name_zh"] for r in listed.values()}) == len(listed)
    if scale != "county":  # the county's own rows are kept as they are
        own = {r["area_code"]: r for r in rows(COUNTY)}
        assert all(listed[code] == row for code, row in own.items() if code in listed)


def test_the_door_reads_the_list_of_the_scale_setting(monkeypatch) -> None:
    monkeypatch.setenv("SHUMEI_SCALE", "city")
    get_settings.cache_clear()
    try:
        city = division_codes()
        assert city == {r["area_code"] for r in rows(divisions_file("city"))}
        assert "341523101001" in city and "341523101001" not in division_codes(COUNTY)
        monkeypatch.setenv("SHUMEI_SCALE", "state")
        get_settings.cache_clear()
        with pytest.raises(ValueError, match="SHUMEI_SCALE='state'"):
            division_codes()
    finally:
        monkeypatch.delenv("SHUMEI_SCALE")
        get_settings.cache_clear()


@pytest.mark.parametrize("scale", SCALES)
def test_dbt_seeds_the_list_the_door_reads(scale: str, tmp_path: Path) -> None:
    """One list per scale for both: dbt's seed ref_divisions is the file contracts.divisions_file names."""
    dbt = str(Path(sys.executable).parent / "dbt")
    project = REPO / "dbt_project"
    out = subprocess.run([dbt, "ls", "--quiet", "--project-dir", str(project), "--profiles-dir", str(project),
                          "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path),
                          "--resource-type", "seed", "--select", "ref_divisions", "--output", "json",
                          "--output-keys", "original_file_path"],
                         env={**os.environ, "SHUMEI_SCALE": scale}, capture_output=True, text=True, check=True)
    (line,) = [x for x in out.stdout.splitlines() if x.startswith("{")]
    assert project / json.loads(line)["original_file_path"] == divisions_file(scale)
