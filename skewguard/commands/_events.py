"""Event options shared by `check`, `watch` and `retrain` (parsing only, no work)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from skewguard.loop.events import Sink
    from skewguard.loop.stream import RedisStream


def add_stream_args(parser: argparse.ArgumentParser) -> None:
    from skewguard.loop.stream import DEFAULT_GROUP, DEFAULT_STREAM, EVENTS_REDIS_ENV

    group = parser.add_argument_group("event stream")
    group.add_argument(
        "--events-redis",
        default=None,
        metavar="REDIS",
        help="Redis holding the event stream: host:port[,password=...][,ssl=true][,db=N] "
        f"or a redis:// / rediss:// URL (default: ${EVENTS_REDIS_ENV}, then "
        "$SKEWGUARD_REDIS, then 127.0.0.1:6379)",
    )
    group.add_argument(
        "--stream", default=DEFAULT_STREAM, help=f"stream name (default: {DEFAULT_STREAM})"
    )
    group.add_argument(
        "--group",
        default=DEFAULT_GROUP,
        help=f"consumer group of the training pipeline (default: {DEFAULT_GROUP})",
    )


def add_publish_args(parser: argparse.ArgumentParser) -> None:
    """--publish / --events-file / --webhook: where retrain and block events go."""
    add_stream_args(parser)
    group = parser.add_argument_group("publishing retrain and block events")
    group.add_argument(
        "--publish",
        action="store_true",
        help="publish an event to the Redis stream when the verdict is retrain or block",
    )
    group.add_argument(
        "--events-file",
        default=None,
        metavar="FILE",
        help="also append each event to FILE as a JSON line",
    )
    group.add_argument(
        "--webhook", default=None, metavar="URL", help="also POST each event to URL as JSON"
    )
    group.add_argument(
        "--webhook-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="timeout of the webhook POST (default 5)",
    )


def stream_from_args(args: argparse.Namespace) -> RedisStream:
    from skewguard.loop.stream import RedisStream, events_target

    target = events_target(args.events_redis)
    client = target.client(decode_responses=True)
    return RedisStream(client, args.stream, args.group, target=target)


def sinks_from_args(args: argparse.Namespace) -> list[Sink]:
    """The sinks the options ask for (none: publishing is off)."""
    from skewguard.loop.events import FileSink, WebhookSink

    sinks: list[Sink] = []
    if getattr(args, "publish", False):
        sinks.append(stream_from_args(args))
    if getattr(args, "events_file", None):
        sinks.append(FileSink(args.events_file))
    if getattr(args, "webhook", None):
        sinks.append(WebhookSink(args.webhook, timeout=args.webhook_timeout))
    return sinks
