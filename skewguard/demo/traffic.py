"""Demo traffic: customers browsing products, replayed through the logging lookup or HTTP.

`plan_traffic` draws browsing sessions deterministically from a seed: a session belongs
to one customer (a few shoppers are much more active than the rest), starts at a uniform
time in the window and makes a few page views some seconds apart; each page view asks for
the features of a handful of distinct candidate products (popular products more often).
A small share of sessions come from customers unknown to the store (new sign-ups), whose
features are NOT_FOUND. Requests are sorted by time.

`run_in_process` sends the plan through a `FeatureLogger`, each request at its planned
time (the request time of the log). `run_over_http` posts it to a `/get-online-features`
endpoint, where the server's clock gives the request time.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from skewguard.serving.logger import FeatureLogger

__all__ = [
    "TrafficConfig",
    "PlannedRequest",
    "TrafficResult",
    "plan_traffic",
    "run_in_process",
    "run_over_http",
]


@dataclass(frozen=True)
class TrafficConfig:
    requests: int = 300
    end: datetime | None = None  # None: now
    window: timedelta = timedelta(minutes=10)
    customers: int = 400  # known customer ids are 1..customers
    products: int = 150  # product ids are 1..products
    products_per_request: tuple[int, int] = (1, 6)  # inclusive range of candidates
    new_customer_rate: float = 0.02  # sessions of customers unknown to the store
    seed: int = 11
    # How often each id (1..n) is picked; None: shuffled Zipf ranks. Give them to make
    # traffic follow a known world, e.g. the mix of the most recent labelled interactions.
    customer_weights: tuple[float, ...] | None = None
    product_weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        low, high = self.products_per_request
        if self.requests < 0 or self.customers < 1 or self.products < 1:
            raise ValueError("requests must be >= 0; customers and products >= 1")
        if not 1 <= low <= high <= self.products:
            raise ValueError("products_per_request must satisfy 1 <= low <= high <= products")
        if not 0.0 <= self.new_customer_rate <= 1.0:
            raise ValueError("new_customer_rate must be within [0, 1]")
        if self.window < timedelta(0):
            raise ValueError("window must not be negative")
        for name, weights, n in (
            ("customer_weights", self.customer_weights, self.customers),
            ("product_weights", self.product_weights, self.products),
        ):
            if weights is not None and (len(weights) != n or min(weights) < 0 or not sum(weights)):
                raise ValueError(f"{name} needs {n} non-negative weights, not all zero")


@dataclass(frozen=True)
class PlannedRequest:
    time: datetime
    customer_id: int
    product_ids: tuple[int, ...]

    def entity_rows(self) -> list[dict[str, int]]:
        return [{"customer_id": self.customer_id, "product_id": p} for p in self.product_ids]

    def entities(self) -> dict[str, list[int]]:
        """The columnar form `feast serve` takes."""
        return {
            "customer_id": [self.customer_id] * len(self.product_ids),
            "product_id": list(self.product_ids),
        }


@dataclass(frozen=True)
class TrafficResult:
    requests: int
    rows: int  # entity rows sent (= log rows at sample rate 1)
    seconds: float
    request_ids: tuple[str, ...]

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else float("inf")


def _zipf_weights(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


def _smoothed(weights: Sequence[float]) -> np.ndarray:
    """Normalised weights with a little mass everywhere, so distinct picks never run out."""
    w = np.asarray(weights, dtype=float)
    w = w / w.sum() + 0.01 / len(w)
    return w / w.sum()


def plan_traffic(config: TrafficConfig | None = None) -> list[PlannedRequest]:
    """The requests of `config`, sorted by time; the same config gives the same plan."""
    cfg = config or TrafficConfig()
    rng = np.random.default_rng(cfg.seed)
    end = (cfg.end or datetime.now(UTC)).astimezone(UTC)
    start = end - cfg.window
    # Activity and popularity ranks are shuffled so id 1 is not always the busiest.
    customer_rank = rng.permutation(cfg.customers) + 1
    product_rank = rng.permutation(cfg.products) + 1
    customer_p = _zipf_weights(cfg.customers, 0.8)
    product_p = _zipf_weights(cfg.products, 1.0)
    if cfg.customer_weights is not None:
        customer_rank, customer_p = np.arange(1, cfg.customers + 1), _smoothed(cfg.customer_weights)
    if cfg.product_weights is not None:
        product_rank, product_p = np.arange(1, cfg.products + 1), _smoothed(cfg.product_weights)
    low, high = cfg.products_per_request
    window_s = cfg.window.total_seconds()

    planned: list[PlannedRequest] = []
    while len(planned) < cfg.requests:
        if rng.random() < cfg.new_customer_rate:
            customer = cfg.customers + int(rng.integers(1, 1_000_000))
        else:
            customer = int(customer_rank[rng.choice(cfg.customers, p=customer_p)])
        at = float(rng.uniform(0.0, window_s))
        for _ in range(int(rng.integers(1, 6))):  # page views in this session
            if len(planned) == cfg.requests:
                break
            k = int(rng.integers(low, high + 1))
            picks = rng.choice(cfg.products, size=k, replace=False, p=product_p)
            moment = start + timedelta(seconds=min(at, window_s))
            planned.append(
                PlannedRequest(moment, customer, tuple(int(product_rank[i]) for i in picks))
            )
            at += float(rng.uniform(5.0, 120.0))
    planned.sort(key=lambda r: r.time)
    return planned


def run_in_process(
    logger: FeatureLogger,
    plan: Sequence[PlannedRequest],
    feature_service: str = "recommender_v1",
    *,
    at_planned_time: bool = True,
) -> TrafficResult:
    """Look each planned request up through `logger` (request time: planned, or the clock)."""
    import uuid

    ids = []
    rows = 0
    started = time.perf_counter()
    for request in plan:
        rid = uuid.uuid4().hex
        logger.get_online_features(
            feature_service,
            request.entity_rows(),
            full_feature_names=True,
            request_time=request.time if at_planned_time else None,
            request_id=rid,
        )
        ids.append(rid)
        rows += len(request.product_ids)
    return TrafficResult(len(ids), rows, time.perf_counter() - started, tuple(ids))


def run_over_http(
    url: str,
    plan: Sequence[PlannedRequest],
    feature_service: str = "recommender_v1",
    *,
    timeout: float = 10.0,
) -> TrafficResult:
    """POST each planned request to `url` (e.g. http://127.0.0.1:6566) on one connection.

    Stops at the first failed request (an HTTPError-like RuntimeError says which); the
    ids of the requests answered before it are those the server acknowledged.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"{url!r}: use http://host:port")
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    path = parts.path.rstrip("/") + "/get-online-features"
    ids: list[str] = []
    rows = 0
    started = time.perf_counter()
    try:
        for request in plan:
            body = json.dumps(
                {
                    "feature_service": feature_service,
                    "entities": request.entities(),
                    "full_feature_names": True,
                }
            )
            answer = _post(connection, path, body)
            ids.append(answer)
            rows += len(request.product_ids)
    finally:
        connection.close()
    return TrafficResult(len(ids), rows, time.perf_counter() - started, tuple(ids))


def _post(connection: http.client.HTTPConnection, path: str, body: str) -> str:
    headers: dict[str, Any] = {"Content-Type": "application/json"}
    connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status} from {path}: {payload[:200]!r}")
    return response.headers.get("x-request-id", "")
