"""The online side of the feature store: loading Redis fast and running it as a cluster.

`batch_engine.RedisBatchEngine` is a Feast batch engine (feature_store.yaml
`batch_engine: type: skewguard.store.batch_engine.RedisBatchEngine`) that materializes
plain feature views into Feast's Redis online store: it reads the latest row per entity
from the offline store in bounded batches, encodes Feast's keys, field names and
protobuf values for a whole batch at once with numpy, and pipelines the writes, keeping
Feast's rule that a stored value is never replaced by one with an older or equal event
time. Feast's own `get_online_features` reads what it writes; views it does not handle go
to Feast's local engine. `local_cluster` starts a Redis Cluster on loopback ports and
builds a FeatureStore configured for it (Feast's `redis_cluster` online store type).
"""
