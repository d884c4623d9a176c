"""The one Redis connection helper: parse a target, build clients, never leak the password.

Every Redis skewguard talks to (Feast's online store, the event stream, the demo, the
notebook, the benchmarks) is described by a `RedisTarget` (`skewguard.store.redis_target`),
parsed here from either form:

- Feast's connection string: `host[:port][,key=value]...`, e.g.
  `127.0.0.1:6379,password=s3cret,ssl=true,db=2`. As in Feast, a value may be JSON: a
  quoted value (`password="a\\u002cb"`) may hold any character, a comma included.
- A URL: `redis://[[user]:password@]host[:port][/db][?key=value...]`, or `rediss://` for
  TLS. User and password are percent-decoded (`%40` for `@`; `#`, `/` and `?` must be
  encoded).

Options, in both forms: `password`, `username`, `db`, `ssl`, `ssl_ca_certs`,
`ssl_certfile`, `ssl_keyfile`, `ssl_cert_reqs` (none, optional, required),
`ssl_check_hostname`, `socket_connect_timeout` and `socket_timeout` (seconds; defaults
`CONNECT_TIMEOUT` and `READ_TIMEOUT`). Every client a target builds has both timeouts, so
a paused or partitioned Redis fails a call within seconds instead of hanging, and retries
a dropped connection once (a restarted server), never a timeout or a rejected password.

Parse errors are `InputError`s naming where the string came from, and never repeat any
part of it: it may hold a password. Each parsed password is registered with
`skewguard.store.redaction`, and `RedisTarget`'s `str()` and `repr()` mask it.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from skewguard.errors import InputError
from skewguard.store.redaction import register_secret
from skewguard.store.redis_target import (
    CONNECT_TIMEOUT,
    DEFAULT_REDIS,
    READ_TIMEOUT,
    REDIS_ENV,
    RedisTarget,
    derive_client,
    feast_option,
    target_of,
)

__all__ = [
    "REDIS_ENV",
    "DEFAULT_REDIS",
    "CONNECT_TIMEOUT",
    "READ_TIMEOUT",
    "RedisTarget",
    "parse_target",
    "resolve_target",
    "derive_client",
    "target_of",
    "feast_option",
]

_CERT_REQS = ("none", "optional", "required")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_HOST = re.compile(r"^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\])$")
_URL_HINT = (
    "use host:port[,password=...][,ssl=true][,db=N] or redis://[:password@]host:port[/db] "
    "(rediss:// for TLS); percent-encode '#', '/', '?' and '@' in a URL's password"
)


# -- parsing -----------------------------------------------------------------------------


def parse_target(text: str, *, source: str = f"${REDIS_ENV}") -> RedisTarget:
    """Parse a Feast connection string or a redis:// / rediss:// URL.

    Raises `InputError` (never echoing the string) when it cannot be used."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("the Redis connection string is empty", where=source, hint=_URL_HINT)
    text = text.strip()
    if "://" in text:
        target = _parse_url(text, source)
    else:
        target = _parse_feast(text, source)
    register_secret(target.password)
    return target


def resolve_target(
    explicit: str | None = None,
    *,
    env: Sequence[str] = (REDIS_ENV,),
    flag: str = "--redis",
    default: str = DEFAULT_REDIS,
) -> RedisTarget:
    """The first of: `explicit` (a command-line value), the environment variables in
    order, `default`; parsed, with its origin recorded for messages."""
    if explicit:
        return parse_target(explicit, source=flag)
    for name in env:
        value = os.environ.get(name)
        if value:
            return parse_target(value, source=f"${name}")
    return parse_target(default, source="the default")


def _parse_url(text: str, source: str) -> RedisTarget:
    scheme = text.partition("://")[0].lower()
    if scheme not in ("redis", "rediss"):
        raise InputError(
            "only redis:// and rediss:// URLs are supported", where=source, hint=_URL_HINT
        )
    try:
        url = urlsplit(text)
        port = url.port
        host = url.hostname
    except ValueError:
        raise _invalid("the URL's host or port cannot be read", source) from None
    if url.fragment or not host:
        raise _invalid("the URL has no host (an unencoded '#', '/' or '?'?)", source)
    options: dict[str, str] = {}
    path = url.path.strip("/")
    if path:
        options["db"] = path
    if url.username:
        options["username"] = unquote(url.username)
    if url.password is not None:
        options["password"] = unquote(url.password)
    if scheme == "rediss":
        options["ssl"] = "true"
    try:
        query = parse_qsl(url.query, keep_blank_values=True, strict_parsing=bool(url.query))
    except ValueError:
        raise _invalid("the URL's query is not key=value pairs", source) from None
    for key, value in query:
        options[key.strip().lower()] = value
    host = f"[{host}]" if ":" in host else host
    return _build(host, port, options, source, seen_password_at=None)


