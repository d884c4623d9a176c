"""The JSON report: versioned shape, every check recorded, lossless to_dict/from_dict."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from check_fixtures import write_serving, write_training

from skewguard.checking.pipeline import check
from skewguard.checking.policy import load_policy
from skewguard.errors import InputError
from skewguard.report.model import Report, read_json, to_json, write_json
from skewguard.report.summary import render_summary


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    root = tmp_path_factory.mktemp("report")
    write_training(root / "train", 3_000)
    write_serving(root / "logs", 3_000, parts=2)
    return check(root / "train", root / "logs", load_policy(None))


def test_top_level_shape(report: Report) -> None:
    d = report.to_dict()
    assert d["schema_version"] == 1
    assert d["verdict"] == "pass" and d["exit_code"] == 0
    assert set(d) >= {"generated_at", "inputs", "sample_sizes", "policy", "summary", "features"}
    assert d["inputs"]["serving"] == {
        "path": d["inputs"]["serving"]["path"],
        "rows": 3000,
        "files": 2,
    }
    assert d["inputs"]["training"]["from_reference_profile"] is False
    assert d["summary"]["pass"] == len(d["features"])
    assert d["policy"]["defaults"]["checks"]["psi"]["threshold"] == 0.25


def test_every_check_is_recorded_with_its_threshold(report: Report) -> None:
    price = report.to_dict()["features"][3]
    assert price["name"] == "product_stats__price" and price["kind"] == "numeric"
    checks = {c["check"]: c for c in price["checks"]}
    assert set(checks) == {
        "schema", "null_rate", "missing_online_rate", "nan_rate", "pos_inf_rate",
        "neg_inf_rate", "missing_or_invalid_rate", "negative_rate", "integer_rate", "psi",
        "js_distance", "ks_statistic", "wasserstein_norm", "mean_shift", "unit_change",
        "time_offset", "precision_loss", "clipping", "default_fill", "swapped",
    }  # fmt: skip
    assert all(0 <= c["p_value"] <= 1 for c in checks.values() if c["p_value"] is not None)
    assert all(c["cause"] is None for c in checks.values())  # nothing fired, nothing to say
    assert all(c["verdict"] == "pass" for c in checks.values())
    assert checks["psi"]["threshold"] == 0.25 and checks["psi"]["value"] >= 0
    assert price["joined"] is None


def test_distribution_sections_are_renderable(report: Report) -> None:
    features = {f["name"]: f for f in report.to_dict()["features"]}
    hist = features["product_stats__price"]["distribution"]
    assert hist["kind"] == "histogram"
    assert len(hist["training"]) == len(hist["serving"]) == len(hist["edges"]) + 1
    cats = features["product_stats__category"]["distribution"]
    assert cats["kind"] == "categories" and cats["labels"][-2:] == ["other", "null"]
    assert len(cats["training"]) == len(cats["labels"])
    arr = features["customer_stats__recent_views"]["distribution"]
    assert arr["kind"] == "array" and arr["length"]["kind"] == "histogram"


def test_round_trip_through_json(report: Report, tmp_path: Path) -> None:
    write_json(report, tmp_path / "r.json")
    again = read_json(tmp_path / "r.json")
    assert again.to_dict() == json.loads((tmp_path / "r.json").read_text())
    assert again.verdict == report.verdict and again.features[0].name == report.features[0].name


def test_summary_names_the_verdict(report: Report) -> None:
    assert render_summary(report).startswith("skewguard check: PASS (exit 0)")


def test_unknown_schema_version_is_refused() -> None:
    with pytest.raises(InputError, match="schema_version"):
        Report.from_dict({"schema_version": 2})


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("verdict"), "report.verdict"),
        (lambda d: d.update(verdict="fine"), "report.verdict"),
        (lambda d: d.update(features={}), "report.features"),
        (lambda d: d["features"][0].update(rows=[1, 2]), "features[0].rows"),
        (lambda d: d["features"][0]["checks"][0].update(check="vibes"), "checks[0].check"),
        (lambda d: d["features"][0]["checks"][0].update(n_training="many"), "n_training"),
        (lambda d: d["features"][0].update(checks=[7]), "features[0].checks[0]"),
    ],
)
def test_a_malformed_report_is_an_input_error_naming_the_field(
    report: Report, tmp_path: Path, mutate, field: str
) -> None:
    import json

    from skewguard.report.markdown import render_markdown

    document = json.loads(to_json(report))
    mutate(document)
    with pytest.raises(InputError, match=re.escape(field)):
        Report.from_dict(document)
    with pytest.raises(InputError, match=re.escape(field)):
        render_markdown(document)
    path = tmp_path / "report.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match=re.escape(str(path))):
        read_json(path)


def test_a_report_file_that_is_not_json_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_bytes(b"\xff\xfe not json")
    with pytest.raises(InputError, match="cannot read the report"):
        read_json(path)
