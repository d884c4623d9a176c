"""Online lookups of a feature service straight from Redis, answering what Feast answers.

`FastReader.get_online_features` takes what `FeatureStore.get_online_features` takes and
returns a `FastResponse` (`to_dict()`, `proto`) equal to Feast's `OnlineResponse`, value
for value and status for status, without Feast's per-request SDK work. Once per feature
service (and again whenever Feast's registry cache is refreshed) it asks Feast's own
request resolution (`feast.utils._get_cached_request_context`) what to read, and keeps:
per feature view its join keys and their types, the Redis key prefix
(`serialize_entity_key` of version 3, then the project), the hash fields Feast reads
(murmur3 of "<view>:<feature>", then "_ts:<view>") and the features' value types. Per
request it builds the keys, sends every HMGET in one write on one connection and reads
the replies, decodes the `Value` bytes as `OnlineResponse.to_dict` does, and runs each
python-mode on-demand view's own transformation the way `transform_dict` and Feast's
`_augment_response_with_on_demand_transforms` run it (`skewguard.store.fast_on_demand`:
same input columns, same output names, outputs encoded by Feast's
`python_values_to_proto_values`).

Anything else goes to Feast's own `get_online_features`, with the reason logged once per
feature service and reason: a Feast other than 0.67 (whose internals this follows); a
store that is not a single Redis read by redis-py (Redis Cluster, Sentinel, the GLIDE
client, other online stores); pandas or substrait on-demand views, views written to the
online store or aggregating; request-source data; entity-less views, aliased join keys,
versioned views, precomputed services; join key types other than INT64, INT32 and
STRING; feature types that are not plain scalars or lists of them; Feast metrics or
MLflow auto-logging switched on; `include_feature_view_version_metadata`; a list of
feature references instead of a service; and entity rows it cannot take as they are
(keys other than the views' join keys, a value that is not exactly an int or str of its
key's type, rows naming different keys, no rows). A registry cache past its TTL sends
that request to Feast too, which refreshes it.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from skewguard.store.fast_on_demand import OnDemand, plan_on_demand, transform
from skewguard.store.fast_response import Column, FastResponse, Unsupported, feast_event_time

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore

__all__ = ["FastReader", "Unsupported"]

log = logging.getLogger("skewguard.fast_read")

# Value types whose Value bytes decode to exactly `getattr(value, kind)` (scalars) or
# `list(getattr(value, kind).val)` (lists) in Feast's `feast_value_type_to_python_type`.
_SCALARS = {"double_val", "float_val", "int64_val", "int32_val", "bool_val", "string_val"}
_SCALARS |= {"bytes_val"}
_LISTS = {f"{k[:-4]}_list_val" for k in _SCALARS}
_PLAIN_TYPES = {
    "DOUBLE", "FLOAT", "INT64", "INT32", "BOOL", "STRING", "BYTES",
    "DOUBLE_LIST", "FLOAT_LIST", "INT64_LIST", "INT32_LIST", "BOOL_LIST", "STRING_LIST",
    "BYTES_LIST", "UNIX_TIMESTAMP", "UNIX_TIMESTAMP_LIST",
}  # fmt: skip
FEAST_VERSION = "0.67."  # the Feast whose read path this one reproduces (tests/test_fast_read.py)
_KEY_CODES = {"INT64": 4, "INT32": 3, "STRING": 2}  # feast.types.ValueType enum numbers
_INT_RANGES = {"INT64": (-(2**63), 2**63), "INT32": (-(2**31), 2**31)}


@dataclass(frozen=True)
class _View:
    prefix: str  # response name prefix: the projection's name to use
    join_keys: tuple[str, ...]  # sorted, as serialize_entity_key orders them
    key_types: tuple[str, ...]  # ValueType names of the join keys
    key_head: bytes  # serialize_entity_key's bytes before the values
    fields_resp: bytes  # the RESP arguments of HMGET after the key
    argc: bytes  # b"*<count>\r\n$5\r\nHMGET\r\n"
    names: tuple[str, ...]  # response names of the features, then of "_ts:<view>"
    types: tuple[Any, ...]  # feature_types.get(name) per feature


@dataclass(frozen=True)
class _Plan:
    registry_ts: Any
    key_types: Mapping[str, str]  # join key -> ValueType name, every key Feast accepts
    views: tuple[_View, ...]
    on_demand: tuple[OnDemand, ...]
    result_names: frozenset[str]
    feature_types: Mapping[str, Any]
    project: bytes


def _resp(arg: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(arg), arg)


def _decode(raw: bytes | None, feature_type: Any) -> Any:
    """`feast_value_type_to_python_type(ValueProto.FromString(raw), feature_type)`."""
    if not raw:
        return None
    value = _ValueProto.FromString(raw)
    kind = value.WhichOneof("val")
    if kind in _SCALARS:
        return getattr(value, kind)
    if kind in _LISTS:
        return list(getattr(value, kind).val)
    return _to_python(value, feature_type)


_ValueProto: Any = None
_to_python: Any = None


def _load_feast() -> None:
    global _ValueProto, _to_python
    if _ValueProto is None:
        from feast.protos.feast.types.Value_pb2 import Value
        from feast.type_map import feast_value_type_to_python_type

        _ValueProto, _to_python = Value, feast_value_type_to_python_type


def _supported_store(store: FeatureStore) -> Any:
    """The redis-py client of the store's online store; raises Unsupported otherwise."""
    import feast
    from feast.infra.online_stores.redis import RedisClient, RedisOnlineStoreConfig, RedisType
    from feast.infra.online_stores.redis import RedisOnlineStore as FeastRedis

    from skewguard.store.redis_online import RedisOnlineStore

    if not feast.__version__.startswith(FEAST_VERSION):
        raise Unsupported(f"Feast is {feast.__version__}; the fast path follows {FEAST_VERSION}")
    config = store.config.online_store
    if not isinstance(config, RedisOnlineStoreConfig):
        raise Unsupported(f"the online store is {getattr(config, 'type', config)!r}, not Redis")
    if config.redis_type != RedisType.redis:
        raise Unsupported(f"the Redis store is a {config.redis_type.value}, not a single server")
    if config.client != RedisClient.redis:
        raise Unsupported(f"the Redis store reads through the {config.client.value} client")
    online = store._get_provider().online_store  # type: ignore[attr-defined]
    if type(online) not in (FeastRedis, RedisOnlineStore):
        raise Unsupported(f"the online store class is {type(online).__name__}")
    if store.config.entity_key_serialization_version != 3:
        raise Unsupported("entity_key_serialization_version is not 3")
    if store.config.registry.enable_online_feature_view_versioning:
        raise Unsupported("online feature view versioning is on")
    mlflow = getattr(store.config, "mlflow", None)
    if mlflow is not None and getattr(mlflow, "auto_log", False):
        raise Unsupported("MLflow auto-logging of retrievals is on")
    return online._get_client(config)  # type: ignore[attr-defined]


