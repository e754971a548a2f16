"""`shumei-sim`: generate the simulated sources, serve the hotline API, write spoiled drops."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

from .common import DEFAULT_SEED, HISTORY_START, SCALES, yesterday_shanghai


def _date(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="shumei-sim", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    g = sub.add_parser("generate", help="generate registry, credit and hotline data (incremental)")
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--end", type=_date, default=None, help="last day (default: yesterday in Asia/Shanghai)")
    g.add_argument("--start", type=_date, default=HISTORY_START, help="first day written (history starts 2022-01-01)")
    g.add_argument("--seed", type=int, default=DEFAULT_SEED)
    g.add_argument("--scale", choices=list(SCALES), default="county")
    g.add_argument("--only", default="registry,credit,hotline", help="comma list of registry,credit,hotline")
    g.add_argument("--format", choices=["xlsx", "csv"], default="xlsx", help="registry export format")

    s = sub.add_parser("serve-hotline", help="serve the hotline API over HTTP")
    s.add_argument("--db", type=Path, required=True)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--token", default=os.environ.get("SHUMEI_HOTLINE_TOKEN") or None)
    s.add_argument("--rate-limit", type=float, default=20.0, help="requests per second per token (0 = off)")
    s.add_argument("--burst", type=float, default=None, help="bucket size (default = rate)")
    s.add_argument("--faults", default=os.environ.get("SHUMEI_SIM_FAULTS", ""),
                   help='JSON fault switches at start, e.g. \'{"http_503_every": 3}\' (docs/contracts/faults.md)')
    for name in ("http_500_rate", "timeout_seconds"):
        s.add_argument("--" + name.replace("_", "-"), type=float, default=None)
    for name in ("http_500_next", "http_503_next", "http_503_every", "truncate_page", "repeat_page", "drop_connection"):
        s.add_argument("--" + name.replace("_", "-"), type=int, default=None)
    s.add_argument("--schema-drift", choices=["rename", "missing", "extra"], default=None)
    s.add_argument("--bad-rows", default=None, help="comma list of bad-row kinds")

    b = sub.add_parser("bad-file", help="write one day's drop with a bad-data kind or schema drift")
    b.add_argument("feed", choices=["registry", "credit"])
    b.add_argument("--kind", required=True)
    b.add_argument("--date", type=_date, required=True)
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--seed", type=int, default=DEFAULT_SEED)
    b.add_argument("--scale", choices=list(SCALES), default="county")
    b.add_argument("--format", choices=["xlsx", "csv"], default="xlsx")

    v = sub.add_parser("scale-references", help="the division list and baselines of the simulated world at a scale")
    v.add_argument("--scale", choices=list(SCALES), required=True)
    v.add_argument("--county-dir", type=Path, required=True, help="the county's seeds (dbt_project/scales/county)")
    v.add_argument("--out-dir", type=Path, required=True)
    v.add_argument("--seed", type=int, default=DEFAULT_SEED)

    a = p.parse_args(argv)
    if a.cmd == "generate":
        from .generate import generate

        end = a.end or yesterday_shanghai()
        only = {x.strip() for x in a.only.split(",") if x.strip()}
        print(f"generating {sorted(only)} {a.start}..{end} seed={a.seed} scale={a.scale} -> {a.out}", flush=True)
        stats = generate(a.out, end, a.start, a.seed, a.scale, only, a.format, progress=lambda m: print(m, flush=True))
        print(json.dumps(stats))
        return 0
    if a.cmd == "serve-hotline":
        import uvicorn

        from .server import create_app

        if not a.token:
            print("a token is required (--token or SHUMEI_HOTLINE_TOKEN)", file=sys.stderr)
            return 2
        if not a.db.exists():
            print(f"{a.db} not found: run `shumei-sim generate` first", file=sys.stderr)
            return 2
        faults = json.loads(a.faults) if a.faults else {}
        for key in ("http_500_rate", "timeout_seconds", "http_500_next", "http_503_next", "http_503_every",
                    "truncate_page", "repeat_page", "drop_connection", "schema_drift"):
            if getattr(a, key) is not None:
                faults[key] = getattr(a, key)
        if a.bad_rows:
            faults["bad_rows"] = a.bad_rows.split(",")
        app = create_app(a.db, a.token, a.rate_limit, a.burst, faults)
        uvicorn.run(app, host=a.host, port=a.port, log_level="warning")
        return 0
    if a.cmd == "scale-references":
        from .scale_references import scale_references

        a.out_dir.mkdir(parents=True, exist_ok=True)
        for name, text in scale_references(a.county_dir, a.scale, a.seed).items():
            (a.out_dir / name).write_text(text, encoding="utf-8")
            print(a.out_dir / name)
        return 0
    if a.cmd == "bad-file":
        from .badfiles import KINDS, credit_bad, registry_bad

        if a.kind not in KINDS:
            print(f"unknown kind {a.kind}; one of {', '.join(KINDS)}", file=sys.stderr)
            return 2
        if a.feed == "registry":
            path = registry_bad(a.out, a.date, a.kind, a.seed, a.scale, a.format)
        else:
            path = credit_bad(a.out, a.date, a.kind, a.seed, a.scale)
        print(path)
        return 0
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
