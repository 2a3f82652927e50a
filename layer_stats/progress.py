"""Progress for long work: tqdm on a terminal, plain periodic log lines otherwise
(under nohup, or when stderr goes to a file)."""
import logging
import sys

from .clock import monotonic

logger = logging.getLogger(__name__)

__all__ = ["Progress", "duration_text"]


def duration_text(seconds):
    """``42 s``, ``7.5 min``, ``3.2 h``."""
    if seconds < 120:
        return "{:.0f} s".format(seconds)
    if seconds < 7200:
        return "{:.1f} min".format(seconds / 60.0)
    return "{:.1f} h".format(seconds / 3600.0)


class Progress(object):
    """``update(n)`` as work advances; ``close()`` at the end.

    ``total`` may be None (open-ended).  Off a terminal, logs one line every
    ``every_s`` seconds with the count, the rate (``s/unit`` when slower than one
    unit a second) and, with a total, the share done; :meth:`close` adds a last
    line unless the count has not moved since the previous one.
    """

    def __init__(self, desc, total=None, unit="it", every_s=30.0, stream=None):
        self.desc, self.total, self.unit, self.every_s = desc, total, unit, every_s
        self.count = 0
        self._logged = None
        self._start = self._last = monotonic()
        self._bar = None
        stream = stream or sys.stderr
        if hasattr(stream, "isatty") and stream.isatty():
            try:
                from tqdm import tqdm
                self._bar = tqdm(total=total, desc=desc, unit=unit, file=stream, dynamic_ncols=True)
            except ImportError:
                self._bar = None

    def update(self, n=1):
        self.count += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self._log(now)

    def _log(self, now=None):
        self._logged = self.count
        logger.info("%s", self.format(now))

    def format(self, now=None):
        """One plain-text progress line."""
        elapsed = (now or monotonic()) - self._start
        done = " of {} ({:.0%})".format(self.total, self.count / float(self.total)) if self.total else ""
        left = ""
        if self.total and 0 < self.count < self.total:
            left = ", about {} left".format(duration_text((self.total - self.count) * elapsed / self.count))
        units = self.unit if self.count == 1 else self.unit + "s"
        return "{}: {} {}{} in {} ({}{})".format(self.desc, self.count, units, done, duration_text(elapsed),
                                                 self._rate(elapsed), left)

    def _rate(self, elapsed):
        if not self.count:
            return "no {}s yet".format(self.unit)
        if self.count >= elapsed:
            return "{:.1f} {}/s".format(self.count / elapsed if elapsed > 0 else float(self.count), self.unit)
        return "{:.1f} s/{}".format(elapsed / self.count, self.unit)

    def close(self):
        if self._bar is not None:
            self._bar.close()
        elif self._logged != self.count:
            self._log()
