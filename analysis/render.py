"""Turning tables and totals into text: the display side of counting.

Counting (``analysis.cost``) returns data; this module only formats it, for
the command line in four formats: an aligned ``table``, ``markdown``,
``csv`` and ``json``.
"""

import json
import math

import pandas as pd

FORMATS = ("table", "markdown", "csv", "json")


def _plain(value):
    """A JSON-ready Python value: tuples to lists, pandas NA and NaN to None, numpy to Python."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def records(table, columns=None):
    """The rows of ``table`` as a list of dicts of plain Python values."""
    columns = list(columns or table.columns)
    return [{c: _plain(row[c]) for c in columns} for _, row in table.iterrows()]


def _text_cell(value):
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value) if value and not isinstance(value[0], tuple) else str(value)
    return value


def frame_to_text(table, fmt, title=None):
    """``table`` as text in ``fmt`` (table, markdown or csv), ``title`` as a header line."""
    shown = table.map(_text_cell)
    if fmt == "csv":
        return shown.to_csv(index=False)
    if fmt == "markdown":
        body = shown.to_markdown(index=False)
    else:
        body = shown.to_string(index=False)
    return f"{title}\n{body}" if title else body


def to_json(payload):
    return json.dumps(_plain_tree(payload), indent=2)


def _plain_tree(value):
    if isinstance(value, dict):
        return {str(k): _plain_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_tree(v) for v in value]
    return _plain(value)
