"""The layer-wise product: every layer of every network timed and power-measured alone.

- ``generate``: runs the measurements (one raw file per network, image and kind);
- ``raw``: the raw file format (version, writer, reader, checks, :class:`~.raw.RawFileError`);
- ``postprocess``: averages raw files into the Mode JSON and the CSV table (no torch);
- ``layout``: where the files live under ``<root>/LayerStats/Mode{m}/``.

The seed's scripts ``rawDataGeneration/PowerLatencyDatasetGenerator.py`` and
``processedDataGeneration/processData.py`` are the command-line shells.
"""
