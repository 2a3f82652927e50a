"""Progress for long work: tqdm on a terminal, plain periodic log lines otherwise
(under nohup, or when stderr goes to a file)."""
import logging
import sys

from .clock import monotonic

logger = logging.getLogger(__name__)

__all__ = ["Progress"]


class Progress(object):
    """``update(n)`` as work advances; ``close()`` at the end.

    ``total`` may be None (open-ended).  Off a terminal, logs one line every
    ``every_s`` seconds with the count, the rate and, with a total, the share done.
    """

    def __init__(self, desc, total=None, unit="it", every_s=30.0, stream=None):
        self.desc, self.total, self.unit, self.every_s = desc, total, unit, every_s
        self.count = 0
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
            logger.info("%s", self.format(now))

    def format(self, now=None):
        """One plain-text progress line."""
        elapsed = (now or monotonic()) - self._start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        done = " of {} ({:.0%})".format(self.total, self.count / float(self.total)) if self.total else ""
        return "{}: {} {}{} in {:.0f} s ({:.1f} {}/s)".format(
            self.desc, self.count, self.unit, done, elapsed, rate, self.unit)

    def close(self):
        if self._bar is not None:
            self._bar.close()
        else:
            logger.info("%s", self.format())
