"""The serving log's writer process: encoding and parquet writing outside the server.

Turning thousands of buffered log rows into Arrow arrays holds the GIL for milliseconds,
and a request thread that waits for the GIL waits for that (up to the interpreter's 5 ms
switch interval per hand-over): it showed in the p99 of lookups. So the serving process
only buffers rows; a child process (`python -m skewguard.serving.process`) encodes and writes
them, on the other core, at a lower CPU priority than serving.

`ProcessSink` is the serving side. It starts the child, sends it each batch of buffered
items (pickled, in chunks) and waits for the child's `BatchResult` on its writer thread,
whose only work is pickling and blocking pipe I/O. If the child dies, the batch's result says so
(`retryable`, the exit code as the error); the writer sends the batch once more to a new
child, which completes it without writing any date twice (`LogFileWriter.write(resume=True)`).

The child ignores SIGINT and SIGTERM: a signal sent to the whole process group (Ctrl-C,
a container stop) must not kill it before the server hands over its last rows. It exits
when its stdin closes: when the server closes the writer, or dies.

Wire format, both ways: an 8-byte little-endian length, then a pickle.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from skewguard.serving.files import BatchResult, LogFileWriter, warm_up

__all__ = ["ProcessSink", "encode_and_write", "main"]

log = logging.getLogger(__name__)

_LENGTH = struct.Struct("<Q")
_CHUNK = 256  # items per pickle: bounds how long one pickle call holds the GIL
# The lowest priority that still gets CPU time. Not SCHED_IDLE: on a machine whose CPUs are
# always busy it never runs, so rows never reach files and a graceful stop times out.
_NICENESS = 19
_PIPE_BYTES = 4 << 20  # pipe to the writer process (capped by /proc/sys/fs/pipe-max-size)


def encode_and_write(
    encode: Callable[[Sequence[Any]], Any],
    items: Sequence[Any],
    rows: int,
    files: LogFileWriter,
    batch: str | None = None,
    resume: bool = False,
) -> BatchResult:
    """Encode `items` (holding `rows` log rows) into one table and write it as `batch`."""
    result = BatchResult()
    try:
        table = encode(items)
    except Exception as err:  # a bug in encode loses this batch, not the writer
        log.exception("%s: could not encode %d log rows", files.folder, rows)
        result.fail(rows, err)
        return result
    files.write(table, result, batch=batch, resume=resume)
    return result


class ProcessSink:
    """Hands batches to a writer process; `write` returns what became of them."""

    def __init__(
        self,
        encode: Callable[[Sequence[Any]], Any],
        folder: Path,
        *,
        partitioned: bool,
        fsync: bool,
        name: str,
    ) -> None:
        setup = {"folder": str(folder), "partitioned": partitioned, "fsync": fsync}
        try:
            self._setup = pickle.dumps({**setup, "encode": encode}, protocol=5)
        except Exception as err:
            raise ValueError(
                f"{name}: the encode function cannot be sent to the writer process ({err}); "
                "use a module-level function or an instance of an importable class, "
                "or WriterConfig(separate_process=False)"
            ) from err
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the writer process unless it runs; raises when it cannot start."""
        if self._process is not None and self._process.poll() is None:
            return
        self._process = None
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(_import_path())}
        process = subprocess.Popen(
            [sys.executable, "-m", "skewguard.serving.process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        _enlarge_pipe(process.stdin)
        try:
            _send_bytes(process.stdin, self._setup)
            ready = _receive(process.stdout)
        except OSError as err:
            ready = f"{type(err).__name__}: {err}"
        if ready != "ready":
            _stop(process, timeout=5)
            raise RuntimeError(
                f"the log writer process did not start: {ready or _exit_reason(process)}"
            )
        self._process = process

    def write(
        self, items: Sequence[Any], rows: int, batch: str | None = None, resume: bool = False
    ) -> BatchResult:
        try:
            chunks = [
                pickle.dumps(("items", items[i : i + _CHUNK]), protocol=5)
                for i in range(0, len(items), _CHUNK)
            ]
        except Exception as err:
            result = BatchResult()
            result.fail(rows, err)
            return result
        try:
            if self._process is not None and self._process.poll() is not None:
                # Died between batches: on record like a death under a batch, then replaced.
                raise EOFError(_exit_reason(self._process))
            self.start()
            process = self._process
            assert process is not None and process.stdin and process.stdout
            for chunk in chunks:
                _send_bytes(process.stdin, chunk, flush=False)
            _send(process.stdin, ("write", (rows, batch, resume)))
            reply = _receive(process.stdout)
            if not isinstance(reply, BatchResult):
                raise EOFError(_exit_reason(process))
            return reply
        except (OSError, EOFError, RuntimeError) as err:
            # Rows the child wrote before dying may be on disk: the writer sends the batch
            # again with resume=True, which skips the dates already written.
            failure: BaseException = err
            if self._process is not None:
                _stop(self._process, timeout=5)
                reason = _exit_reason(self._process)
                failure = RuntimeError(f"the log writer process failed: {reason}")
                self._process = None
            result = BatchResult(retryable=True)
            result.fail(rows, failure)
            return result

    def close(self, timeout: float = 30.0) -> None:
        if self._process is not None:
            _stop(self._process, timeout)
            self._process = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None


def _import_path() -> list[str]:
    # The child imports the encoder by name: give it this process's import path.
    return [entry or os.getcwd() for entry in sys.path]


def _enlarge_pipe(stream: IO[bytes] | None) -> None:
    """A batch fits the pipe in one write: fewer wake-ups, each one a GIL hand-over."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        size = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, min(size, _PIPE_BYTES))  # type: ignore[union-attr]


def _stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Close the child's stdin (it writes what it holds and exits); kill it if it hangs."""
    for stream in (process.stdin, process.stdout):
        with contextlib.suppress(OSError):
            if stream is not None:
                stream.close()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _exit_reason(process: subprocess.Popen[bytes]) -> str:
    code = process.poll()
    if code is None:
        return "it stopped answering"
    if code < 0:
        return f"it was killed by signal {-code} ({signal.Signals(-code).name})"
    return f"it exited with code {code}"


def _send(stream: IO[bytes] | None, message: Any) -> None:
    _send_bytes(stream, pickle.dumps(message, protocol=5))


def _send_bytes(stream: IO[bytes] | None, data: bytes, *, flush: bool = True) -> None:
    if stream is None:
        raise OSError("no pipe to the log writer process")
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    if flush:
        stream.flush()


def _receive(stream: IO[bytes] | None) -> Any:
    """The next message, or None at end of stream."""
    if stream is None:
        return None
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


# -- the child ---------------------------------------------------------------------------


def _yield_cpu_to_serving() -> None:
    """Run at nice 19: serving comes first, but the writer is never starved."""
    with contextlib.suppress(OSError):
        os.nice(_NICENESS)


def _prepare(encode: Callable[[Sequence[Any]], Any]) -> None:
    """Pay the lazy imports and set-up before the first batch, not during it."""
    warm_up()
    with contextlib.suppress(Exception):
        encode([])


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _yield_cpu_to_serving()
    # Replies go to the original stdout; anything else printed goes to stderr.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    logging.basicConfig(level=logging.WARNING, format="skewguard log writer: %(message)s")
    try:
        setup = _receive(requests)
    except Exception as err:
        _send(replies, f"{type(err).__name__}: {err}")
        return 1
    if setup is None:
        return 0
    files = LogFileWriter(setup["folder"], partitioned=setup["partitioned"], fsync=setup["fsync"])
    encode = setup["encode"]
    _prepare(encode)
    _send(replies, "ready")
    items: list[Any] = []
    while (message := _receive(requests)) is not None:
        kind, payload = message
        if kind == "items":
            items.extend(payload)
        elif kind == "write":
            rows, batch, resume = payload
            result = encode_and_write(encode, items, rows, files, batch, resume)
            items = []
            _send(replies, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
