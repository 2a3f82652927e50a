"""Run clocks: monotonic seconds for durations, wall time derived from them.

Wall time is read once per run and carried forward on the monotonic clock, so
every sample of a run shares one time base (an NTP step during a run does not
reorder samples) and stamping a sample costs no second system call.
"""
import datetime
import time

__all__ = ["monotonic", "WallClock", "utc_now_iso"]

monotonic = time.monotonic


class WallClock(object):
    """Maps :func:`time.monotonic` instants to Unix time (s) for one run."""

    def __init__(self):
        self.mono0 = time.monotonic()
        self.wall0 = datetime.datetime.now(datetime.timezone.utc).timestamp()

    def wall(self, t_mono):
        """Unix time (s) of the monotonic instant ``t_mono``."""
        return self.wall0 + (t_mono - self.mono0)


def utc_now_iso():
    """Now, as an ISO-8601 UTC string with seconds (for run metadata)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