def _plan(store: FeatureStore, service: FeatureService, full_names: bool) -> _Plan:
    from feast.infra.online_stores.helpers import _mmh3
    from feast.infra.online_stores.online_store import OnlineStore
    from feast.utils import _get_cached_request_context

    registry = store.registry
    if getattr(service, "precompute_online", False):
        raise Unsupported("the service reads precomputed vectors")
    (
        feature_refs,
        odfvs,
        entity_to_join_key,
        entity_types,
        join_keys,
        grouped_refs,
        result_names,
        request_data,
        entityless,
    ) = _get_cached_request_context(registry, store.project, service, full_names)
    if request_data:
        raise Unsupported(f"on-demand views read request data {sorted(request_data)}")
    if entityless:
        raise Unsupported("a feature view has no entity")
    # Join keys of the served views' entities, with their types; rows naming any other
    # key (another entity's, an entity name, request data) go to Feast.
    key_types: dict[str, str] = {}
    for key in join_keys:
        if key in entity_types:
            kind = entity_types[key].name
            if kind not in _KEY_CODES:
                raise Unsupported(f"join key {key!r} is of type {kind}")
            key_types[key] = kind
    feature_types = OnlineStore._build_feature_types(grouped_refs)
    views = []
    for table, requested in grouped_refs:
        projection = table.projection
        if projection.join_key_map:
            raise Unsupported(f"view {table.name!r} maps its join keys")
        if getattr(projection, "version_tag", None) is not None:
            raise Unsupported(f"view {table.name!r} is read at a version")
        keys = sorted(entity_to_join_key[e] for e in table.entities)
        features = list(requested) or [f.name for f in table.features]
        declared = {f.name: f.dtype.to_value_type().name for f in table.features}
        for name in features:
            if declared.get(name) not in _PLAIN_TYPES:
                raise Unsupported(f"feature {table.name}:{name} is of type {declared.get(name)}")
        fields = [_mmh3(f"{table.name}:{f}") for f in features] + [f"_ts:{table.name}".encode()]
        prefix = projection.name_to_use()
        names = [f"{prefix}__{f}" if full_names else f for f in [*features, f"_ts:{table.name}"]]
        head = struct.pack("<I", len(keys))
        for key in keys:
            encoded = key.encode("utf-8")
            head += struct.pack("<II", 2, len(encoded)) + encoded
        views.append(
            _View(
                prefix=prefix,
                join_keys=tuple(keys),
                key_types=tuple(key_types[k] for k in keys),
                key_head=head,
                fields_resp=b"".join(_resp(f) for f in fields),
                argc=b"*%d\r\n$5\r\nHMGET\r\n" % (2 + len(fields)),
                names=tuple(names),
                types=tuple(feature_types.get(n) for n in names[:-1]),
            )
        )
    on_demand = plan_on_demand(odfvs, feature_refs, full_names)
    return _Plan(
        registry_ts=getattr(registry, "cached_registry_proto_created", None),
        key_types=key_types,
        views=tuple(views),
        on_demand=on_demand,
        result_names=frozenset(result_names),
        feature_types=feature_types,
        project=store.project.encode("utf-8"),
    )


