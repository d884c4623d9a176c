"""Reports for renderer tests: a hand-built one covering every verdict, a joined section and
hostile strings, a small deterministic check run from parquet, and parsers that let golden
files be compared after parsing (JSON, Markdown tables, JUnit element trees)."""

from __future__ import annotations

import json
import math
import os
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from skewguard.checking.policy import load_policy
from skewguard.report.model import CheckResult, FeatureResult, Report, to_json
from skewguard.vocabulary import Action, Verdict

HOSTILE = "<script>alert(1)</script>"
GOLDEN = Path(__file__).parent / "golden"
FIXED_TIME = "2026-11-01T12:00:00+00:00"
UPDATE_GOLDEN = os.environ.get("SKEWGUARD_UPDATE_GOLDEN") == "1"


# --------------------------------------------------------------------------- hand-built


def _check(
    check: str,
    value: float | str | None,
    verdict: Verdict,
    action: Action,
    threshold: float | None = None,
    warn: float | None = None,
    **kw: Any,
) -> CheckResult:
    return CheckResult(
        check=check,
        subject=kw.pop("subject", "value"),
        value=value,
        threshold=threshold,
        warn_threshold=warn,
        verdict=verdict,
        action=action,
        **kw,
    )


def _hist(edges: list[float], training: list[int], serving: list[int]) -> dict[str, Any]:
    return {"kind": "histogram", "edges": edges, "training": training, "serving": serving}


