"""The check core: from parquet inputs to verdicts, with no Feast and no Redis.

Imports flow one way: `reading` (files, manifests, batches) → `specs`, `values`,
`freezing` (bins frozen from training) → `profile`, `counting`, `reference` (mergeable
profiles of each side) → `comparing` and `joined` (numbers only) → `policy` and `deciding`
(verdicts) → `pipeline` (the whole check as one call, returning the report). Nothing here
imports Feast, the online store, serving or the retraining loop.
"""
