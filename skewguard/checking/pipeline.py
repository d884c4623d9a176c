"""The whole skew check as one call: read, profile, compare, decide, report.

`check(training, serving, policy)` returns the `Report`; the CLI (`skewguard check`), the
demo, `watch` and `retrain` all call it. With `replayed` (a `skewguard.store.replay` result)
the joined comparison is judged by the same policy and lands in the same report.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skewguard.checking.comparing import Measurement
    from skewguard.checking.dask_profiling import DaskEngine
    from skewguard.checking.joined import ReplayResult
    from skewguard.checking.policy import Policy
    from skewguard.report.model import Report

__all__ = ["Progress", "check"]

Progress = Callable[[str, int, int], None]


def _no_progress(what: str, done: int, total: int) -> None:
    return None


def check(
    training_path: Path,
    serving_path: Path | str,
    policy: Policy,
    *,
    progress: Progress | None = None,
    replayed: ReplayResult | None = None,
    engine: DaskEngine | None = None,
) -> Report:
    """Read, profile, compare and decide: the whole check as one call, returning the report.

    Uses the snapshot's stored reference profile when it has one, so the raw training data
    is read only when it has to be profiled here. `progress(what, done, total)` is told
    what is happening before each step (reading, profiling, comparing each feature).
    With `engine`, both sides are profiled on its Dask cluster (same profiles, merged from
    partitions); without it, in this process and its process pool.
    """
    from skewguard import __version__
    from skewguard.checking.comparing import compare_feature
    from skewguard.checking.counting import profile_serving, profile_training
    from skewguard.checking.deciding import decide
    from skewguard.checking.duplicates import find_duplicates
    from skewguard.checking.high_cardinality import refine_new_category_rate
    from skewguard.checking.integrity import verify_training
    from skewguard.checking.no_values import judge_served_without_values
    from skewguard.checking.reading import open_serving, open_training, type_name
    from skewguard.checking.reference import read_reference_profile
    from skewguard.checking.signatures import SignatureSettings, add_signatures
    from skewguard.errors import InputError
    from skewguard.report.model import build_report
    from skewguard.vocabulary import Verdict

    step = progress or _no_progress
    step(f"reading {training_path} and {serving_path}", 0, 4)
    training = open_training(training_path)
    serving = open_serving(serving_path)
    if training.reference_profile is not None:
        step(f"reading reference profile {training.reference_profile}", 1, 4)
        reference = read_reference_profile(training.reference_profile)
    else:
        rows = training.data.rows if training.data is not None else 0
        step(f"profiling training data {training_path} ({rows:,} rows)", 1, 4)
        reference = (
            engine.profile_training(training) if engine is not None else profile_training(training)
        )
    # The data, the manifest and the reference profile must agree before either is used.
    integrity = verify_training(
        training, reference if training.reference_profile is not None else None
    )
    if reference.rows == 0:
        raise InputError(
            "the training data has no rows",
            where=str(training_path),
            hint="point --training at a non-empty snapshot",
        )
    step(f"profiling serving logs {serving_path} ({serving.data.rows:,} rows)", 2, 4)
    duplicates = find_duplicates(serving.data)  # dropped from the statistics, reported
    if engine is not None and duplicates.keep is None:
        observed = engine.profile_serving(serving, reference.specs)
    else:
        # rows are left out by position: the single-process reader sees them in order
        observed = profile_serving(serving, reference.specs, keep=duplicates.keep)

    training_names = training.features if training.data is not None or training.manifest else []
    if not training_names:
        training_names = [f.name for f in reference.features]
    serving_names = serving.features
    names = training_names + [n for n in serving_names if n not in set(training_names)]
    comparisons = []
    for i, name in enumerate(names):
        step(f"comparing {name}", 3 + i, 4 + len(names))
        t_profile = reference.feature(name)
        s_profile = observed.feature(name)
        t_type = training.declared_type(name) if name in training_names else None
        if t_type is None and t_profile is not None:
            t_type = t_profile.spec.arrow_type
        s_type = type_name(serving.data.schema.field(name).type) if name in serving_names else None
        comparison = compare_feature(
            name,
            t_profile,
            s_profile,
            training_type=t_type,
            serving_type=s_type,
            rows_training=reference.rows,
            rows_serving=observed.rows,
        )
        # Beyond a capped vocabulary, unseen categories are counted with sketches.
        comparisons.append(refine_new_category_rate(comparison, t_profile, s_profile))
    step("looking for pipeline-defect signatures", 3 + len(names), 4 + len(names))
    comparisons = add_signatures(
        comparisons,
        {f.name: f for f in reference.features},
        {f.name: f for f in observed.features},
        SignatureSettings(
            fill_max_training_share=policy.detection.fill_max_training_share,
            factor_tolerance=policy.detection.factor_tolerance,
            max_residual=policy.detection.signature_max_residual,
        ),
    )
    # Served only as null/NaN/inf: the rate checks decide, not "insufficient data" from
    # the distribution checks and signatures, which have no value to look at.
    comparisons = [
        judge_served_without_values(c, observed.feature(c.name), policy.rules_for(c.name).min_rows)
        for c in comparisons
    ]
    step("deciding", 3 + len(names), 4 + len(names))
    extra, joined = _joined_checks(replayed)
    decision = decide(comparisons, policy, extra=extra, joined=joined)
    features, verdict = decision.features, decision.verdict
    if policy.joint.enabled:
        from skewguard.checking.joint import joint_feature

        step("joint drift: classifier on sampled rows", 3 + len(names), 4 + len(names))
        both = [n for n in names if n in set(training_names) and n in set(serving_names)]
        joint = joint_feature(training, serving, both, policy.joint, policy.defaults.min_rows)
        if joint is not None:
            features, verdict = (*features, joint), Verdict.worst([verdict, joint.verdict])
    manifest = training.manifest
    inputs: dict[str, Any] = {
        "training": {
            "path": str(training_path),
            "rows": reference.rows,
            "content_hash": manifest.content_hash if manifest else reference.content_hash,
            "feature_service": manifest.feature_service if manifest else None,
            "from_reference_profile": training.reference_profile is not None,
            **integrity.to_dict(),
        },
        "serving": {
            "path": str(serving_path),
            "rows": observed.rows,
            "files": len(serving.data.files),
            "rows_read": serving.data.rows,
            "duplicates": duplicates.to_dict(),
        },
    }
    return build_report(
        verdict,
        features,
        inputs=inputs,
        policy=policy.to_dict(),
        skewguard_version=__version__,
    )


def _joined_checks(
    replayed: ReplayResult | None,
) -> tuple[dict[str, list[Measurement]], dict[str, dict[str, Any]]]:
    """Replay results as `joined_mismatch_rate` measurements plus per-feature sections."""
    if replayed is None:
        return {}, {}
    from skewguard.checking.comparing import Measurement
    from skewguard.vocabulary import CheckName

    extra: dict[str, list[Measurement]] = {}
    joined: dict[str, dict[str, Any]] = {}
    for feature in replayed.features:
        worst = feature.causes[0] if feature.causes else None
        extra[feature.name] = [
            Measurement(
                check=CheckName.JOINED_MISMATCH_RATE,
                value=feature.mismatch_rate,
                n_training=feature.compared,
                n_serving=feature.compared,
                detail=f"mostly {worst.cause} ({worst.count})" if worst else None,
            )
        ]
        joined[feature.name] = feature.to_dict()
    return extra, joined
