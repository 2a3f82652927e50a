"""Multi-DNN workloads: plan mappings (``plan``, no torch), build each network once
(``netcache``), run mappings as concurrent staged networks (``stages``, ``execute``,
``runner``), describe stages (``modelinfo``), check and post-process the seed's
per-sample files (``rawcheck``, ``postprocess``, no torch)."""
