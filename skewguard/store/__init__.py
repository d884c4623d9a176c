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
"""