def mixed_report() -> Report:
    """Every verdict, a critical feature, a joined section, an array, and hostile strings
    as a feature name, a category, a joined cause example and a path."""
    P, W, R, B, I = (  # noqa: E741
        Verdict.PASS,
        Verdict.WARN,
        Verdict.RETRAIN,
        Verdict.BLOCK,
        Verdict.INSUFFICIENT_DATA,
    )
    price = FeatureResult(
        name="product_stats__price",
        kind="numeric",
        verdict=B,
        critical=True,
        training_type="double",
        serving_type="double",
        rows_training=10_000,
        rows_serving=2_000,
        checks=(
            _check("schema", "ok", P, Action.BLOCK, detail="double"),
            _check(
                "null_rate",
                0.2,
                B,
                Action.BLOCK,
                0.1,
                0.05,
                training=0.01,
                serving=0.21,
                n_training=10_000,
                n_serving=2_000,
                p_value=1e-40,
                alpha=1e-5,
                cause="null values: 21.0% served, training had 1.0%",
            ),
            _check("psi", 0.05, P, Action.RETRAIN, 0.25, 0.1, n_training=9_900, n_serving=1_580),
        ),  # fmt: skip
        distribution={
            **_hist(
                [5.0, 10.0, 20.0, 40.0], [500, 2400, 3600, 2900, 500], [40, 300, 560, 500, 180]
            ),
            "stats": {
                "training": {"count": 10_000, "nulls": 100, "nan": 0, "min": 0.5, "max": 95.0},
                "serving": {"count": 2_000, "nulls": 420, "nan": 0, "min": 1.0, "max": "inf"},
            },
        },
        joined={
            "base_count": 2_000,
            "test_count": 2_000,
            "match_count": 1_880,
            "mismatch_count": 100,
            "base_only": 12,
            "test_only": 8,
            "diff_count": 120,
            "causes": [
                {
                    "cause": "stale_online_value",
                    "count": 70,
                    "examples": [
                        {"product_id": 17, "online": 12.5, "offline": 11.0, "age_hours": 28.0},
                        {"product_id": 99, "online": 7.25, "offline": 8.0, "age_hours": 30.5},
                    ],
                },
                {"cause": "missing_key_served_as_null", "count": 30, "examples": [HOSTILE]},
            ],
        },
    )
    aov = FeatureResult(
        name="customer_stats__avg_order_value",
        kind="numeric",
        verdict=R,
        critical=False,
        training_type="double",
        serving_type="double",
        rows_training=10_000,
        rows_serving=2_000,
        checks=(
            _check("schema", "ok", P, Action.BLOCK, detail="double"),
            _check("psi", 0.41, R, Action.RETRAIN, 0.25, 0.1, n_training=10_000, n_serving=2_000),
            _check(
                "unit_change",
                0.0,
                P,
                Action.BLOCK,
                0.0,
                n_training=10_000,
                n_serving=2_000,
                p_value=1e-30,
                alpha=1e-5,
            ),
            _check(
                "wasserstein_norm",
                0.62,
                R,
                Action.RETRAIN,
                0.5,
                0.3,
                n_training=10_000,
                n_serving=2_000,
                detail="scale (training std) 15",
                p_value=1e-30,
                alpha=1e-5,
                cause="values moved by 0.62 training standard deviations on average",
            ),
        ),  # fmt: skip
        distribution=_hist([80.0, 100.0, 120.0], [1000, 4000, 4000, 1000], [50, 400, 900, 650]),
    )
    category = FeatureResult(
        name="product_stats__category",
        kind="categorical",
        verdict=B,
        critical=False,
        training_type="string",
        serving_type="string",
        rows_training=10_000,
        rows_serving=2_000,
        checks=(
            _check("schema", "ok", P, Action.BLOCK, detail="string"),
            _check(
                "new_category_rate",
                0.0,
                P,
                Action.BLOCK,
                0.1,
                0.02,
                training=0.0,
                serving=0.0,
                n_training=10_000,
                n_serving=2_000,
            ),
            _check(
                "linf_distance",
                0.15,
                W,
                Action.RETRAIN,
                0.3,
                0.1,
                n_training=10_000,
                n_serving=2_000,
                p_value=1e-12,
                alpha=1e-5,
                cause="a category's share moved by 15.0% (L-infinity 0.15)",
            ),
            _check(
                "category_form",
                0.12,
                B,
                Action.BLOCK,
                0.0,
                training=0.0,
                serving=0.12,
                n_training=10_000,
                n_serving=2_000,
                p_value=1e-50,
                alpha=1e-5,
                cause="'Books' served for 'books' (12% of values in 1 changed form): case, "
                "whitespace or encoding changed",
                params={"forms": {"Books": "books"}},
            ),
        ),  # fmt: skip
        distribution={
            "kind": "categories",
            "labels": ["books", HOSTILE, "toys|games", "other", "null"],
            "training": [5000, 3000, 2000, 0, 0],
            "serving": [700, 900, 400, 0, 0],
            "top": {"training": [["books", 5000], [HOSTILE, 3000]], "serving": [[HOSTILE, 900]]},
            "distinct": {"training": 3.0, "serving": 3.0},
        },
    )
    hostile = FeatureResult(
        name=HOSTILE,
        kind=None,
        verdict=B,
        critical=False,
        training_type=None,
        serving_type="string",
        rows_training=10_000,
        rows_serving=2_000,
        checks=(
            _check(
                "schema",
                "missing_in_training",
                B,
                Action.BLOCK,
                detail="training -, serving string",
                cause="feature served but absent from training",
            ),
        ),
    )
    orders = FeatureResult(
        name="customer_stats__orders_30d",
        kind="numeric",
        verdict=I,
        critical=False,
        training_type="int64",
        serving_type="int64",
        rows_training=10_000,
        rows_serving=2_000,
        checks=(
            _check("schema", "ok", P, Action.BLOCK, detail="int64"),
            _check(
                "psi",
                0.02,
                I,
                Action.RETRAIN,
                0.25,
                0.1,
                n_training=10_000,
                n_serving=120,
                detail="training 10000, serving 120 < min_rows 500",
            ),
        ),  # fmt: skip
        distribution=_hist([1.0, 3.0], [3000, 4000, 3000], [30, 50, 40]),
    )
    views = FeatureResult(
        name="customer_stats__recent_views",
        kind="array",
        verdict=P,
        critical=False,
        training_type="list<int64>",
        serving_type="list<int64>",
        rows_training=10_000,
        rows_serving=2_000,
        checks=(
            _check("schema", "ok", P, Action.BLOCK, detail="list<int64>"),
            _check("psi", 0.01, P, Action.RETRAIN, 0.25, 0.1, subject="length"),
            _check("psi", 0.02, P, Action.RETRAIN, 0.25, 0.1, subject="element"),
        ),
        distribution={
            "kind": "array",
            "length": _hist([1.0, 3.0], [2000, 5000, 3000], [400, 1000, 600]),
            "element": _hist([100.0, 300.0], [9000, 9000, 7000], [1800, 1800, 1400]),
        },
    )
    return Report(
        verdict=I,
        generated_at=FIXED_TIME,
        skewguard_version="0.1.0",
        inputs={
            "training": {"path": "snapshots/recommender_v1", "rows": 10_000},
            "serving": {"path": f"logs/{HOSTILE}", "rows": 2_000, "files": 3},
        },
        sample_sizes={"training_rows": 10_000, "serving_rows": 2_000, "min_rows": 500},
        policy={"path": "<default>", "defaults": {"min_rows": 500}},
        features=(price, aov, category, hostile, orders, views),
    )


