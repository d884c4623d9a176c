"""`POST /predict`: look the features up, score them with the served model, log both.

`skewguard serve --model models:/NAME@champion` resolves the alias once at start-up (the
version is pinned for the life of the server, and named in every answer and log row),
loads the model and adds this route to the feature server:

    POST /predict  {"entities": {"customer_id": [1, 2], "product_id": [7, 9]},
                    "feature_service": "recommender_v1"}      (optional: the model's)
    200 {"request_id": "...", "model": {"name", "version", "uri"},
         "feature_service": "...", "predictions": [0.12, 0.56]}

The features are looked up as `get-online-features` looks them up (Feast's
`get_online_features`, full feature names) and logged to the service's serving log; the
predictions go to the prediction log (`skewguard.serving.predictions`) under the same
request id (`X-Request-Id` when the caller sends one). Both writers open when the app
starts and flush when it stops, so a SIGTERM loses no answered prediction.

No `from __future__ import annotations`: FastAPI reads the route's annotations.
"""

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from skewguard.serving.limits import check_entity_rows
from skewguard.serving.online_route import REQUEST_ID_HEADER, given_request_id
from skewguard.serving.predictions import PredictionLog

if TYPE_CHECKING:
    from fastapi import FastAPI
    from feast import FeatureStore

    from skewguard.serving.limits import RequestLimits
    from skewguard.serving.logs import ServingLogs

__all__ = ["PREDICT_PATH", "ServedModel", "add_predict_route"]

PREDICT_PATH = "/predict"


@dataclass(frozen=True)
class ServedModel:
    """A loaded model and what names it: registered name, version, URI, its service."""

    name: str
    version: str
    uri: str
    feature_service: str
    scorer: Any  # skewguard.loop.model.TrainedModel (predict_proba over columns)

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "uri": self.uri}


def add_predict_route(
    app: "FastAPI",
    store: "FeatureStore",
    logs: "ServingLogs",
    model: ServedModel,
    predictions: PredictionLog,
    limits: "RequestLimits",
) -> None:
    """Add `POST /predict` to `app`; the prediction log opens and closes with the app."""
    from fastapi import HTTPException, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel

    from skewguard.serving.server import _run_around_lifespan

    class PredictRequest(BaseModel):
        entities: dict[str, list[Any]]
        feature_service: str | None = None

    def predict(request: Any, request_id: str) -> dict[str, Any]:
        from skewguard.store.repo import get_feature_service

        service = get_feature_service(store, request.feature_service or model.feature_service)
        started = logs.now()
        response = store.get_online_features(
            features=service, entity_rows=request.entities, full_feature_names=True
        )
        logs.record(
            service,
            response,
            request.entities,
            full_feature_names=True,
            request_time=started,
            request_id=request_id,
            corrected_statuses=False,
        )
        scores = model.scorer.predict_proba(response.to_dict())
        predictions.record(request_id, started, request.entities, scores)
        return {
            "request_id": request_id,
            "model": model.describe(),
            "feature_service": service.name,
            "predictions": scores,
        }

    @app.post(PREDICT_PATH)
    async def predict_route(request: PredictRequest, http: Request) -> Any:
        lengths = {len(v) for v in request.entities.values()}
        if len(lengths) > 1:
            raise HTTPException(422, "every entity column must have the same length")
        check_entity_rows(next(iter(lengths), 0), limits)
        request_id = given_request_id(http.headers) or uuid.uuid4().hex
        content = await run_in_threadpool(predict, request, request_id)
        return JSONResponse(content=content, headers={REQUEST_ID_HEADER: request_id})

    _run_around_lifespan(app, start=predictions.open, stop=predictions.close)
    app.state.prediction_log = predictions
