"""Model performance from predictions and labels, and its estimate before labels arrive.

Pure functions over numpy arrays (no Feast, no scikit-learn at run time):

- `roc_auc` (Mann-Whitney U with average ranks for ties: the same number as
  scikit-learn's `roc_auc_score`), `log_loss` (natural log, probabilities clipped to
  [1e-15, 1 - 1e-15] as scikit-learn does), `calibration_error` (expected calibration
  error: 10 equal-width probability bins, weighted by their share of rows);
- `bootstrap_interval`: a seeded percentile bootstrap of any of them (rows resampled with
  replacement), the confidence interval every realised metric carries;
- `estimate`: confidence-based performance estimation (as NannyML's CBPE does): if the
  model is calibrated, a row scored p is a positive with probability p, so the expected AUC
  weighs every (positive, negative) pair by p_i (1 - p_j), and the expected log loss is the
  mean binary entropy of the scores. Its interval is that of the realised metric when
  labels are drawn from the scores (seeded simulation). It assumes calibration holds (no
  change in P(label | features)): an estimate, never a measurement;
- `judge_window`: the verdict of one window against the metrics recorded at training.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from skewguard.vocabulary import Verdict

__all__ = [
    "Interval",
    "PerformanceRule",
    "PerformanceCause",
    "WindowJudgement",
    "roc_auc",
    "log_loss",
    "calibration_error",
    "bootstrap_interval",
    "estimate",
    "judge_window",
]

Floats = npt.NDArray[np.float64]
Metric = Callable[[Floats, Floats], float]
_EPS = 1e-15


@dataclass(frozen=True)
class Interval:
    value: float | None
    low: float | None
    high: float | None
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def roc_auc(y: Floats, p: Floats) -> float:
    """ROC AUC: the share of (positive, negative) pairs ranked right, ties counted half."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    positives = float(y.sum())
    negatives = float(len(y) - positives)
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = _average_ranks(p)
    u = float(ranks[y == 1].sum()) - positives * (positives + 1) / 2
    return u / (positives * negatives)


def _average_ranks(values: Floats) -> Floats:
    order = np.argsort(values, kind="mergesort")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0  # 1-based mean rank of each group of ties
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat(average, counts)
    return ranks


