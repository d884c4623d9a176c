"""What a changed Arrow type most likely is, in words: numbers served as strings,
integers as floats, float64 as float32 (the schema check's cause)."""

from __future__ import annotations

__all__ = ["type_change_cause"]

_INTS = ("int", "uint")
_FLOATS = ("double", "float", "halffloat")
_STRINGS = ("string", "large_string", "binary", "large_binary")


def type_change_cause(training_type: str, serving_type: str) -> str:
    """What a type change most likely is, in words."""
    t, s = training_type, serving_type
    numeric_t = t.startswith(_INTS) or t in _FLOATS or t.startswith("decimal")
    if numeric_t and s in _STRINGS:
        return f"numbers served as strings ({t} -> {s})"
    if t.startswith(_INTS) and s in _FLOATS:
        return f"integers served as floats ({t} -> {s})"
    if t == "double" and s in ("float", "halffloat"):
        return f"float64 served as {s}: precision lost"
    if t in _FLOATS and s.startswith(_INTS):
        return f"floats served as integers ({t} -> {s}): fractions lost"
    return f"type changed: training {t}, serving {s}"
