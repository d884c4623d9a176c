"""Feast's Redis write rule, applied a batch at a time with pipelined commands.

Feast 0.67's `RedisOnlineStore.online_write_batch` reads the stored event time of every
key (the hash field "_ts:<view>"), then writes a row (HSET of all its features and its
event time, then EXPIRE when `key_ttl_seconds` is set) only when nothing is stored, or
the stored time is 0, or the row's time is strictly newer; of rows sharing a key in one
batch, the first with the newest time wins. With `skip_dedup: true` it writes every row
without reading. `RedisWriter` does the same with two pipelined round trips per batch:
all the HGETs of the batch in one write, then all the HSETs of the rows to keep in
another. The HGETs of a batch are sent before the HSETs of the batch are built, and the
replies of one batch's writes are read only when the next batch needs the connection,
so the client encodes while Redis works.

For a Redis Cluster, rows are grouped by the node that owns their key's hash slot and
each group goes to its node over its own connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import redis
from redis.cluster import RedisCluster
from redis.crc import key_slot

from skewguard.store.feast_bytes import seconds_and_nanos, timestamp_parts, timestamp_pieces
from skewguard.store.resp import RawPipeline, command
from skewguard.store.rowbytes import (
    Const,
    Padded,
    Piece,
    Ragged,
    Workspace,
    chunk_rows,
    join,
    join_ragged,
    slice_piece,
)

__all__ = ["RedisWriter", "ViewLayout", "WriteCounts"]


@dataclass(frozen=True)
class ViewLayout:
    """The hash fields Feast writes for one feature view, and its write options."""

    feature_fields: tuple[bytes, ...]  # murmur3 of "<view>:<feature>", in feature order
    timestamp_field: bytes  # b"_ts:<view>"
    key_ttl_seconds: int | None = None
    skip_dedup: bool = False


@dataclass
class WriteCounts:
    rows: int = 0  # rows offered
    written: int = 0  # rows written (the others had an equal or newer time stored)


def _take_piece(piece: Piece, rows: np.ndarray) -> Piece:
    if isinstance(piece, Const):
        return piece
    if isinstance(piece, Ragged):
        return piece.take(rows)
    lengths = None if piece.lengths is None else piece.lengths[rows]
    return Padded(piece.matrix[rows], lengths)


def _first_of_newest(keys: Ragged, micros: np.ndarray) -> np.ndarray | None:
    """Rows Feast keeps when keys repeat within a batch (None: every key is unique)."""
    array = pa.Array.from_buffers(
        pa.large_binary(),
        len(keys),
        [None, pa.py_buffer(keys.offsets), pa.py_buffer(keys.data)],
    )
    codes = array.dictionary_encode().indices.to_numpy(zero_copy_only=False)
    if len(np.unique(codes)) == len(codes):
        return None
    order = np.lexsort((np.arange(len(codes)), -micros, codes))
    first = np.ones(len(order), dtype=bool)
    first[1:] = codes[order[1:]] != codes[order[:-1]]
    return np.sort(order[first])


def _newer(stored: list[bytes | None], micros: np.ndarray) -> np.ndarray:
    """Feast's test: nothing (or time 0) stored, or the new time strictly later."""
    old_seconds, old_nanos = timestamp_parts(stored)
    seconds, nanos = seconds_and_nanos(micros)
    empty = (old_seconds == 0) & (old_nanos == 0)
    later = (seconds > old_seconds) | ((seconds == old_seconds) & (nanos > old_nanos))
    return empty | later


