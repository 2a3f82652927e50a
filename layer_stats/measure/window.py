"""A power window: ``boundary_s`` of settling at each end of a loop from ``t_start`` to
``t_end`` (monotonic s); only the samples of its core are averaged."""

__all__ = ["in_core"]


def in_core(t, t_start, t_end, boundary_s):
    """True when a sample stamped ``t`` lies in a power window's measured core,
    ``(t_start + boundary_s, t_end - boundary_s]`` (all monotonic s)."""
    return t_start + boundary_s < t <= t_end - boundary_s
