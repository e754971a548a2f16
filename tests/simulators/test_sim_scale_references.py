"""The reference seeds of each scale (dbt_project/scales/<scale>/: the division list and the programme's
baselines): the simulated world's own, the division list read by the door (contracts.division_codes)
and by dbt (seed-paths) alike."""

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
from shumei_sim.registry import Ledger
from shumei_sim.scale_references import scale_references

REPO = Path(__file__).resolve().parents[2]
COUNTY_DIR = REPO / "dbt_project" / "scales" / "county"
COUNTY = COUNTY_DIR / "ref_divisions.csv"


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_pipeline_and_the_simulator_know_the_same_scales() -> None:
    assert set(SCALES) == set(SIM_SCALES)


def test_the_county_list_holds_the_simulated_county_communities() -> None:
    listed = {r["area_code"] for r in rows(COUNTY) if r["area_level"] == "community"}
    assert {c.code for c in Ledger(20230306, 1).communities} == listed


@pytest.mark.parametrize("scale", ["city", "province"])
def test_the_seeds_of_a_scale_are_the_simulators_output(scale: str) -> None:
    """Regenerate with: shumei-sim scale-references --scale <scale> --county-dir dbt_project/scales/county
    --out-dir dbt_project/scales/<scale>."""
    folder = divisions_file(scale).parent
    expected = scale_references(COUNTY_DIR, scale)
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected) == sorted(p.name for p in COUNTY_DIR.iterdir())
    for name, text in expected.items():
        assert (folder / name).read_text(encoding="utf-8") == text, name


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
