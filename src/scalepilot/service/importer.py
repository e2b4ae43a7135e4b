"""Backfill: import an OpenMetrics file whose samples carry timestamps into the store.

This is ``promtool tsdb create-blocks-from openmetrics`` for scalepilot's store. The
input rules are promtool's — every sample has a timestamp, the file ends with
``# EOF`` — on top of everything the scrape parser enforces for OpenMetrics. Where
promtool (2.42, measured) is lenient, the importer refuses instead of guessing:

* a sample without a timestamp is an error in both;
* a missing ``# EOF`` is an error in both;
* two points of one series with the same millisecond (``a 1 100`` then ``a 2 100``)
  and a timestamp going backwards within a series: promtool keeps the first sample and
  silently drops the other; here they break OpenMetrics's rules (a MetricPoint's
  timestamps increase) and the file is refused with the line. Two timestamps that only
  differ below a millisecond (``100.0001``, ``100.0002``) are one sample for both: the
  first is kept, as in promtool;
* interleaved families or metrics: promtool accepts them, OpenMetrics does not, and
  neither does this importer.

**All or nothing.** The file is read twice, streaming both times: the first pass only
checks it, the second writes. A malformed file imports nothing and the error names the
line (``line N: reason``). promtool is all-or-nothing only per 2-hour block: blocks
written before the bad one stay. A store failure during the second pass (disk full)
keeps what was flushed and says how many samples that is
(:class:`BackfillInterrupted`); importing the same file again is harmless, since a
sample with the same series and timestamp replaces the stored one (newest write wins).
The same holds for data already in the store: imported samples overlapping scraped ones
replace them at equal timestamps and are merged in between.

**Streaming.** The scrape parser takes a whole page, and a 1 GB file must not be held
in memory, so the file is cut into *pieces* of about ``piece_bytes`` (8 MiB) that are
each a valid OpenMetrics page, and each piece is parsed by the scrape parser. A piece
ends only where the parser's state between lines is small:

* before a ``#`` line that follows a sample line (a family boundary), or
* between two sample lines whose timestamps differ by at least a millisecond (a
  MetricPoint boundary; decided by parsing the two lines together), in which case the
  family's ``# HELP``/``# TYPE``/``# UNIT`` lines are repeated at the head of the next
  piece so its samples keep their type and checks.

The rules that span lines across a cut are checked by :class:`_Continuity`: a family's
lines are contiguous, a metric's samples are contiguous within its family, and
timestamps do not go backwards within a metric (the two lines at a point cut are
parsed together, so the parser itself sees that one). Two rules are only checked within
a piece, because checking them across pieces would mean re-implementing the parser:
that a family name does not clash with another family's sample names
(``foo_created`` beside a counter ``foo``), and nothing else. A run of lines sharing one
timestamp is never cut, so a file that is one huge scrape (every sample at the same
instant) is parsed as one piece.

**Retention.** The store applies its retention to imported data like to any other:
samples older than ``retention.raw`` (15 days by default) are turned into 1m/5m
rollups by the maintenance round the import ends with, and rollups older than theirs
are dropped. :class:`ImportSummary` carries the time range so the caller can warn.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from scalepilot.adapters.scrape.errors import ParseError
from scalepilot.adapters.scrape.parser import ExpositionFormat, MetricFamily, ParsedPage, Sample, parse
from scalepilot.domain.errors import ScalepilotError
from scalepilot.domain.labels import Labels, format_labels, make_labels
from scalepilot.domain.store import Store, StoreError

PIECE_BYTES = 8 << 20
"""About this many bytes of the file are parsed at a time: ~100,000 samples, a few
tens of MB of parsed objects, and few enough pieces that the per-piece cost vanishes."""

MAINTAIN_EVERY = 2_000_000
"""Samples appended between two maintenance rounds during an import: compaction moves
them out of the in-memory head (~50 MB for this many), so memory stays flat."""

_READ_BYTES = 1 << 20
_EOF = b"# EOF"
_METADATA = (b"# HELP ", b"# TYPE ", b"# UNIT ")
_POINT_START_RE = re.compile(r"starts at line (\d+)")


# --- errors ----------------------------------------------------------------------------
#
#   ScalepilotError
#   └── BackfillError               the file could not be imported
#       ├── InvalidBackfill         not OpenMetrics with a timestamp on every sample;
#       │                           nothing was imported (permanent); "line N: reason"
#       ├── UnreadableBackfill      the file cannot be read (permanent)
#       └── BackfillInterrupted     the store failed during the import; ``imported``
#                                   samples were written; transient if the cause is
#
# Store errors before the first write (StoreLocked: a running scalepilot holds the data
# directory) are the store's own and pass through unchanged.


class BackfillError(ScalepilotError):
    pass


class InvalidBackfill(BackfillError):
    """``str()`` is ``line N: reason`` like the scrape parser's errors and promtool's."""

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}")


class UnreadableBackfill(BackfillError):
    pass


class BackfillInterrupted(BackfillError):
    def __init__(self, imported: int, cause: StoreError) -> None:
        self.imported = imported
        self.transient = cause.transient
        super().__init__(f"the store failed after {imported} samples were imported: {cause}")


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportProgress:
    phase: Literal["check", "import"]
    """``check`` (first pass, nothing written) or ``import``."""
    bytes_done: int
    bytes_total: int
    samples: int
    """Samples seen so far in this phase."""


@dataclass(frozen=True, slots=True)
class ImportSummary:
    samples: int
    series: int
    """Distinct series in the file (some may have existed in the store before)."""
    families: int
    min_timestamp_ms: int | None
    max_timestamp_ms: int | None
    seconds: float


ProgressCallback = Callable[[ImportProgress], None]


def import_openmetrics(
    path: Path,
    store: Store,
    *,
    clock: Callable[[], float] = time.time,
    progress: ProgressCallback | None = None,
    piece_bytes: int = PIECE_BYTES,
) -> ImportSummary:
    """Check ``path`` completely, then append every sample to ``store``, flush, and run
    maintenance so the samples end up compacted into chunks.

    Raises :class:`InvalidBackfill` (nothing imported), :class:`UnreadableBackfill`,
    or :class:`BackfillInterrupted` (a store failure part-way; the count is in it)."""
    started = time.perf_counter()
    total = _size(path)
    report = progress or (lambda _: None)

    # Pass 1: check. A file that fits in one piece is parsed once, its page kept.
    continuity = _Continuity()
    stats = _Stats()
    pages: list[ParsedPage] | None = []
    for piece in _pieces(path, piece_bytes):
        page = _parse(piece)
        continuity.check(piece, page)
        stats.count(page)
        if pages is not None:
            pages = [page] if not pages else None
        report(ImportProgress("check", piece.end_offset, total, stats.samples))

    # Pass 2: import.
    writer = _Writer(store, clock)
    try:
        if pages is not None:
            for page in pages:
                writer.write(page)
            report(ImportProgress("import", total, total, writer.samples))
        else:
            continuity = _Continuity()
            for piece in _pieces(path, piece_bytes):
                page = _parse(piece)
                continuity.check(piece, page)  # only fails if the file changed meanwhile
                writer.write(page)
                report(ImportProgress("import", piece.end_offset, total, writer.samples))
        writer.finish()
    except StoreError as exc:
        raise BackfillInterrupted(writer.flushed, exc) from exc
    return ImportSummary(
        samples=writer.samples,
        series=len(writer.ids),
        families=stats.families,
        min_timestamp_ms=stats.min_ms,
        max_timestamp_ms=stats.max_ms,
        seconds=time.perf_counter() - started,
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise UnreadableBackfill(f"cannot read {path}: {exc.strerror}") from exc


# --- cutting the file into pieces --------------------------------------------------------


@dataclass(slots=True)
class _Piece:
    prefix: list[tuple[int, bytes]]
    """Metadata lines repeated from earlier in the file: (line number, line)."""
    body: bytes
    """Whole lines of the file, each ending in ``\\n``."""
    first_line: int
    """File line number of the body's first line."""
    at_family_start: bool
    """The piece was cut before a ``#`` line (not inside a family)."""
    end_offset: int

    def page(self) -> bytes:
        head = b"".join(line + b"\n" for _, line in self.prefix)
        return head + self.body + _EOF + b"\n"

    def file_line(self, n: int) -> int:
        """The file line of line ``n`` of :meth:`page`."""
        if n <= len(self.prefix):
            return self.prefix[max(n, 1) - 1][0]
        body_lines = self.body.count(b"\n")
        return self.first_line + min(n - len(self.prefix), body_lines) - 1

    def lines(self) -> Iterator[tuple[int, bytes]]:
        for i, line in enumerate(self.body.split(b"\n")[:-1]):
            yield self.first_line + i, line


