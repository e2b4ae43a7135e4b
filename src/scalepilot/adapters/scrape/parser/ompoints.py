"""OpenMetrics rules that span lines: metrics, MetricPoints and histogram points.

Within a family, the samples of one *metric* (its labels, minus ``le`` for buckets,
``quantile`` for quantiles and the state label for a stateset) must be contiguous, and
its MetricPoints (a timestamp each, or none) must follow one another with increasing
timestamps. A histogram point must have a ``+Inf`` bucket, buckets in increasing ``le``
order with non-decreasing counts, and ``_count`` equal to the ``+Inf`` bucket. The
checks mirror prometheus_client's OpenMetrics parser, which the OpenMetrics project
uses as its reference, with one difference: the same series twice in one point is an
error here, where that parser drops the second silently.

Timestamps are compared as written (float seconds). Two points that differ only below a
millisecond would both become samples with the same ``timestamp_ms``; the later point
is validated but not emitted (prometheus_client does the same at nanoseconds, and
Prometheus's storage would reject the second sample anyway).
"""

from __future__ import annotations

from scalepilot.adapters.scrape.errors import ParseError
from scalepilot.adapters.scrape.parser.model import MetricFamily
from scalepilot.adapters.scrape.parser.syntax import Canon, Labels, quote, series_repr

GroupKey = Canon | None
"""The metric a sample belongs to within its family (None: an info family's points)."""


class PointTracker:
    """Grouping and point state of the current family; one per family."""

    __slots__ = (
        "count",
        "family",
        "group",
        "groups",
        "gsum",
        "has_sum",
        "histogram",
        "inf",
        "last_count",
        "last_le",
        "last_line",
        "millis",
        "negative_buckets",
        "negative_gsum",
        "samples",
        "seconds",
        "series",
        "shadowed",
        "start_line",
    )

    def __init__(self, family: MetricFamily) -> None:
        self.family = family
        self.histogram = family.type in ("histogram", "gaugehistogram")
        self.groups: set[GroupKey] = set()
        self.group: GroupKey = None
        self.samples = 0
        self.seconds: float | None = None
        self.millis: int | None = None
        self.shadowed = False
        """Whether the current point only repeats the last one's timestamp_ms."""
        self.series: set[tuple[str, Canon]] = set()
        self.start_line = 0
        self.last_line = 0
        self._reset_histogram()

    def _reset_histogram(self) -> None:
        self.last_le = float("nan")
        self.last_count = float("nan")
        self.inf: float | None = None
        self.count: float | None = None
        self.has_sum = False
        self.gsum = False
        self.negative_buckets = False
        self.negative_gsum = False

    def add(
        self,
        name: str,
        canon: Canon,
        group: GroupKey,
        seconds: float | None,
        millis: int | None,
        lineno: int,
        labels: Labels,
    ) -> bool:
        """Place a sample in its metric and point; False if it is not to be emitted."""
        if self.samples == 0 or (group is not self.group and group != self.group):
            if self.samples:
                self.end_point()
            if group in self.groups:
                raise ParseError(
                    lineno,
                    f"{series_repr(name, labels)} is interleaved with other metrics of "
                    f"{quote(self.family.name)}; each metric's samples must be contiguous",
                )
            self.groups.add(group)
            self.group = group
            self._new_point(seconds, millis, lineno, shadowed=False)
        elif (seconds is None) != (self.seconds is None):
            raise ParseError(
                lineno,
                f"{series_repr(name, labels)} mixes samples with and without a timestamp in one metric",
            )
        elif seconds is not None and seconds != self.seconds:
            assert self.seconds is not None
            if seconds < self.seconds and self.family.type != "info":
                raise ParseError(lineno, f"timestamp of {series_repr(name, labels)} goes backwards within its metric")
            self.end_point()
            self._new_point(seconds, millis, lineno, shadowed=millis == self.millis)
        self.samples += 1
        self.last_line = lineno
        key = (name, canon)
        if key in self.series:
            raise ParseError(lineno, f"duplicate series {series_repr(name, labels)}")
        self.series.add(key)
        return not self.shadowed

    def _new_point(self, seconds: float | None, millis: int | None, lineno: int, *, shadowed: bool) -> None:
        self.seconds = seconds
        self.millis = millis
        self.shadowed = shadowed
        self.series = set()
        self.start_line = lineno
        if self.histogram:
            self._reset_histogram()

    def bucket(self, bound: float, value: float, lineno: int, name: str, labels: Labels) -> None:
        family = quote(self.family.name)
        # Both start as NaN, against which every comparison is False.
        if bound <= self.last_le:
            raise ParseError(
                lineno,
                f"histogram {family} buckets not in increasing le order: "
                f"{series_repr(name, labels)} after le {self.last_le:g}",
            )
        if value < self.last_count:
            raise ParseError(
                lineno,
                f"histogram {family} bucket counts decrease: {series_repr(name, labels)} is "
                f"{value:g}, the bucket before it {self.last_count:g}",
            )
        self.last_le = bound
        self.last_count = value
        if bound < 0:
            self.negative_buckets = True
        if bound == float("inf"):
            self.inf = value

    def end_point(self) -> None:
        """Check the finished histogram point (reported at its last line)."""
        if not self.histogram or not self.samples:
            return
        name = quote(self.family.name)
        gauge = self.family.type == "gaugehistogram"
        count, total = ("_gcount", "_gsum") if gauge else ("_count", "_sum")
        at = f"in the point that starts at line {self.start_line}"
        problem = None
        if self.inf is None:
            problem = f'has no le="+Inf" bucket {at}'
        elif self.count is not None and self.count != self.inf:
            problem = f'{count} {self.count:g} differs from the le="+Inf" bucket {self.inf:g} {at}'
        elif (self.has_sum or self.gsum) and self.count is None:
            problem = f"has {total} without {count} {at}"
        elif self.count is not None and not (self.has_sum or self.gsum):
            problem = f"has {count} without {total} {at}"
        elif self.negative_buckets and self.has_sum:
            problem = f"has _sum together with negative buckets {at}"
        elif self.negative_gsum and not self.negative_buckets:
            problem = f"has a negative _gsum without negative buckets {at}"
        if problem is not None:
            kind = "gaugehistogram" if gauge else "histogram"
            raise ParseError(self.last_line, f"{kind} {name} {problem}")