def _columns(entity_rows: Any) -> tuple[dict[str, list[Any]], int]:
    """Entity rows as columns, as Feast takes them; Unsupported when Feast should judge."""
    if isinstance(entity_rows, list):
        if not entity_rows:
            raise Unsupported("no entity rows")
        names = list(entity_rows[0])
        columns: dict[str, list[Any]] = {k: [] for k in names}
        width = len(names)
        for row in entity_rows:
            if len(row) != width:
                raise Unsupported("entity rows name different keys")
            for key, value in row.items():
                column = columns.get(key)
                if column is None:
                    raise Unsupported("entity rows name different keys")
                column.append(value)
        return columns, len(entity_rows)
    if isinstance(entity_rows, Mapping):
        columns = {}
        for key, values in entity_rows.items():
            if not isinstance(values, list | tuple):
                raise Unsupported("entity values are not a list")
            columns[key] = list(values)
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1 or 0 in lengths:
            raise Unsupported("entity columns are empty or of different lengths")
        return columns, lengths.pop()
    raise Unsupported(f"entity rows are a {type(entity_rows).__name__}")


def _key_bytes(value: Any, kind: str) -> bytes:
    """serialize_entity_key's bytes of one join key value (type code, length, value)."""
    if kind == "STRING":
        if type(value) is not str:
            raise Unsupported("a STRING join key value is not a str")
        encoded = value.encode("utf-8")
        return struct.pack("<II", 2, len(encoded)) + encoded
    low, high = _INT_RANGES[kind]
    if type(value) is not int or not low <= value < high:
        raise Unsupported(f"an {kind} join key value is not an int in range")
    if kind == "INT64":
        return b"\x04\x00\x00\x00\x08\x00\x00\x00" + struct.pack("<q", value)
    return b"\x03\x00\x00\x00\x04\x00\x00\x00" + struct.pack("<i", value)