def _pieces(path: Path, piece_bytes: int) -> Iterator[_Piece]:
    try:
        with path.open("rb") as f:
            yield from _cut(f, piece_bytes)
    except OSError as exc:
        raise UnreadableBackfill(f"cannot read {path}: {exc.strerror}") from exc


def _cut(f: BinaryIO, piece_bytes: int) -> Iterator[_Piece]:
    buf = bytearray()
    line = 1  # file line number of buf[0]
    offset = 0  # file offset of buf[0]
    prefix: list[tuple[int, bytes]] = []
    at_family_start = True
    resume = 0  # where the search for a cut goes on after more data arrived
    while True:
        chunk = f.read(max(piece_bytes, _READ_BYTES))
        buf += chunk
        while len(buf) > piece_bytes:
            cut, before_metadata, resume = _find_cut(buf, max(piece_bytes, resume))
            if cut is None:
                break
            body = bytes(buf[:cut])
            _check_no_eof_inside(body, line)
            yield _Piece([] if at_family_start else prefix, body, line, at_family_start, offset + cut)
            prefix = _metadata_after(body, line, prefix)
            at_family_start = before_metadata
            del buf[:cut]
            line += body.count(b"\n")
            offset += cut
            resume = 0
        if not chunk:
            break
    yield from _last_piece(bytes(buf), line, offset, [] if at_family_start else prefix, at_family_start)


