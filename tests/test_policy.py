"""The policy loads typed, merges over the default, and rejects unknown keys by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from skewguard.checking.policy import find_policy, load_policy
from skewguard.errors import PolicyError
from skewguard.vocabulary import Action, CheckName


def _write(tmp_path: Path, text: str, name: str = "skewguard.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_default_policy_configures_every_check() -> None:
    policy = load_policy(None)
    # joint_auc is configured once, in [joint], not per feature (test_check_joint.py)
    assert set(policy.defaults.checks) == set(CheckName) - {CheckName.JOINT_AUC}
    ks = policy.defaults.rule(CheckName.KS_STATISTIC)
    assert (ks.warn_threshold, ks.threshold, ks.action) == (0.0, 0.05, Action.RETRAIN)
    assert policy.defaults.rule(CheckName.MEAN_SHIFT).threshold == 0.10
    assert policy.defaults.rule(CheckName.NULL_RATE).threshold == 0.01
    assert policy.defaults.rule(CheckName.SCHEMA).action is Action.BLOCK
    for check in CheckName:
        if check.is_signature:
            assert policy.defaults.rule(check).action is Action.BLOCK, check
    assert policy.detection.family_alpha == 0.001
    assert policy.detection.fill_max_training_share == 0.05
    assert policy.source == "<default>"


def test_detection_keys_are_validated(tmp_path: Path) -> None:
    ok = load_policy(_write(tmp_path, "[detection]\nfamily_alpha = 0.01\n"))
    assert ok.detection.family_alpha == 0.01
    assert ok.to_dict()["detection"]["family_alpha"] == 0.01
    for text, needle in [
        ("[detection]\nfamily_alpha = 0\n", "detection.family_alpha"),
        ("[detection]\nfamily_alpha = 1.5\n", "detection.family_alpha"),
        ("[detection]\nfamily_alpha = nan\n", "detection.family_alpha"),
        ("[detection]\nfill_max_training_share = -0.1\n", "fill_max_training_share"),
        ("[detection]\nfactor_tolerance = true\n", "factor_tolerance"),
        ("[detection]\nalpha = 0.01\n", "detection.alpha"),
    ]:
        with pytest.raises(PolicyError, match=needle.replace(".", r"\.")):
            load_policy(_write(tmp_path, text))


def test_user_policy_overrides_key_by_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[defaults]
min_rows = 2000
[defaults.checks.psi]
threshold = 0.2
[features."product_stats__price".checks.null_rate]
threshold = 0.02
action = "retrain"
[critical]
features = ["product_stats__price"]
""",
    )
    policy = load_policy(path)
    assert policy.defaults.min_rows == 2000
    psi = policy.defaults.rule(CheckName.PSI)
    assert (psi.threshold, psi.action) == (0.2, Action.RETRAIN)  # action kept from the default
    price = policy.rules_for("product_stats__price")
    assert price.rule(CheckName.NULL_RATE).action is Action.RETRAIN
    assert price.rule(CheckName.PSI).threshold == 0.2  # feature rules start from defaults
    assert price.min_rows == 2000
    assert policy.is_critical("product_stats__price")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[defaults]\nmin_row = 5\n", "defaults.min_row"),
        ("[defaults.checks.psy]\nthreshold = 1\n", "defaults.checks.psy"),
        ("[defaults.checks.psi]\nlimit = 1\n", "defaults.checks.psi.limit"),
        ("[criticals]\nfeatures = []\n", "criticals"),
        ('[features."a__b"]\nmin_rowz = 1\n', 'features."a__b".min_rowz'),
    ],
)
def test_unknown_keys_are_rejected_naming_key_and_file(tmp_path: Path, text: str, key: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert repr(key) in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize(
    "text",
    [
        '[defaults.checks.psi]\naction = "panic"\n',
        '[defaults.checks.psi]\nthreshold = "high"\n',
        "[defaults.checks.psi]\nthreshold = -1\n",
        "[defaults.checks.psi]\nwarn_threshold = 0.5\nthreshold = 0.2\n",
        "[defaults.checks.schema]\nthreshold = 0.5\n",
        "[defaults]\nmin_rows = 0\n",
        '[critical]\nfeatures = "x"\n',
        "not toml at all [",
    ],
)
def test_bad_values_are_policy_errors(tmp_path: Path, text: str) -> None:
    with pytest.raises(PolicyError):
        load_policy(_write(tmp_path, text))


def test_unreadable_policy_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "nope.toml")


def test_pyproject_tool_table_is_found_and_loaded(tmp_path: Path) -> None:
    _write(tmp_path, "[tool.skewguard.defaults]\nmin_rows = 42\n", name="pyproject.toml")
    found = find_policy(tmp_path)
    assert found == tmp_path / "pyproject.toml"
    assert load_policy(found).defaults.min_rows == 42


def test_skewguard_toml_wins_over_pyproject(tmp_path: Path) -> None:
    _write(tmp_path, "[tool.skewguard.defaults]\nmin_rows = 42\n", name="pyproject.toml")
    _write(tmp_path, "[defaults]\nmin_rows = 7\n")
    assert find_policy(tmp_path) == tmp_path / "skewguard.toml"


def test_no_policy_file_means_the_default(tmp_path: Path) -> None:
    _write(tmp_path, "[project]\nname = 'x'\n", name="pyproject.toml")
    assert find_policy(tmp_path) is None


@pytest.mark.parametrize("value", ["nan", "inf", "1e400", "-inf"])
def test_a_threshold_that_is_not_a_finite_number_is_refused(tmp_path: Path, value: str) -> None:
    path = tmp_path / "skewguard.toml"
    path.write_text(f"[defaults.checks.psi]\nthreshold = {value}\n")
    with pytest.raises(PolicyError, match="finite number"):
        load_policy(path)


def test_a_policy_file_that_is_not_utf8_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "skewguard.toml"
    path.write_bytes(b"[defaults]\nmin_rows = 5 # caf\xe9\n")
    with pytest.raises(PolicyError, match="not UTF-8"):
        load_policy(path)
