"""Measuring layers: latency runs (``latency``) and power windows (``power``)."""
