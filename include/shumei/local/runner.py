"""The steps of the local main job after the warehouse is up (filled in as the pipeline grows)."""

from __future__ import annotations

from datetime import date


def run_pipeline(env: dict[str, str], end: date, *, step, airflow) -> None:
    pass


def print_summary(env: dict[str, str]) -> None:
    pass


def stop_services(env: dict[str, str]) -> None:
    pass


def service_status(env: dict[str, str]) -> list[str]:
    return []