def log_loss(y: Floats, p: Floats) -> float:
    """Mean negative log-likelihood, natural log, probabilities clipped as scikit-learn."""
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    y = np.asarray(y, dtype=np.float64)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def calibration_error(y: Floats, p: Floats, bins: int = 10) -> float:
    """Expected calibration error over `bins` equal-width bins of the scores."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(float(y[mask].mean()) - float(p[mask].mean()))
    return total


def bootstrap_interval(
    metric: Metric,
    y: Floats,
    p: Floats,
    *,
    confidence: float = 0.95,
    resamples: int = 300,
    seed: int = 0,
) -> Interval:
    """The metric on the rows, with a percentile bootstrap interval (seeded)."""
    value = metric(y, p)
    rng = np.random.default_rng(seed)
    n = len(y)
    draws = []
    for _ in range(resamples):
        take = rng.integers(0, n, n)
        result = metric(y[take], p[take])
        if np.isfinite(result):
            draws.append(result)
    return _interval(value, draws, confidence)


def _interval(value: float, draws: list[float], confidence: float) -> Interval:
    if not np.isfinite(value) or len(draws) < 10:
        return Interval(value if np.isfinite(value) else None, None, None, confidence)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return Interval(round(value, 6), round(float(low), 6), round(float(high), 6), confidence)


def expected_auc(p: Floats) -> float:
    """The AUC a calibrated model expects on these scores (pairs weighted p_i (1 - p_j))."""
    p = np.asarray(p, dtype=np.float64)
    order = np.argsort(p, kind="mergesort")
    sorted_p = p[order]
    neg = 1 - sorted_p
    _, first, counts = np.unique(sorted_p, return_index=True, return_counts=True)
    group_neg = np.add.reduceat(neg, first)
    group_pos = np.add.reduceat(sorted_p, first)
    below = np.concatenate([[0.0], np.cumsum(group_neg)[:-1]])
    # Same-score pairs count half; a row is never paired with itself.
    same = 0.5 * (group_pos * group_neg - np.add.reduceat(sorted_p * neg, first))
    numerator = float((group_pos * below).sum() + same.sum())
    denominator = float(p.sum() * (1 - p).sum() - (p * (1 - p)).sum())
    return numerator / denominator if denominator > 0 else float("nan")


def expected_log_loss(p: Floats) -> float:
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return float(-np.mean(q * np.log(q) + (1 - q) * np.log(1 - q)))


def estimate(
    p: Floats, *, confidence: float = 0.95, simulations: int = 300, seed: int = 0
) -> dict[str, Interval]:
    """Expected AUC and log loss of calibrated scores, with the interval of the realised
    metric when labels are drawn from the scores."""
    p = np.asarray(p, dtype=np.float64)
    rng = np.random.default_rng(seed)
    aucs, losses = [], []
    for _ in range(simulations):
        y = (rng.random(len(p)) < p).astype(np.float64)
        a = roc_auc(y, p)
        if np.isfinite(a):
            aucs.append(a)
        losses.append(log_loss(y, p))
    return {
        "auc": _interval(expected_auc(p), aucs, confidence),
        "log_loss": _interval(expected_log_loss(p), losses, confidence),
    }


class PerformanceCause(enum.StrEnum):
    AUC_DROP = "auc_drop"  # significant and beyond the floor: retrain
    AUC_DROP_NOT_SIGNIFICANT = "auc_drop_not_significant"  # beyond the floor, within noise
    AUC_DROP_BELOW_FLOOR = "auc_drop_below_floor"  # significant, smaller than the floor
    ESTIMATED_AUC_DROP = "estimated_auc_drop"  # no labels yet: the estimate fell
    TOO_FEW_LABELS = "too_few_labels"
    NONE = "none"


@dataclass(frozen=True)
class PerformanceRule:
    """A drop in AUC retrains when it is beyond `auc_floor` and its interval's upper end
    is below the training AUC (significant); a window needs `min_labels` labelled rows
    with both classes to be judged."""

    auc_floor: float = 0.05
    min_labels: int = 200
    confidence: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WindowJudgement:
    verdict: Verdict
    cause: PerformanceCause
    detail: str


def judge_window(
    training_auc: float | None,
    realised: Interval | None,
    estimated: Interval | None,
    labelled: int,
    classes: int,
    rule: PerformanceRule,
) -> WindowJudgement:
    """The verdict of one window: realised metrics when there are enough labels, else the
    estimate (which warns at most: it is not a measurement)."""
    if training_auc is None:
        return WindowJudgement(
            Verdict.INSUFFICIENT_DATA, PerformanceCause.NONE, "no AUC was recorded at training"
        )
    if labelled >= rule.min_labels and classes == 2 and realised and realised.value is not None:
        drop = training_auc - realised.value
        significant = realised.high is not None and realised.high < training_auc
        what = (
            f"AUC {realised.value:.3f} [{realised.low}, {realised.high}] vs {training_auc:.3f} "
            f"at training (drop {drop:+.3f}, floor {rule.auc_floor})"
        )
        if drop > rule.auc_floor and significant:
            return WindowJudgement(Verdict.RETRAIN, PerformanceCause.AUC_DROP, what)
        if drop > rule.auc_floor:
            return WindowJudgement(Verdict.WARN, PerformanceCause.AUC_DROP_NOT_SIGNIFICANT, what)
        if significant:
            return WindowJudgement(Verdict.WARN, PerformanceCause.AUC_DROP_BELOW_FLOOR, what)
        return WindowJudgement(Verdict.PASS, PerformanceCause.NONE, what)
    if estimated is not None and estimated.value is not None:
        drop = training_auc - estimated.value
        what = (
            f"estimated AUC {estimated.value:.3f} [{estimated.low}, {estimated.high}] vs "
            f"{training_auc:.3f} at training ({labelled} labelled rows, fewer than "
            f"{rule.min_labels}: an estimate, not a measurement)"
        )
        if drop > rule.auc_floor:
            return WindowJudgement(Verdict.WARN, PerformanceCause.ESTIMATED_AUC_DROP, what)
        return WindowJudgement(Verdict.PASS, PerformanceCause.NONE, what)
    return WindowJudgement(
        Verdict.INSUFFICIENT_DATA,
        PerformanceCause.TOO_FEW_LABELS,
        f"{labelled} labelled rows ({classes} class(es)); {rule.min_labels} with both needed",
    )
