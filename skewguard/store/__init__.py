"""The Feast side: the feature repo, the online store, snapshots, the offline store, replay.

`repo` finds, opens and applies the feature repo; `service` resolves what a feature service
serves; `online` picks the Redis (an embedded one when none answers), materializes and looks
up; `snapshot` writes point-in-time training snapshots with their manifest and reference
profile; `offline_store` is the Feast offline store plugin (one DuckDB ASOF JOIN per view);
`replay` runs logged requests through the offline store for the joined comparison. Feast is
imported inside functions only: it takes seconds to import.
"""
