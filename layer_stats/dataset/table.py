"""Tidy tables: rows (dicts) to CSV text, columns in order of first appearance."""
import csv
import io

__all__ = ["csv_text"]


def csv_text(rows):
    """CSV text for ``rows`` (dicts; None is written as an empty cell)."""
    columns = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue()
