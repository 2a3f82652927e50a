"""The report's page: ``index.html``, every figure with its caption, the run metadata, notes
where data are missing, and a SIMULATED banner where any figure shows simulated data.

One self-contained file (inline CSS, no script), links relative to its folder, written
atomically.  Every text from the data is HTML-escaped.
"""
import collections
import html
import logging
import os
from urllib.parse import quote

from ..fsutil import atomic_write

logger = logging.getLogger(__name__)

__all__ = ["Figure", "Note", "Section", "Table", "page_html", "write_page", "PAGE"]

#: The page's file name in the output folder.
PAGE = "index.html"

#: A figure written: ``path`` (the PNG file; the page links it relative to its own folder),
#: ``title``, ``caption``.
Figure = collections.namedtuple("Figure", "path title caption")
#: A figure or a section left out, and why (shown where it would have been).
Note = collections.namedtuple("Note", "text")
#: A table: ``columns`` and ``rows`` (lists of cells; None shows as empty).
Table = collections.namedtuple("Table", "caption columns rows")
#: ``level`` (2 or 3: the heading's level), ``heading``, ``items`` (Figure, Note, Table, in order).
Section = collections.namedtuple("Section", "level heading items")

_STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1100px; color: #222; }
.banner { background: #b00020; color: white; padding: 0.6em 1em; font-weight: bold; font-size: 1.1em; }
figure { margin: 1em 0 2em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; }
.note { background: #fff6d5; padding: 0.4em 0.8em; border-left: 4px solid #e0b000; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }
th { background: #f0f0f0; }
"""


def _text(value):
    return html.escape("" if value is None else str(value))


def _figure(item, folder):
    path = _text(quote(os.path.relpath(item.path, folder).replace(os.sep, "/")))
    return ('<figure><a href="{0}"><img src="{0}" alt="{1}"></a><figcaption><b>{1}</b> {2}</figcaption>'
            '</figure>'.format(path, _text(item.title), _text(item.caption)))


def _table(item):
    head = "".join("<th>{}</th>".format(_text(c)) for c in item.columns)
    body = "".join("<tr>{}</tr>".format("".join("<td>{}</td>".format(_text(c)) for c in row)) for row in item.rows)
    caption = "<caption>{}</caption>".format(_text(item.caption)) if item.caption else ""
    return "<table>{}<tr>{}</tr>{}</table>".format(caption, head, body)


def _item(item, folder):
    if isinstance(item, Figure):
        return _figure(item, folder)
    if isinstance(item, Table):
        return _table(item)
    return '<p class="note">{}</p>'.format(_text(item.text))


def page_html(title, sections, simulated, folder, intro=()):
    """The page's HTML text: ``title``, a SIMULATED banner when ``simulated``, ``intro``
    paragraphs, then ``sections`` (:class:`Section`) in order; figures are linked relative to
    ``folder``, where the page goes."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>{}</title><style>{}</style></head><body>".format(_text(title), _STYLE)]
    if simulated:
        parts.append('<p class="banner">SIMULATED DATA: the power values come from the built-in telemetry '
                     'simulator, not from a Jetson board. Figures made from them say SIMULATED.</p>')
    parts.append("<h1>{}</h1>".format(_text(title)))
    parts.extend("<p>{}</p>".format(_text(line)) for line in intro)
    for section in sections:
        parts.append("<h{0}>{1}</h{0}>".format(section.level, _text(section.heading)))
        parts.extend(_item(item, folder) for item in section.items)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_page(path, title, sections, simulated, intro=()):
    """Write :func:`page_html` to ``path`` atomically; returns ``path``."""
    atomic_write(path, page_html(title, sections, simulated, os.path.dirname(os.path.abspath(path)), intro))
    logger.info("wrote %s", path)
    return path
