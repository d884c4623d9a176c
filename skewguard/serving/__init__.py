"""Serving with logging: every feature served online, written in Feast's logging schema.

`logger.FeatureLogger` wraps `FeatureStore.get_online_features` and hands each sampled
response to a bounded buffer (`writer`); a writer process (`process`) encodes it
(`encoding`, with the true statuses of `statuses`) into the table `layout` describes and
writes atomic, date-partitioned parquet files (`files`). Each accepted response is also
appended to an on-disk `spool` before the lookup returns, so the rows of a killed process
are written by the next writer. `server` is the HTTP feature server that serves and logs
through the same path.
"""
