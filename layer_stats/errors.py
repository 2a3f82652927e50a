"""The project's one exception type.

The library raises :class:`DnnStatsError` (or a subclass) with a message that
says what went wrong *and* what to do about it; only the command-line scripts
turn it into a one-line ``ERROR: ...`` and an exit status.
"""


class DnnStatsError(Exception):
    """A problem the user can fix; ``str(err)`` is a complete one-line message."""


class TelemetryError(DnnStatsError):
    """tegrastats (or its simulator/replay stand-in) is missing, died or misbehaved."""


class Interrupted(DnnStatsError):
    """The run was stopped by a signal (SIGINT, SIGTERM or SIGHUP).

    ``signum`` holds the signal number; scripts exit with ``128 + signum``.
    """

    def __init__(self, signum):
        import signal

        self.signum = signum
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = str(signum)
        DnnStatsError.__init__(self, "stopped by {}".format(name))
