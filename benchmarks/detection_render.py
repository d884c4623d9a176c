"""docs/detection_benchmark.md from the JSON result of `bench_detection.py`."""

from __future__ import annotations

from typing import Any

CAUGHT = {"retrain", "block"}
EXPLAINING = {
    "schema",
    "unit_change",
    "time_offset",
    "precision_loss",
    "default_fill",
    "clipping",
    "swapped",
    "category_form",
    "nan_rate",
    "pos_inf_rate",
    "missing_online_rate",
    "missing_or_invalid_rate",
}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k"


def _sg_ok(row: dict[str, Any]) -> tuple[bool, bool]:
    """(caught, right) for skewguard on one case: right = the expected verdict exactly."""
    verdict = row["skewguard"]["verdict"]
    return verdict in CAUGHT, verdict == row["expected"]


def _summary(size: dict[str, Any]) -> list[str]:
    cases = size["cases"]
    defects = [c for c in cases if c["family"] == "defect"]
    drifts = [c for c in cases if c["family"] == "drift"]
    sg_time = sorted(c["skewguard"]["seconds"] for c in cases)
    clean = size["clean"].get("skewguard")
    clean_text = (
        f"{clean['false_alarms']}/{clean['runs']} (≤ {_pct(clean['upper_95'])})"
        if clean
        else "not run"
    )
    lines = [
        f"| skewguard | {_size(size['rows'])} "
        f"| {sum(_sg_ok(c)[0] for c in defects)}/{len(defects)} "
        f"| {sum(_sg_ok(c)[0] for c in drifts)}/{len(drifts)} "
        f"| {sum(_sg_ok(c)[1] for c in defects + drifts)}/{len(defects + drifts)} "
        f"| {clean_text} "
        f"| {f'{sg_time[len(sg_time) // 2]:.2f} s' if sg_time else '-'} |"
    ]
    if cases and all("evidently" in c for c in cases):
        caught = [c for c in cases if c["evidently"].get("drifted_columns", 0) > 0]
        errors = sum("error" in c["evidently"] for c in cases)
        ev_time = sorted(c["evidently"]["seconds"] for c in cases)
        ev_clean = size["clean"].get("evidently")
        clean_text = (
            f"{ev_clean['false_alarms']}/{ev_clean['runs']} (≤ {_pct(ev_clean['upper_95'])})"
            if ev_clean
            else "-"
        )
        lines.append(
            f"| Evidently DataDriftPreset | {_size(size['rows'])} "
            f"| {sum(c in caught for c in defects)}/{len(defects)} "
            f"| {sum(c in caught for c in drifts)}/{len(drifts)} "
            f"| n/a (no such distinction) | {clean_text} "
            f"| {ev_time[len(ev_time) // 2]:.2f} s{f' ({errors} errors)' if errors else ''} |"
        )
    return lines


def _cause(row: dict[str, Any]) -> str:
    fired = row["skewguard"]["fired"]
    if not fired:
        warned = row["skewguard"].get("warned") or []
        return f"warn on {', '.join(warned)}" if warned else "-"
    # The check that explains it: a signature or the schema, then any check with a cause.
    ranked = sorted(
        fired,
        key=lambda f: (f["check"] not in EXPLAINING, not f.get("cause"), fired.index(f)),
    )
    first = ranked[0]
    detail = (first.get("cause") or first.get("detail") or "").replace("|", "/")
    if not detail and isinstance(first.get("value"), int | float):
        detail = f"{first['value']:.4g} > {first.get('threshold')}"
    if len(detail) > 90:
        detail = detail[:87] + "..."
    more = f" (+{len(fired) - 1} more)" if len(fired) > 1 else ""
    return f"`{first['feature']}` {first['check']}: {detail}{more}"


def _cases(sizes: list[dict[str, Any]]) -> list[str]:
    head = "| case | expected | " + " | ".join(_size(s["rows"]) for s in sizes) + " |"
    lines = [head, "| --- | --- |" + " --- |" * len(sizes)]
    with_cases = [s for s in sizes if s["cases"]]  # a run may share out clean resamples only
    names = [c["case"] for c in with_cases[0]["cases"]] if with_cases else []
    for i, name in enumerate(names):
        cells = []
        for s in sizes:
            if not s["cases"]:
                cells.append("-")
                continue
            row = s["cases"][i]
            verdict = row["skewguard"]["verdict"]
            mark = "✅" if verdict == row["expected"] else ("⚠️" if verdict in CAUGHT else "❌")
            ev = row.get("evidently")
            ev_text = ""
            if ev is not None:
                ev_text = " / E: err" if "error" in ev else f" / E: {ev['drifted_columns']}"
            cells.append(f"{mark} {verdict}{ev_text}")
        expected = with_cases[0]["cases"][i]["expected"]
        lines.append(f"| {name} | {expected} | " + " | ".join(cells) + " |")
    return lines