def _last_piece(
    data: bytes, line: int, offset: int, prefix: list[tuple[int, bytes]], at_family_start: bool
) -> Iterator[_Piece]:
    core = data[:-1] if data.endswith(b"\n") else data
    if core == _EOF or core.endswith(b"\n" + _EOF):
        body = core[: -len(_EOF)]
        _check_no_eof_inside(body, line)
        yield _Piece(prefix, body, line, at_family_start, offset + len(data))
        return
    body = data if not data or data.endswith(b"\n") else data + b"\n"
    _check_no_eof_inside(body, line)
    # The lines are checked first (an error in them is the more useful report); then
    # the missing "# EOF" is reported on the last line, as the scrape parser does.
    yield _Piece(prefix, body, line, at_family_start, offset + len(data))
    last = line + body.count(b"\n") - 1
    raise InvalidBackfill(max(last, 1), 'the file does not end with "# EOF"')


def _check_no_eof_inside(body: bytes, first_line: int) -> None:
    if body.startswith(_EOF + b"\n"):
        pos = 0
    else:
        pos = body.find(b"\n" + _EOF + b"\n")
        if pos < 0:
            return
        pos += 1
    at = first_line + body.count(b"\n", 0, pos)
    raise InvalidBackfill(at + 1, f'unexpected content after "# EOF" on line {at}')


def _find_cut(buf: bytearray, limit: int) -> tuple[int | None, bool, int]:
    """The first place at or after ``limit`` where a piece may end: (position, whether
    the next line is a ``#`` line, where to resume). The position is None when more
    data is needed first; the search then resumes at the third value."""
    p = buf.find(b"\n", max(limit - 1, 0))  # the end of the line holding byte limit - 1
    while p >= 0:
        start = p + 1
        end = buf.find(b"\n", start)
        if end < 0:
            return None, False, start
        prev = bytes(buf[buf.rfind(b"\n", 0, p) + 1 : p])
        nxt = bytes(buf[start:end])
        if not prev.startswith(b"#"):
            if nxt.startswith(b"#"):
                if nxt != _EOF:
                    return start, True, 0
            elif _point_boundary(prev, nxt):
                return start, False, 0
        p = end
    return None, False, limit


def _point_boundary(prev: bytes, nxt: bytes) -> bool:
    """Whether two consecutive sample lines belong to different MetricPoints a
    millisecond or more apart, which is where a piece may end inside a family."""
    if prev.rsplit(b" ", 1)[-1] == nxt.rsplit(b" ", 1)[-1]:
        return False  # the same timestamp (or exemplar tail): never a boundary
    try:
        page = parse(prev + b"\n" + nxt + b"\n" + _EOF + b"\n", ExpositionFormat.OPENMETRICS)
    except ParseError:
        return False  # let the real parse report it, in context
    stamps = [s.timestamp_ms for s in page.samples()]
    return len(stamps) == 2 and None not in stamps and stamps[0] != stamps[1]


