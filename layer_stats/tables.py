"""Output text for processed data: rows (dicts) to CSV, columns in order of first
appearance, and JSON; neither ever holds NaN or an infinity (written as empty / null)."""
import csv
import io
import json
import math

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


def csv_text(rows):
    """CSV text for ``rows`` (dicts; None is written as an empty cell)."""
    columns = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in finite_or_none(row).items()})
    return out.getvalue()