def joined_free(report: Report) -> dict[str, Any]:
    """The report dict with its joined sections removed (as a check without replay has)."""
    d = json.loads(to_json(report))
    for f in d["features"]:
        f["joined"] = None
    return d


# --------------------------------------------------------------------------- small run

START = datetime(2026, 11, 1, tzinfo=UTC)
SMALL_N = 300  # below the KLL sketch's k, so every quantile (and every result) is exact


def _small_values(n: int, seed: int, *, skewed: bool) -> dict[str, pa.Array]:
    rng = np.random.default_rng(seed)
    price = rng.normal(50.0, 10.0, n) + (15.0 if skewed else 0.0)
    categories = np.array(["books", "toys", "garden", "music"])
    category = rng.choice(categories, n, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    if skewed:
        category[rng.random(n) < 0.1] = HOSTILE
        category[(category == "books") & (rng.random(n) < 0.5)] = "Books"  # a case change
    rating = rng.normal(4.0, 0.4, n)
    rating_null = rng.random(n) < (0.12 if skewed else 0.01)
    return {
        "shop__price": pa.array(price),
        "shop__category": pa.array(category.tolist(), type=pa.string()),
        "shop__quantity": pa.array(rng.poisson(3.0, n)),
        "shop__rating": pa.array(rating, mask=rating_null),
    }


def write_small_inputs(folder: Path, *, skewed: bool = True) -> tuple[Path, Path, Path]:
    """training.parquet, serving/part-0.parquet (Feast log schema) and skewguard.toml."""
    folder.mkdir(parents=True, exist_ok=True)
    n = SMALL_N
    times = pa.array(
        [START + timedelta(minutes=i) for i in range(n)], type=pa.timestamp("us", tz="UTC")
    )
    training = pa.table(
        {
            "product_id": pa.array(np.arange(n)),
            "event_timestamp": times,
            **_small_values(n, 11, skewed=False),
        }
    )
    pq.write_table(training, folder / "training.parquet")
    columns: dict[str, pa.Array] = {"product_id": pa.array(np.arange(n))}
    for name, array in _small_values(n, 12, skewed=skewed).items():
        columns[name] = array
        columns[f"{name}__timestamp"] = times
        status = np.where(array.is_null().to_numpy(zero_copy_only=False), 2, 1)
        columns[f"{name}__status"] = pa.array(status.astype(np.int32))
    columns["__log_timestamp"] = times
    columns["__log_date"] = times.cast(pa.date32())
    columns["__request_id"] = pa.array([f"req-{i}" for i in range(n)])
    (folder / "serving").mkdir(exist_ok=True)
    pq.write_table(pa.table(columns), folder / "serving" / "part-0.parquet")
    # A wide null band, so a significant rise in nulls below it shows a warn. The joint
    # classifier's entry is pinned by tests/test_check_joint.py, not by goldens.
    (folder / "skewguard.toml").write_text(
        "[defaults]\nmin_rows = 100\n[defaults.checks.null_rate]\nthreshold = 0.2\n"
        "[defaults.checks.missing_or_invalid_rate]\nthreshold = 0.2\n"
        "[joint]\nenabled = false\n"
    )
    return folder / "training.parquet", folder / "serving", folder / "skewguard.toml"


def small_report(folder: Path, *, skewed: bool = True) -> Report:
    """A check run on the small inputs, with relative paths so the report is reproducible."""
    from skewguard.checking.pipeline import check

    write_small_inputs(folder, skewed=skewed)
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        report = check(
            Path("training.parquet"), Path("serving"), load_policy(Path("skewguard.toml"))
        )
    finally:
        os.chdir(cwd)
    return stable(report)


def stable(report: Report) -> Report:
    """The report with its volatile fields (time, version) fixed."""
    from dataclasses import replace

    return replace(report, generated_at=FIXED_TIME, skewguard_version="0.1.0")


# --------------------------------------------------------------------------- comparing


def assert_json_close(actual: Any, expected: Any, path: str = "$") -> None:
    """Equal JSON documents, floats to a relative 1e-9 (numpy builds may differ in the
    last bits)."""
    if isinstance(expected, float) and isinstance(actual, int | float):
        assert math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12), path
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), (
            path,
            sorted(set(actual) ^ set(expected)),
        )
        for k in expected:
            assert_json_close(actual[k], expected[k], f"{path}.{k}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_json_close(a, e, f"{path}[{i}]")
    else:
        assert actual == expected, (path, actual, expected)


VOLATILE_JSON = ("generated_at", "skewguard_version")


def json_for_golden(text: str) -> dict[str, Any]:
    d = json.loads(text)
    for key in VOLATILE_JSON:
        d.pop(key, None)
    return d


def parse_markdown(text: str) -> list[tuple]:
    """Markdown as blocks: ("heading", level, text), ("table", header, rows) with cells as
    strings, ("text", line). Blank lines and the generated-at footer's time are dropped."""
    blocks: list[tuple] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if not line:
            i += 1
            continue
        if m := re.match(r"^(#{1,6}) (.*)$", line):
            blocks.append(("heading", len(m.group(1)), m.group(2)))
            i += 1
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            assert len(rows) >= 2 and all(re.fullmatch(r"-{3,}:?", c) for c in rows[1]), rows[:2]
            assert all(len(r) == len(rows[0]) for r in rows), "ragged table"
            blocks.append(("table", tuple(rows[0]), tuple(tuple(r) for r in rows[2:])))
        else:
            blocks.append(("text", re.sub(r"generated \S+", "generated <time>", line)))
            i += 1
    return blocks


def _cells(line: str) -> list[str]:
    body = line.strip()[1:-1]
    cells, current, k = [], "", 0
    while k < len(body):
        ch = body[k]
        if ch == "\\" and k + 1 < len(body):
            current += body[k : k + 2]
            k += 2
            continue
        if ch == "|":
            cells.append(current.strip())
            current = ""
        else:
            current += ch
        k += 1
    cells.append(current.strip())
    return cells


def junit_tree(text: str) -> tuple:
    """The JUnit document as nested tuples: (tag, attributes without times, text, children)."""
    return _node(ET.fromstring(text.encode("utf-8")))


def _node(el: ET.Element) -> tuple:
    attrs = {k: v for k, v in el.attrib.items() if k not in ("time", "timestamp")}
    text = (el.text or "").strip()
    return (el.tag, tuple(sorted(attrs.items())), text, tuple(_node(c) for c in el))


def golden(name: str, actual: str) -> str:
    """The golden file's text; with SKEWGUARD_UPDATE_GOLDEN=1, (re)write it first."""
    path = GOLDEN / name
    if UPDATE_GOLDEN or not path.exists():
        if not UPDATE_GOLDEN:
            raise AssertionError(
                f"missing golden file {path}; run SKEWGUARD_UPDATE_GOLDEN=1 pytest tests/ to "
                "write it, then review the diff"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    return path.read_text(encoding="utf-8")


class Page(HTMLParser):
    """Start tags with their attributes, script bodies, and the visible text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs) -> None:
        self.elements.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data) -> None:
        (self.scripts if self._in_script else self.text).append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            a
            for t, a in self.elements
            if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]
