"""The logging lookup against real Redis, real parquet and the Feast SDK."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from skewguard.errors import FeatureRepoError, InputError, TimestampError
from skewguard.logschema import FieldStatus
from skewguard.serving.logger import FeatureLogger
from skewguard.serving.writer import WriterConfig, log_files

SERVICE = "recommender_v1"
KNOWN = [{"customer_id": c, "product_id": p} for c, p in [(1, 1), (2, 5), (7, 12), (33, 40)]]
MISSING_CUSTOMER = {"customer_id": 99_999, "product_id": 3}
MISSING_PRODUCT = {"customer_id": 3, "product_id": 99_999}
QUIET = WriterConfig(flush_interval=60.0, handle_sigterm=False)


@pytest.fixture
def logger(served_repo: Any, tmp_path: Path) -> Iterator[FeatureLogger]:
    with FeatureLogger(served_repo.store, writer_config=QUIET, log_root=tmp_path, seed=3) as fl:
        yield fl


def read_log(logger: FeatureLogger, service: str = SERVICE) -> pa.Table:
    assert logger.flush()
    folder = logger.layout(service).folder
    assert folder is not None
    return ds.dataset(folder).to_table()


def in_microseconds(schema: pa.Schema) -> pa.Schema:
    """Feast declares event times as timestamp[s]; parquet cannot store seconds."""
    return pa.schema(
        [
            pa.field(f.name, pa.timestamp("us", tz="UTC")) if pa.types.is_timestamp(f.type) else f
            for f in schema
        ]
    )


def test_log_schema_is_feasts_own(served_repo: Any, logger: FeatureLogger) -> None:
    from feast.feature_logging import FeatureServiceLoggingSource

    store = served_repo.store
    service = store.get_feature_service(SERVICE)
    feast_schema = FeatureServiceLoggingSource(service, store.project).get_schema(store.registry)
    ours = logger.layout(SERVICE).schema
    # Same names, same order, same types; timestamps in microseconds throughout.
    assert ours.names == feast_schema.names
    assert ours.equals(in_microseconds(feast_schema))
    differing = {f.name for f, g in zip(ours, feast_schema, strict=True) if f.type != g.type}
    assert differing == {n for n in ours.names if n.endswith("__timestamp")}

    logger.get_online_features(SERVICE, KNOWN[:1])
    logger.flush()
    [file] = log_files(logger.layout(SERVICE).folder)  # type: ignore[arg-type]
    assert pq.read_schema(file).remove_metadata().equals(ours)
    assert pq.read_schema(file).field("product_stats__discount").type == pa.float32()


@pytest.mark.parametrize("full_feature_names", [True, False])
def test_logged_rows_equal_what_the_caller_received(
    logger: FeatureLogger, full_feature_names: bool
) -> None:
    rows = [*KNOWN, MISSING_CUSTOMER, MISSING_PRODUCT]
    response = logger.get_online_features(
        SERVICE, rows, full_feature_names=full_feature_names, request_id="r1"
    )
    received = response.to_dict()
    log = read_log(logger).to_pydict()
    assert log["__request_id"] == ["r1"] * len(rows)
    assert log["customer_id"] == [r["customer_id"] for r in rows]
    assert log["product_id"] == [r["product_id"] for r in rows]
    layout = logger.layout(SERVICE)
    for spec in layout.features:
        name = spec.column if full_feature_names else spec.feature
        assert log[spec.column] == received[name], spec.column  # float32, arrays, on-demand
    # Every feature type of the service was exercised, with values and with nulls.
    kinds = {spec.feast_type for spec in layout.features}
    assert {"Float32", "Float64", "Int32", "Int64", "String", "Bool", "Array(String)"} <= kinds
    assert any(v is None for v in log["customer_profile__recent_categories"])
    assert any(isinstance(v, list) for v in log["customer_profile__recent_categories"])


def test_logged_timestamps_are_the_served_event_times(logger: FeatureLogger) -> None:
    moment = datetime(2026, 11, 20, 12, 30, 15, 250_000, tzinfo=UTC)
    response = logger.get_online_features(
        SERVICE, [*KNOWN, MISSING_CUSTOMER], full_feature_names=True, request_time=moment
    )
    log = read_log(logger).to_pydict()
    proto = response.proto
    vectors = dict(zip(proto.metadata.feature_names.val, proto.results, strict=True))
    for spec in logger.layout(SERVICE).features:
        logged = log[spec.column + "__timestamp"]
        if spec.on_demand:  # computed at request time
            assert logged == [moment] * len(logged)
            continue
        served = vectors[spec.column].event_timestamps
        expected = [ts.ToDatetime(UTC) if ts.seconds else None for ts in served]
        assert logged == expected, spec.column
    assert log["__log_timestamp"] == [moment] * 5
    assert log["__log_date"] == [moment.date()] * 5


def statuses(log: dict[str, list[Any]], view: str, row: int) -> set[int]:
    return {
        values[row]
        for column, values in log.items()
        if column.startswith(view + "__") and column.endswith("__status")
    }


def test_missing_entities_are_logged_not_found(logger: FeatureLogger) -> None:
    response = logger.get_online_features(
        SERVICE, [KNOWN[0], MISSING_CUSTOMER, MISSING_PRODUCT], full_feature_names=True
    )
    # The caller still gets what Feast says ...
    names = list(response.proto.metadata.feature_names.val)
    age = response.proto.results[names.index("customer_profile__age")]
    assert list(age.statuses) == [FieldStatus.PRESENT] * 3
    # ... and the log says the truth.
    log = read_log(logger).to_pydict()
    assert statuses(log, "customer_profile", 0) == {FieldStatus.PRESENT}
    assert statuses(log, "customer_profile", 1) == {FieldStatus.NOT_FOUND}
    assert statuses(log, "product_stats", 2) == {FieldStatus.NOT_FOUND}
    assert log["customer_profile__age__timestamp"][1] is None
    assert log["customer_product_fit__price_vs_aov"][1] is None
    assert log["customer_product_fit__price_vs_aov__status"][1] == FieldStatus.NULL_VALUE


def test_values_older_than_the_ttl_are_logged_outside_max_age(
    served_repo: Any, logger: FeatureLogger
) -> None:
    later = served_repo.data.end + timedelta(days=3)  # product_stats TTL is 2 days
    logger.get_online_features(SERVICE, KNOWN, request_time=later, request_id="a")
    logger.get_online_features(SERVICE, KNOWN, request_time=served_repo.data.end, request_id="b")
    log = read_log(logger).sort_by("__request_id").to_pydict()  # two days, two files
    n = len(KNOWN)
    for row in range(n):
        assert statuses(log, "product_stats", row) == {FieldStatus.OUTSIDE_MAX_AGE}
        assert statuses(log, "customer_profile", row) == {FieldStatus.PRESENT}  # TTL 14 days
        assert statuses(log, "product_stats", n + row) == {FieldStatus.PRESENT}
    # Values are logged as served, stale or not.
    assert log["product_stats__price"][:n] == log["product_stats__price"][n:]


def test_corrected_statuses_are_opt_in(served_repo: Any, logger: FeatureLogger) -> None:
    later = served_repo.data.end + timedelta(days=3)
    response = logger.get_online_features(
        SERVICE,
        [KNOWN[0], MISSING_CUSTOMER],
        full_feature_names=True,
        request_time=later,
        corrected_statuses=True,
    )
    proto = response.proto
    by_name = dict(zip(proto.metadata.feature_names.val, proto.results, strict=True))
    assert list(by_name["customer_profile__age"].statuses) == [
        FieldStatus.PRESENT,
        FieldStatus.NOT_FOUND,
    ]
    assert list(by_name["product_stats__price"].statuses) == [FieldStatus.OUTSIDE_MAX_AGE] * 2
    assert list(by_name["customer_id"].statuses) == [FieldStatus.PRESENT] * 2
    log = read_log(logger).to_pydict()
    assert log["customer_profile__age__status"] == list(by_name["customer_profile__age"].statuses)


def test_row_count_is_requests_times_entities_at_rate_one(logger: FeatureLogger) -> None:
    for i in range(20):
        logger.get_online_features(SERVICE, KNOWN[:3], request_id=f"q{i}")
    log = read_log(logger)
    assert log.num_rows == 20 * 3
    assert sorted(set(log.column("__request_id").to_pylist())) == sorted(f"q{i}" for i in range(20))
    assert logger.stats()[SERVICE].written == 60


def test_declared_sample_rate_is_honoured_per_request(logger: FeatureLogger) -> None:
    requests, rate, entities = 600, 0.1, 2
    assert logger.layout("batch_sampled").sample_rate == rate
    for _ in range(requests):
        logger.get_online_features("batch_sampled", KNOWN[:entities])
    log = read_log(logger, "batch_sampled")
    sampled = len(set(log.column("__request_id").to_pylist()))
    assert log.num_rows == sampled * entities  # a request is logged whole or not at all
    mean, sd = requests * rate, (requests * rate * (1 - rate)) ** 0.5
    assert abs(sampled - mean) <= 4.5 * sd  # binomial bounds


def test_sample_rate_override_zero_logs_nothing(served_repo: Any, tmp_path: Path) -> None:
    with FeatureLogger(
        served_repo.store, writer_config=QUIET, log_root=tmp_path, sample_rate=0.0
    ) as fl:
        fl.get_online_features(SERVICE, KNOWN)
        fl.flush()
        assert fl.stats()[SERVICE].accepted == 0
    assert log_files(tmp_path) == []


def test_repeated_entity_rows_get_distinct_request_ids(logger: FeatureLogger) -> None:
    rows = [KNOWN[0], KNOWN[0], KNOWN[1], KNOWN[0]]
    logger.get_online_features(SERVICE, rows, request_id="dup")
    log = read_log(logger).to_pydict()
    assert log["__request_id"] == ["dup", "dup#1", "dup", "dup#2"]
    keys = list(zip(log["__request_id"], log["customer_id"], log["product_id"], strict=True))
    assert len(set(keys)) == len(keys)


def test_columnar_entity_rows_like_feast_serve(logger: FeatureLogger) -> None:
    entities = {"customer_id": [1, 2], "product_id": [1, 5]}
    response = logger.get_online_features(SERVICE, entities, full_feature_names=True)
    log = read_log(logger).to_pydict()
    assert log["product_stats__price"] == response.to_dict()["product_stats__price"]


def test_feast_accepts_the_log_files_and_tables(served_repo: Any, logger: FeatureLogger) -> None:
    from feast import FeatureService
    from feast.feature_logging import LoggingConfig
    from feast.infra.offline_stores.file_source import FileLoggingDestination

    store = served_repo.store
    logger.get_online_features(SERVICE, [*KNOWN, MISSING_CUSTOMER])
    logger.get_online_features(SERVICE, KNOWN, request_time=datetime(2026, 1, 2, tzinfo=UTC))
    folder = logger.layout(SERVICE).folder
    table = read_log(logger)
    assert len({p.parent.name for p in log_files(folder)}) == 2  # type: ignore[arg-type]
    assert pq.read_table(folder).num_rows == table.num_rows

    # A copy of the service writing elsewhere, so Feast's output does not mix with ours.
    copy = FeatureService.from_proto(store.get_feature_service(SERVICE).to_proto())
    target = folder.parent / "written_by_feast"  # type: ignore[union-attr]
    copy.logging_config = LoggingConfig(
        FileLoggingDestination(path=str(target), partition_by=["__log_date"])
    )
    store.write_logged_features(logs=folder, source=copy)
    store.write_logged_features(logs=table, source=copy)
    assert ds.dataset(target).count_rows() == 2 * table.num_rows


def test_bad_calls_fail_with_hints(served_repo: Any, logger: FeatureLogger) -> None:
    with pytest.raises(TimestampError, match="time zone"):
        logger.get_online_features(SERVICE, KNOWN, request_time=datetime(2026, 1, 1))
    with pytest.raises(InputError, match="feature service"):
        logger.get_online_features(["product_stats:price"], KNOWN)  # type: ignore[arg-type]
    with pytest.raises(FeatureRepoError, match="recommender_v1"):
        logger.get_online_features("no_such_service", KNOWN)


def test_a_service_without_logging_is_served_unlogged(logger: FeatureLogger) -> None:
    response = logger.get_online_features("unlogged", [{"product_id": 1}])
    assert response.to_dict()["price"][0] is not None
    assert logger.layout("unlogged").folder is None
    assert "unlogged" not in logger.stats()