def _parse_feast(text: str, source: str) -> RedisTarget:
    address, *parts = text.split(",")
    if "=" in address:
        raise _invalid("the connection string must start with host:port", source)
    address = address.strip()
    if address.startswith("["):  # [::1]:6379
        host, _, rest = address.partition("]")
        host += "]"
        port_text = rest[1:] if rest.startswith(":") else (None if not rest else "")
    else:
        host, colon, port_text_raw = address.rpartition(":")
        if not colon:
            host, port_text_raw = address, ""
        port_text = port_text_raw if colon else None
    if port_text == "":
        raise _invalid("the port is empty", source)
    port = _port(port_text, source)
    options: dict[str, str] = {}
    seen_password_at: int | None = None
    for index, part in enumerate(parts, start=2):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise _invalid(
                f"part {index} is not key=value (a comma inside a password must be written "
                'as \\u002c inside a JSON-quoted value, password="...")',
                source,
            )
        if key not in _OPTIONS:
            shown = key if seen_password_at is None else f"part {index}"
            raise _invalid(
                f"unknown option {shown!r}; supported: {', '.join(sorted(_OPTIONS))}", source
            )
        options[key] = _json_text(value.strip(), key, source)
        if key == "password" and seen_password_at is None:
            seen_password_at = index
    return _build(host.strip(), port, options, source, seen_password_at)


def _json_text(value: str, key: str, source: str) -> str:
    """Feast json-decodes values: a quoted value is a JSON string."""
    if value.startswith('"'):
        try:
            decoded = json.loads(value)
        except ValueError:
            raise _invalid(f"the value of {key} is not a valid JSON string", source) from None
        if not isinstance(decoded, str):
            raise _invalid(f"the value of {key} is not a valid JSON string", source)
        return decoded
    return value


def _port(text: str | int | None, source: str) -> int:
    if text is None:
        return 6379
    try:
        port = int(text)
    except (TypeError, ValueError):
        port = 0
    if not 1 <= port <= 65535:
        raise _invalid("the port is not a whole number between 1 and 65535", source)
    return port


def _build(
    host: str,
    port: int | None,
    options: Mapping[str, str],
    source: str,
    seen_password_at: int | None,
) -> RedisTarget:
    if not host or not _HOST.match(host):
        raise _invalid("the host is not a host name or IP address", source)
    values: dict[str, Any] = {"host": host, "port": _port(port, source), "source": source}
    for key, raw in options.items():
        attribute, convert = _OPTIONS[key]
        values[attribute] = convert(raw, key, source)
    return RedisTarget(**values)


def _to_str(raw: str, key: str, source: str) -> str:
    if "\x00" in raw:
        raise _invalid(f"{key} holds a NUL character", source)
    return raw


def _to_bool(raw: str, key: str, source: str) -> bool:
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise _invalid(f"{key} must be true or false", source)


def _to_db(raw: str, key: str, source: str) -> int:
    try:
        db = int(raw.strip())
    except ValueError:
        db = -1
    if not 0 <= db <= 100_000:
        raise _invalid("db must be a whole number of at least 0", source)
    return db


def _to_seconds(raw: str, key: str, source: str) -> float:
    try:
        seconds = float(raw.strip())
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and 0 < seconds <= 3600):
        raise _invalid(f"{key} must be a number of seconds above 0 (at most 3600)", source)
    return seconds


def _to_cert_reqs(raw: str, key: str, source: str) -> str:
    word = raw.strip().lower()
    if word not in _CERT_REQS:
        raise _invalid(f"{key} must be one of {', '.join(_CERT_REQS)}", source)
    return word


_OPTIONS: dict[str, tuple[str, Any]] = {
    "password": ("password", _to_str),
    "username": ("username", _to_str),
    "db": ("db", _to_db),
    "ssl": ("ssl", _to_bool),
    "ssl_ca_certs": ("ssl_ca_certs", _to_str),
    "ssl_certfile": ("ssl_certfile", _to_str),
    "ssl_keyfile": ("ssl_keyfile", _to_str),
    "ssl_cert_reqs": ("ssl_cert_reqs", _to_cert_reqs),
    "ssl_check_hostname": ("ssl_check_hostname", _to_bool),
    "socket_connect_timeout": ("connect_timeout", _to_seconds),
    "socket_timeout": ("read_timeout", _to_seconds),
}


def _invalid(what: str, source: str) -> InputError:
    return InputError(
        f"cannot use the Redis connection string: {what}", where=source, hint=_URL_HINT
    )