def _metadata_after(body: bytes, first_line: int, previous: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """The metadata lines of the family in progress at the end of ``body``: the last
    run of ``# HELP/TYPE/UNIT`` lines naming one family, or ``previous`` if ``body``
    has none (the family began in an earlier piece)."""
    start = body.rfind(b"\n#") + 1
    if start == 0 and not body.startswith(b"#"):
        return previous
    run: list[tuple[int, bytes]] = []
    name: bytes | None = None
    while True:
        text = body[start : body.find(b"\n", start)]
        if not text.startswith(_METADATA):
            break
        this = text.split(b" ", 3)[2] if text.count(b" ") >= 2 else b""
        if name is not None and this != name:
            break
        name = this
        run.append((start, text))
        if start == 0:
            break
        start = body.rfind(b"\n", 0, start - 1) + 1
        if not body.startswith(b"#", start):
            break
    if not run:
        return previous
    return [(first_line + body.count(b"\n", 0, pos), text) for pos, text in reversed(run)]


# --- parsing a piece ----------------------------------------------------------------------


def _parse(piece: _Piece) -> ParsedPage:
    try:
        return parse(piece.page(), ExpositionFormat.OPENMETRICS)
    except ParseError as exc:
        reason = _POINT_START_RE.sub(lambda m: f"starts at line {piece.file_line(int(m.group(1)))}", exc.reason)
        raise InvalidBackfill(piece.file_line(exc.line), reason) from None


def _locate(piece: _Piece, sample: Sample) -> int:
    """The file line of ``sample`` within ``piece`` (for an error message)."""
    name = sample.name.encode()
    want = frozenset(sample.labels)
    for number, line in piece.lines():
        if not line.startswith(name) or line[len(name) : len(name) + 1] not in (b"{", b" "):
            continue
        try:
            found = next(parse(line + b"\n" + _EOF + b"\n", ExpositionFormat.OPENMETRICS).samples())
        except (ParseError, StopIteration):
            continue
        if frozenset(found.labels) == want and found.timestamp_ms == sample.timestamp_ms:
            return number
    return piece.first_line


def _locate_family(piece: _Piece, family: MetricFamily) -> int:
    """The file line where ``family`` starts within ``piece``: its first metadata or
    sample line."""
    name = family.name.encode()
    metadata = tuple(keyword + name + b" " for keyword in _METADATA)
    names = {s.name.encode() for s in family.samples}
    for number, line in piece.lines():
        if line.startswith(metadata):
            return number
        head = line.split(b"{", 1)[0].split(b" ", 1)[0]
        if head in names:
            return number
    return piece.first_line


def _series(sample: Sample) -> str:
    return format_labels(make_labels(sample.name, sample.labels))


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


# --- rules across pieces ------------------------------------------------------------------

_MetricKey = frozenset[tuple[str, str]] | None


def _metric_key(family: MetricFamily, sample: Sample) -> _MetricKey:
    """The metric a sample belongs to within its family, as the OpenMetrics parser
    groups them: a histogram's buckets, count and sum are one metric (labels minus
    ``le``), a summary's quantiles one (minus ``quantile``), a stateset's states one
    (minus the state label), an info family is one metric."""
    kind = family.type
    if kind == "info":
        return None
    if kind in ("histogram", "gaugehistogram") and sample.name.endswith("_bucket"):
        return frozenset(p for p in sample.labels if p[0] != "le")
    if kind == "summary" and sample.name == family.name:
        return frozenset(p for p in sample.labels if p[0] != "quantile")
    if kind == "stateset":
        return frozenset(p for p in sample.labels if p[0] != family.name)
    return frozenset(sample.labels)


@dataclass(slots=True)
class _Continuity:
    """OpenMetrics's contiguity rules across piece boundaries, and promtool's "every
    sample has a timestamp"; each piece on its own has passed the scrape parser."""

    family: str | None = None
    """The family the previous piece ended in."""
    finished: set[str] = field(default_factory=set)
    metric: _MetricKey = None
    """The metric of ``family`` in progress at the end of the previous piece."""
    has_metric: bool = False
    metrics_done: set[_MetricKey] = field(default_factory=set)

    def check(self, piece: _Piece, page: ParsedPage) -> None:
        families = page.families
        # The repeated metadata of a family that has no samples left in this piece.
        if piece.prefix and families and not families[0].samples:
            families = families[1:]
        for i, family in enumerate(families):
            for sample in family.samples:
                if sample.timestamp_ms is None:
                    raise InvalidBackfill(
                        _locate(piece, sample),
                        f"sample {_series(sample)} has no timestamp; every sample of a backfill needs one",
                    )
            if i == 0 and family.name == self.family:
                if piece.at_family_start:
                    raise InvalidBackfill(piece.first_line, f"metadata for {_quote(family.name)} after its samples")
                self._follow(piece, family)
                continue
            if family.name in self.finished or family.name == self.family:
                where = piece.first_line if i == 0 and piece.at_family_start else _locate_family(piece, family)
                raise InvalidBackfill(
                    where,
                    f"the lines of family {_quote(family.name)} resume after other families; "
                    "a family's lines must be contiguous",
                )
            if self.family is not None:
                self.finished.add(self.family)
            self.family = family.name
            self.has_metric = False
            self.metrics_done = set()
            if i == len(families) - 1:  # it may go on in the next piece
                self._follow(piece, family)

    def _follow(self, piece: _Piece, family: MetricFamily) -> None:
        """Walk the metrics of the family that continues from the previous piece or
        into the next one: each may only start once."""
        current, started, done = self.metric, self.has_metric, self.metrics_done
        keys: dict[Labels, _MetricKey] = {}
        for sample in family.samples:
            if sample.labels in keys:
                key = keys[sample.labels]
            else:
                key = keys[sample.labels] = _metric_key(family, sample)
            if started and key == current:
                continue
            if key in done:
                raise InvalidBackfill(
                    _locate(piece, sample),
                    f"{_series(sample)} is interleaved with other metrics of {_quote(family.name)}; "
                    "each metric's samples must be contiguous",
                )
            if started:
                done.add(current)
            current, started = key, True
        self.metric, self.has_metric = current, started


# --- writing ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Stats:
    samples: int = 0
    families: int = 0
    min_ms: int | None = None
    max_ms: int | None = None
    _last_family: str | None = None

    def count(self, page: ParsedPage) -> None:
        for family in page.families:
            if not family.samples:
                continue
            if family.name != self._last_family:
                self.families += 1
                self._last_family = family.name
            stamps = [s.timestamp_ms for s in family.samples if s.timestamp_ms is not None]
            self.samples += len(stamps)
            lo, hi = min(stamps), max(stamps)
            self.min_ms = lo if self.min_ms is None else min(self.min_ms, lo)
            self.max_ms = hi if self.max_ms is None else max(self.max_ms, hi)


class _Writer:
    """Resolves series ids once per series, appends one piece at a time, flushes each
    piece (one write-ahead row), and runs maintenance every :data:`MAINTAIN_EVERY`
    samples so the head does not hold the whole file."""

    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock
        self.ids: dict[tuple[str, Labels], int] = {}
        self.samples = 0
        self.flushed = 0
        self._since_maintenance = 0

    def write(self, page: ParsedPage) -> None:
        ids: list[int] = []
        stamps: list[int] = []
        values: list[float] = []
        missing: dict[tuple[str, Labels], list[int]] = {}
        known = self.ids
        for family in page.families:
            for s in family.samples:
                key = (s.name, s.labels)
                sid = known.get(key)
                if sid is None:
                    missing.setdefault(key, []).append(len(ids))
                    sid = -1
                ids.append(sid)
                stamps.append(s.timestamp_ms if s.timestamp_ms is not None else 0)
                values.append(s.value)
        if missing:
            keys = list(missing)
            new = self.store.series_ids([make_labels(name, labels) for name, labels in keys])
            for key, sid in zip(keys, new, strict=True):
                known[key] = sid
                for pos in missing[key]:
                    ids[pos] = sid
        if not ids:
            return
        self.store.append(ids, stamps, values)
        self.samples += len(ids)
        self.store.flush()
        self.flushed = self.samples
        self._since_maintenance += len(ids)
        if self._since_maintenance >= MAINTAIN_EVERY:
            self._maintain()

    def finish(self) -> None:
        self.store.flush()
        self.flushed = self.samples
        self._maintain()

    def _maintain(self) -> None:
        self.store.maintain(int(self.clock() * 1000))
        self._since_maintenance = 0