class RedisWriter:
    """Writes batches of one feature view's rows into Redis (a server or a cluster)."""

    def __init__(self, client: redis.Redis | RedisCluster, layout: ViewLayout) -> None:
        self._client = client
        self._layout = layout
        self._cluster = isinstance(client, RedisCluster)
        self._pipes: dict[str, RawPipeline] = {}
        self._pending_writes: dict[str, int] = {}
        self.counts = WriteCounts()
        self._ws = Workspace()

    def write(
        self,
        keys: Sequence[Piece],
        micros: np.ndarray,
        values: Sequence[Sequence[Piece]],
        *,
        unique_keys: bool = False,
    ) -> None:
        """Rows: Redis keys, event times (µs since the epoch) and per feature the Value bytes.

        unique_keys: the caller knows no key repeats within the batch (skips the check).
        """
        n = len(micros)
        self.counts.rows += n
        if n == 0:
            return
        layout = self._layout
        if not layout.skip_dedup and not unique_keys:
            survivors = _first_of_newest(join_ragged(keys, n), micros)
            if survivors is not None:
                keys = [_take_piece(p, survivors) for p in keys]
                values = [[_take_piece(p, survivors) for p in v] for v in values]
                micros, n = micros[survivors], len(survivors)
        hset = self._hset(keys, micros, values, n)
        for start, stop in chunk_rows(hset, n):
            self._write_chunk(
                [slice_piece(p, start, stop) for p in keys],
                [slice_piece(p, start, stop) for p in hset],
                micros[start:stop],
            )

    def _hset(
        self, keys: Sequence[Piece], micros: np.ndarray, values: Sequence[Sequence[Piece]], n: int
    ) -> list[Piece]:
        layout = self._layout
        arguments: list[Sequence[Piece] | bytes] = [keys]
        for field, value in zip(layout.feature_fields, values, strict=True):
            arguments += [field, value]
        arguments += [layout.timestamp_field, timestamp_pieces(micros)]
        pieces = command(b"HSET", arguments, n)
        if layout.key_ttl_seconds:
            pieces += command(b"EXPIRE", [keys, str(layout.key_ttl_seconds).encode()], n)
        return pieces

    def _write_chunk(self, keys: list[Piece], hset: list[Piece], micros: np.ndarray) -> None:
        n = len(micros)
        layout = self._layout
        groups = self._route(keys, n)
        if not layout.skip_dedup:
            hget = join(command(b"HGET", [keys, layout.timestamp_field], n), n, self._ws, "hget")
            for name, rows in groups:
                chosen = hget if rows is None else hget.take(rows)
                self._pipe(name).send(chosen.compress().data, replies=len(chosen))
        rows_out = join(hset, n, self._ws, "hset")  # built while Redis answers the HGETs
        per_row = 2 if layout.key_ttl_seconds else 1
        for name, rows in groups:
            pipe = self._pipe(name)
            pipe.discard(self._pending_writes.get(name, 0))
            self._pending_writes[name] = 0
            selected = np.arange(n) if rows is None else rows
            if not layout.skip_dedup:
                selected = selected[_newer(pipe.read(len(selected)), micros[selected])]
            if not len(selected):
                continue
            chosen = rows_out if len(selected) == n else rows_out.take(selected)
            pipe.send(chosen.compress().data, replies=len(selected) * per_row)
            self._pending_writes[name] = len(selected) * per_row
            self.counts.written += len(selected)

    def _route(self, keys: list[Piece], n: int) -> list[tuple[str, np.ndarray | None]]:
        if not self._cluster:
            return [("", None)]
        assert isinstance(self._client, RedisCluster)
        slots = np.fromiter(
            (key_slot(k) for k in join_ragged(keys, n).to_pylist()), dtype=np.int64, count=n
        )
        nodes: dict[str, list[int]] = {}
        for slot in np.unique(slots).tolist():
            node = self._client.nodes_manager.get_node_from_slot(slot)
            nodes.setdefault(node.name, []).append(slot)
        return [
            (name, np.flatnonzero(np.isin(slots, owned))) for name, owned in sorted(nodes.items())
        ]

    def _pipe(self, name: str) -> RawPipeline:
        pipe = self._pipes.get(name)
        if pipe is None:
            if self._cluster:
                assert isinstance(self._client, RedisCluster)
                node = self._client.get_node(node_name=name)
                pipe = RawPipeline(self._client.get_redis_connection(node), f"Redis node {name}")
            else:
                assert isinstance(self._client, redis.Redis)
                kwargs = self._client.connection_pool.connection_kwargs
                where = f"Redis {kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
                pipe = RawPipeline(self._client, where)
            self._pipes[name] = pipe
        return pipe

    def close(self) -> None:
        """Wait for the last replies (raising a refused write) and release the connections."""
        pipes, self._pipes = self._pipes, {}
        try:
            for pipe in pipes.values():
                pipe.close()
        except BaseException:
            for pipe in pipes.values():
                pipe.abort()
            raise

    def abort(self) -> None:
        """Drop the connections without waiting (after an error)."""
        pipes, self._pipes = self._pipes, {}
        for pipe in pipes.values():
            pipe.abort()
