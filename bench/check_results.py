#!/usr/bin/env python3
"""Checks a bench result file's shape (for the bench_smoke ctest): it parses as JSON, names its
run (commit, date, machine), has the stall probe's figures, and every row is either measured --
with figures that are finite numbers and the command lines that produced them -- or says why not
("not available: ...", "skipped ..."). It asserts nothing about the figures' values.
usage: check_results.py RESULTS_DIR (the newest *.json there is checked)"""
import glob
import json
import math
import os
import sys


def fail(msg):
    sys.exit(f"check_results: {msg}")


def main():
    if len(sys.argv) != 2:
        fail(__doc__)
    files = sorted(glob.glob(os.path.join(sys.argv[1], "*.json")), key=os.path.getmtime)
    if not files:
        fail(f"no result file in {sys.argv[1]}")
    path = files[-1]
    with open(path) as f:
        doc = json.load(f)
    run = doc.get("run", {})
    for key in ("date", "commit", "mode", "repeats", "machine", "load"):
        if key not in run:
            fail(f"{path}: run.{key} is missing")
    if not doc.get("stalls"):
        fail(f"{path}: no stall-probe figures")
    rows = doc.get("rows", [])
    if not rows:
        fail(f"{path}: no rows")
    measured = 0
    for r in rows:
        status = r.get("status", "")
        if status == "measured":
            measured += 1
            if not r.get("figures"):
                fail(f"{r['name']}: measured but no figures")
            # A server and a client for the two-process rows; one command for the one-process
            # simulator rows.
            if not r.get("commands") or not all((c.get("server") and c.get("client")) or c.get("command")
                                                for c in r["commands"]):
                fail(f"{r['name']}: measured but its command lines are missing")
            for key, fig in r["figures"].items():
                for k in ("median", "min", "max", "spread"):
                    if not isinstance(fig.get(k), (int, float)) or not math.isfinite(fig[k]):
                        fail(f"{r['name']}: {key}.{k} is not a finite number")
                if not fig["min"] <= fig["median"] <= fig["max"]:
                    fail(f"{r['name']}: {key}: median outside [min, max]")
                if len(fig.get("values", [])) != len(r["commands"]) and r["kind"] not in ("allocations", "instructions", "siminstr"):
                    fail(f"{r['name']}: {key}: {len(fig.get('values', []))} values for {len(r['commands'])} runs")
        elif status.startswith("not available"):
            if not r.get("reason"):
                fail(f"{r['name']}: not available without a reason")
        elif not status.startswith("skipped"):
            fail(f"{r['name']}: status '{status}' {r.get('reason', '')}")
    if measured == 0:
        fail(f"{path}: no row was measured")
    md = os.path.splitext(path)[0] + ".md"
    if not os.path.exists(md):
        fail(f"{md} is missing")
    print(f"check_results: {path}: {len(rows)} rows, {measured} measured, well-formed")


main()
