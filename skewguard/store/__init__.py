"""The Feast side: the feature repo, the online store, snapshots, the offline store, replay.

`repo` finds, opens and applies the feature repo; `service` resolves what a feature service
serves; `online` picks the Redis (an embedded one when none answers), materializes and looks
up; `snapshot` writes point-in-time training snapshots with their manifest and reference
profile; `offline_store` is the Feast offline store plugin (one DuckDB ASOF JOIN per view);
`replay` runs logged requests through the offline store for the joined comparison.
`connection` is the one Redis connection helper (parsing both connection-string forms into
a `redis_target.RedisTarget`, whose clients have timeouts and TLS), `redaction` keeps
passwords out of messages, `redis_errors` says why a Redis call failed, and `redis_online`
is Feast's Redis online store on the helper's clients. Feast is imported inside functions
only (and by `redis_online`, which `repo` imports when it opens a store): it takes seconds
to import.

`batch_engine.RedisBatchEngine` is Feast's batch engine for Redis (feature_store.yaml
`batch_engine`): it materializes plain feature views in bounded batches (`offline_batches`),
encodes Feast's keys, field names and protobuf values for a whole batch with numpy
(`feast_bytes`, `rowbytes`) and pipelines the writes (`resp`, `redis_writer`), keeping
Feast's rule that a stored value is never replaced by an older or equal one. `cluster`
runs the online store as a Redis Cluster (Feast's `redis_cluster` type).

`redis_reader.FastReader` is the fast read path: a feature service's online lookup straight
from Redis, answering what Feast's `get_online_features` answers (`fast_response`) with
python-mode on-demand views run as Feast runs them (`fast_on_demand`), and Feast's own
lookup for whatever it does not support.
"""
