"""The multi-DNN product: mappings of several networks on the board's devices, run together.

Same shape as :mod:`layer_stats.layerwise`:

- ``generate``: runs the measurements (one raw file per mapping);
- ``raw``: the raw file format (version, writer, reader, checks, :class:`~.raw.RawFileError`);
- ``postprocess``: the seed's per-sample JSON and the CSV table (no torch);
- ``layout``: where the files live under ``<root>/Multinet/Mode{m}/``;

and what only this product needs: ``plan`` (which mappings, no torch), ``netcache``
(each network built once per run), ``stages`` and ``execute`` (a mapping's networks as
concurrent staged threads), ``modelinfo`` (per-stage ModelInfo).

The seed's scripts ``MappingDBGenerator.py`` and ``postProcessMultinetDB.py`` are the
command-line shells.  It stands on :mod:`layer_stats`, the base both products share.
"""
