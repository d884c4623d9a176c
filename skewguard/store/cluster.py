"""Redis Cluster as Feast's online store: a configured FeatureStore, and a local cluster.

Feast's Redis store talks to a cluster when feature_store.yaml says so:

    online_store:
      type: redis
      redis_type: redis_cluster
      connection_string: "host1:7000,host2:7000,host3:7000"

`cluster_feature_store` builds that FeatureStore from a repo whose yaml names a single
Redis, without editing the file: the registry and everything else stay the repo's.
`LocalRedisCluster` starts a cluster of real redis-server processes on free loopback
ports (slots split evenly, no replicas, nothing persisted) and stops them by pid: what
the tests run against, and a way to try the cluster set-up on one machine.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from skewguard.errors import OnlineStoreError

if TYPE_CHECKING:
    from feast import FeatureStore

__all__ = ["LocalRedisCluster", "cluster_feature_store"]

SLOTS = 16384


def cluster_feature_store(repo: str | Path | None, connection_string: str) -> FeatureStore:
    """The repo's FeatureStore with its Redis online store set to the cluster's nodes.

    connection_string: Feast's format, "host:port,host:port[,password=...]".
    """
    from feast import FeatureStore
    from feast.infra.online_stores.redis import RedisType
    from feast.repo_config import load_repo_config

    from skewguard.store.location import locate_repo

    location = locate_repo(repo)
    config = load_repo_config(location.folder, location.config)
    online = config.online_store
    if getattr(online, "type", None) != "redis":
        raise OnlineStoreError(
            "the repo's online store is not Feast's Redis store",
            where=str(location.config),
            hint="set online_store: type: redis",
        )
    online.redis_type = RedisType.redis_cluster
    online.connection_string = connection_string
    return FeatureStore(repo_path=str(location.folder), config=config)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cluster_port(taken: set[int]) -> int:
    """A free port p whose cluster bus port p + 10000 is free too."""
    for _ in range(200):
        port = random.randint(20000, 30000)
        if port not in taken and _port_free(port) and _port_free(port + 10000):
            return port
    raise OnlineStoreError(
        "no free loopback port pair (p, p + 10000) for a cluster node",
        where="127.0.0.1",
        hint="free some ports between 20000 and 40000",
    )


@dataclass
class LocalRedisCluster:
    """Redis Cluster masters on loopback ports; nothing persisted; stopped by pid."""

    ports: list[int]
    processes: list[subprocess.Popen[bytes]]
    workdir: Path
    stopped: bool = field(default=False)

    @property
    def connection_string(self) -> str:
        """Feast's connection string of the nodes (`redis_type: redis_cluster`)."""
        return ",".join(f"127.0.0.1:{port}" for port in self.ports)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    @classmethod
    def start(cls, masters: int = 3, timeout: float = 30.0) -> LocalRedisCluster:
        from skewguard.store.online import redis_server_binary

        binary = redis_server_binary()
        workdir = Path(tempfile.mkdtemp(prefix="skewguard-cluster-"))
        cluster = cls(ports=[], processes=[], workdir=workdir)
        try:
            for _ in range(masters):
                port = _cluster_port(set(cluster.ports))
                node_dir = workdir / str(port)
                node_dir.mkdir()
                command = [
                    binary,
                    "--port", str(port),
                    "--bind", "127.0.0.1",
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", str(node_dir / "nodes.conf"),
                    "--cluster-node-timeout", "5000",
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", str(node_dir),
                    "--logfile", str(node_dir / "redis.log"),
                ]  # fmt: skip
                cluster.ports.append(port)
                cluster.processes.append(
                    subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                )
            cluster._form(timeout)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _client(self, port: int):  # noqa: ANN202 - redis.Redis, imported lazily
        import redis

        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)

    def _wait(self, ready, what: str, deadline: float) -> None:  # noqa: ANN001
        while not ready():
            dead = [p.pid for p in self.processes if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise OnlineStoreError(
                    f"the local Redis Cluster did not {what}"
                    + (f" (redis-server {dead} exited)" if dead else ""),
                    where=self.connection_string,
                    hint=f"see the redis.log files under {self.workdir}",
                )
            time.sleep(0.05)

    def _form(self, timeout: float) -> None:
        import redis

        deadline = time.monotonic() + timeout

        def answering() -> bool:
            try:
                return all(self._client(port).ping() for port in self.ports)
            except redis.exceptions.ConnectionError:
                return False

        self._wait(answering, "start", deadline)
        n = len(self.ports)
        for i, port in enumerate(self.ports):
            node = self._client(port)
            node.execute_command("CLUSTER", "SET-CONFIG-EPOCH", i + 1)
            slots = range(i * SLOTS // n, (i + 1) * SLOTS // n)
            node.execute_command("CLUSTER", "ADDSLOTS", *slots)
        first = self._client(self.ports[0])
        for port in self.ports[1:]:
            first.execute_command("CLUSTER", "MEET", "127.0.0.1", port)

        def formed() -> bool:
            for port in self.ports:
                info = self._client(port).execute_command("CLUSTER", "INFO")
                text = info.decode() if isinstance(info, bytes) else str(info)
                if "cluster_state:ok" not in text or f"cluster_known_nodes:{n}" not in text:
                    return False
            return True

        self._wait(formed, "form (all slots served, every node known)", deadline)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every node by its pid and remove the working folder."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.stopped = True

    def __enter__(self) -> LocalRedisCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
