"""Multi-DNN workloads: plan mappings (``plan``, no torch), run them as concurrent staged
networks (``stages``, ``execute``), describe stages (``modelinfo``), write and post-process
the seed's per-sample files (``layout``, ``runner``, ``postprocess``, no torch)."""