class FastReader:
    """Feature service lookups from Redis, as Feast's `get_online_features` answers them."""

    def __init__(self, store: FeatureStore) -> None:
        self.store = store
        self._plans: dict[tuple[str, bool], tuple[Any, _Plan | str]] = {}
        self._client: Any = None
        self._store_problem: str | None = None
        self._warned: set[tuple[str, str]] = set()
        _load_feast()
        try:
            self._client = _supported_store(store)
        except Unsupported as why:
            self._store_problem = str(why)

    def get_online_features(
        self,
        features: Any,
        entity_rows: Any,
        full_feature_names: bool = False,
        include_feature_view_version_metadata: bool = False,
    ) -> Any:
        """A `FastResponse`, or Feast's `OnlineResponse` when the fast path cannot answer."""
        try:
            if include_feature_view_version_metadata:
                raise Unsupported("version metadata was asked for")
            return self.read(features, entity_rows, full_feature_names)
        except Unsupported as why:
            self._fall_back(features, str(why))
        return self.store.get_online_features(
            features=features,
            entity_rows=entity_rows,
            full_feature_names=full_feature_names,
            include_feature_view_version_metadata=include_feature_view_version_metadata,
        )

    def supports(self, features: Any, full_feature_names: bool = False) -> str | None:
        """None when lookups of `features` can take the fast path; else why not."""
        try:
            self._plan_for(features, full_feature_names)
        except Unsupported as why:
            return str(why)
        return None

    def read(self, features: Any, entity_rows: Any, full_feature_names: bool = False) -> Any:
        """The fast path's answer; raises `Unsupported` when Feast must answer instead."""
        plan = self._plan_for(features, full_feature_names)
        columns, n = _columns(entity_rows)
        key_types = plan.key_types
        for name in columns:
            if name not in key_types:
                raise Unsupported(f"entity rows name {name!r}, which is not a join key")
        out: list[Column] = []
        for name, values in columns.items():
            out.append(Column(name, values, _encoder(values, key_types[name])))
        # One HMGET per view and distinct entity, all sent at once.
        commands: list[bytes] = []
        fanout: list[tuple[_View, list[int], int]] = []
        for view in plan.views:
            try:
                key_columns = [columns[k] for k in view.join_keys]
            except KeyError:
                raise Unsupported("entity rows lack a join key of a served view") from None
            slots: dict[bytes, int] = {}
            rows = []
            for i in range(n):
                key = view.key_head
                for column, kind in zip(key_columns, view.key_types, strict=True):
                    key += _key_bytes(column[i], kind)
                slot = slots.get(key)
                if slot is None:
                    slot = slots[key] = len(slots)
                    key += plan.project
                    commands.append(view.argc + _resp(key) + view.fields_resp)
                rows.append(slot)
            fanout.append((view, rows, len(slots)))
        replies = self._exchange(b"".join(commands), len(commands))
        start = 0
        for view, rows, count in fanout:
            mine = replies[start : start + count]
            start += count
            times = [feast_event_time(reply[-1]) for reply in mine]
            row_times = [times[s] for s in rows]
            for f, (name, kind) in enumerate(zip(view.names[:-1], view.types, strict=True)):
                raw = [reply[f] or b"" for reply in mine]
                decoded = [_decode(r, kind) for r in raw]
                out.append(
                    Column(name, [decoded[s] for s in rows], [raw[s] for s in rows], row_times)
                )
            out.append(Column(view.names[-1], [None] * n, [b""] * n, row_times))
        for odfv in plan.on_demand:
            out.extend(transform(odfv, out, plan.feature_types))
        keep = plan.result_names
        given = set(columns)
        return FastResponse([c for c in out if c.name in keep or c.name in given], n)

    def _plan_for(self, features: Any, full_names: bool) -> _Plan:
        if self._store_problem is not None:
            raise Unsupported(self._store_problem)
        name = getattr(features, "name", None)
        if not isinstance(name, str) or not hasattr(features, "feature_view_projections"):
            raise Unsupported("features are not a FeatureService")
        metrics = _metrics_on()
        if metrics:
            raise Unsupported(metrics)
        registry = self.store.registry
        current = getattr(registry, "cached_registry_proto_created", None)
        if current is None or not registry.is_cache_valid():
            raise Unsupported("the registry cache is empty or past its TTL (Feast refreshes it)")
        entry = self._plans.get((name, full_names))
        if entry is None or entry[0] != current:  # first use, or the registry was refreshed
            try:
                entry = (current, _plan(self.store, features, full_names))
            except Unsupported as why:
                entry = (current, str(why))
            self._plans[(name, full_names)] = entry
        plan = entry[1]
        if isinstance(plan, str):
            raise Unsupported(plan)
        return plan

    def _exchange(self, payload: bytes, replies: int) -> list[Any]:
        pool = self._client.connection_pool
        connection = pool.get_connection()
        try:
            return connection.retry.call_with_retry(
                lambda: _send_and_read(connection, payload, replies),
                lambda _err: connection.disconnect(),
            )
        except BaseException:
            connection.disconnect()
            raise
        finally:
            pool.release(connection)

    def _fall_back(self, features: Any, reason: str) -> None:
        name = getattr(features, "name", "<feature list>")
        if (name, reason) not in self._warned:
            self._warned.add((name, reason))
            log.warning("fast read of %s falls back to Feast's lookup: %s", name, reason)


def _send_and_read(connection: Any, payload: bytes, replies: int) -> list[Any]:
    connection.send_packed_command([payload], check_health=True)
    try:
        return [connection.read_response(disable_decoding=True) for _ in range(replies)]
    except BaseException:
        connection.disconnect()  # replies left unread: the connection is not reusable
        raise


def _metrics_on() -> str | None:
    try:
        from feast.metrics import _config
    except ImportError:
        return None
    if getattr(_config, "online_features", False):
        return "Feast's online feature metrics are on"
    return None


def _encoder(values: list[Any], kind: str) -> Any:
    def encode() -> list[bytes]:
        from feast.type_map import python_values_to_proto_values
        from feast.value_type import ValueType

        return [
            v.SerializeToString() for v in python_values_to_proto_values(values, ValueType[kind])
        ]

    return encode
