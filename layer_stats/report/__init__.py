"""The report: figures (PNG) and one ``index.html`` drawn from a dataset's raw files.

``python3 -m layer_stats.report --input_root Dataset --out report/`` (``dnn-stats-report``).
Needs pandas and matplotlib (the ``report`` extra), never torch: it runs on the laptop the
data were copied to.

- ``data``: the raw data read through the products' libraries (layer table, multi-DNN
  tables, one telemetry trace, run metadata);
- ``plotting``: matplotlib on Agg, the SIMULATED label, non-overlapping layer ticks, PNGs
  written atomically;
- ``layer_figures``, ``overview_figures``, ``trace_figure``, ``multinet_figures``: the figures;
- ``sections``: each product's part of the page; ``page``: ``index.html``;
- ``build``: inputs and output folder checked, then everything in order; ``__main__``: the
  command line.
"""
