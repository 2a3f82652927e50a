"""Output text for processed data: a DataFrame to CSV, and JSON; neither ever holds NaN or
an infinity (a CSV cell is left empty, JSON says null).

Cells are written as Python writes them (``repr`` of a float, so every digit of a
float64 survives; ``5`` for an integer), whatever the pandas version: NumPy scalars are
turned into Python numbers first, and missing values (None, NaN, ``pd.NA``) into empty
cells.
"""
import csv
import io
import json
import math

import numpy as np
import pandas as pd

__all__ = ["csv_text", "json_text", "finite_or_none"]


def finite_or_none(value):
    """``value``, with NaN and infinities (which JSON cannot hold) replaced by None,
    inside lists and dicts too."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return value.__class__((k, finite_or_none(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def json_text(data, indent=4):
    """Strict JSON text for ``data`` (non-finite numbers become null), with a final newline."""
    return json.dumps(finite_or_none(data), indent=indent, allow_nan=False) + "\n"


def _cell(value):
    if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return value.item() if isinstance(value, np.generic) else value


def csv_text(table):
    """CSV text for ``table`` (a DataFrame: its columns in order, one line per row; the
    index is not written); a missing or non-finite value is an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([str(c) for c in table.columns])
    for row in table.astype(object).itertuples(index=False, name=None):
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()