def _power_cell(entry: dict[str, Any] | None, unit: str) -> str:
    if not entry:
        return "-"
    smallest = entry["smallest"]
    if smallest is None:
        top = max(float(k) for k in entry["rates"])
        return f"not caught at {top:g}{unit}"
    return f"{smallest:g}{unit}"


def _rise_cell(entry: dict[str, Any] | None) -> str:
    """A null-share rise in percentage points."""
    if not entry:
        return "-"
    smallest = entry["smallest"]
    points = {
        "smallest": None if smallest is None else round(100 * smallest, 2),
        "rates": {round(100 * float(k), 2): v for k, v in entry["rates"].items()},
    }
    return _power_cell(points, " pt")


def _alarm_cell(clean: dict[str, Any] | None) -> str:
    if not clean:
        return "-"
    rate = clean["false_alarms"] / clean["runs"]
    return f"{_pct(rate)} of {clean['runs']} (95% upper {_pct(clean['upper_95'])})"


def _power(sizes: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| rows per side | reps | skewguard: mean shift | Evidently: mean shift "
        "| skewguard: null-share rise | Evidently: null-share rise "
        "| skewguard false alarms (clean) | Evidently false alarms (clean) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in sizes:
        p = s.get("power") or {}
        sg, ev = p.get("skewguard") or {}, p.get("evidently") or {}
        lines.append(
            f"| {_size(s['rows'])} | {p.get('reps', '-')} "
            f"| {_power_cell(sg.get('mean_shift_sd'), ' SD')} "
            f"| {_power_cell(ev.get('mean_shift_sd'), ' SD')} "
            f"| {_rise_cell(sg.get('null_rate_rise'))} | {_rise_cell(ev.get('null_rate_rise'))} "
            f"| {_alarm_cell(s['clean'].get('skewguard'))} "
            f"| {_alarm_cell(s['clean'].get('evidently'))} |"
        )
    return lines


def render_markdown(result: dict[str, Any]) -> str:
    sizes = result["sizes"]
    load = result.get("load_average_start")
    end = result.get("load_average_end")
    out = [
        "# Detection benchmark: results",
        "",
        "Generated by `benchmarks/bench_detection.py` (what it does and how to read it:",
        "[detection.md](detection.md#the-detection-benchmark)). Do not edit by hand.",
        "",
        f"- command: `{result['command']}`",
        f"- commit measured: `{result['commit']}`; started {result['started']}, "
        f"finished {result.get('finished', '-')}",
        f"- machine: {result['cores']} cores, load average {_load(load)} at the start, "
        f"{_load(end)} at the end (shared machine: times are provisional; both tools ran in the "
        "same process on the same rows)",
        f"- versions: {', '.join(f'{k} {v}' for k, v in result['versions'].items())}",
        "",
        "## Caught, right, false alarms, time",
        "",
        f"{len([c for c in result['cases'] if c['family'] == 'defect'])} pipeline defects "
        f"(expected: block), {len([c for c in result['cases'] if c['family'] == 'drift'])} "
        "realistic drifts (expected: retrain), and clean resamples (expected: pass; warn fails "
        "no gate, so only retrain or block counts as a false alarm). Caught: skewguard says "
        "retrain or block; Evidently reports at least one drifted column. Right: skewguard's "
        "verdict is exactly the expected one. Time: median per check.",
        "",
        "| tool | rows per side | defects caught | drifts caught | block-vs-retrain right "
        "| false alarms on clean resamples (95% upper bound) | time per check |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in sizes:
        out += _summary(s)
    out += [
        "",
        "## Every case",
        "",
        "skewguard's verdict (✅ the expected one, ⚠️ caught with the other action, ❌ missed),"
        " then `E:` Evidently's number of drifted columns (when it ran at that size).",
        "",
        *_cases(sizes),
        "",
        "What each case does, and skewguard's cause at the largest size:",
        "",
        "| case | what | cause reported |",
        "| --- | --- | --- |",
    ]
    largest = [s for s in sizes if s["cases"]][-1:]
    for i, case in enumerate(result["cases"]):
        cause = _cause(largest[0]["cases"][i]) if largest else "-"
        out.append(f"| {case['case']} | {case['what']} | {cause} |")
    out += [
        "",
        "## Power and false-alarm rate",
        "",
        "Smallest effect caught in at least 95% of the repetitions (bisection over a fixed "
        "grid): a mean shift of `customer__avg_basket` in training standard deviations, and a "
        "rise of `product__rating`'s null share in percentage points (training: 3%). Caught "
        "means that feature itself fires (skewguard: retrain or block on it; Evidently: that "
        "column drifted). The false-alarm rate is over clean resamples (any retrain or block; "
        "Evidently: any drifted column), with its exact one-sided 95% upper bound.",
        "",
        *_power(sizes),
        "",
    ]
    return "\n".join(out)


def _load(load: Any) -> str:
    if not load:
        return "-"
    return " / ".join(f"{x:.1f}" for x in load)
