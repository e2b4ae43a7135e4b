"""Bit-exact compression of sample chunks.

A chunk is one series' samples over a time range: ascending int64 millisecond
timestamps and float64 values. Monitoring data is very regular, and the encoding bets on
that while staying exact for *any* input (NaN payloads, ``-0.0``, infinities, stale
markers, timestamps anywhere in int64):

* **Timestamps** become delta-of-delta integers. Scrapes every 15 s give zeros, jitter
  of a millisecond or two gives tiny numbers; both cost almost nothing once zstd has
  seen them.
* **Values** are tried several ways and the smallest wins, because no single scheme
  suits counters, gauges and noise alike:

  - *scaled integers*: when the values are integers, or decimals with up to
    ``_MAX_DECIMALS`` digits (``12.5`` °C, ``1234.56`` CPU seconds), they are stored as
    integers ``round(v * 10**k)`` in first differences or second differences (steady
    counters), divided by the differences' greatest common divisor (memory sizes move in
    pages). The encoder checks that decoding gives back the very same bits; the few
    values that do not (a stale marker in a counter, ``-0.0``) are kept verbatim as
    *exceptions*, so one NaN does not push a whole chunk to the expensive path;
  - *XOR*: each value's bits XORed with the previous value's (Gorilla's idea), for
    full-precision floats.

  Integer streams are zigzagged, narrowed to the fewest bytes that hold them and
  byte-shuffled (all low bytes, then all next bytes...), which turns the high, mostly
  zero bytes into long runs.
* The sections of a chunk are compressed together by zstd in one frame; its magic number
  is left out (4 bytes a chunk) since the first byte of the blob says what follows.

Everything is vectorised with numpy: the per-chunk Python work is a few dozen calls,
whatever the chunk size.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt
import zstandard

from scalepilot.adapters.store.errors import StoreCorrupt
from scalepilot.domain.samples import Float64Array, Int64Array

# Blob kinds (first byte). New encodings get new numbers; old ones stay decodable.
_RAW_V1 = 0x01  # sections stored as they are (zstd would not have helped)
_ZSTD_V1 = 0x02  # sections in one magicless zstd frame

# Value section modes.
_SCALED_DELTA = 0
_SCALED_DOD = 1
_XOR = 2

_MAX_DECIMALS = 6
_MAX_EXACT_INT = float(2**53)
# Above this share of exceptions, scaled integers are not worth trying further.
_MAX_EXCEPTION_SHARE = 0.125

# zstd level 9 is 2-4 % smaller than the default 3 on these streams and still fast on
# chunks of a few kilobytes; compaction runs in the background, off the ingest path.
CHUNK_LEVEL = 9
# Trials only rank candidates, so a cheap level is enough.
_TRIAL_LEVEL = 3

_U8 = np.dtype("<u1")
_U64 = np.dtype("<u8")
_I64 = np.dtype("<i8")
_F64 = np.dtype("<f8")
_WIDTH_DTYPES: dict[int, np.dtype[np.unsignedinteger[Any]]] = {
    1: np.dtype("<u1"),
    2: np.dtype("<u2"),
    4: np.dtype("<u4"),
    8: np.dtype("<u8"),
}

UInt64Array = npt.NDArray[np.uint64]

_local = threading.local()


def _compressor(level: int) -> zstandard.ZstdCompressor:
    """A per-thread compressor: zstd contexts are not safe to share across threads, and
    creating one per chunk would cost more than compressing a small chunk."""
    cache: dict[int, zstandard.ZstdCompressor] | None = getattr(_local, "compressors", None)
    if cache is None:
        cache = {}
        _local.compressors = cache
    comp = cache.get(level)
    if comp is None:
        params = zstandard.ZstdCompressionParameters.from_level(
            level,
            format=zstandard.FORMAT_ZSTD1_MAGICLESS,
            write_checksum=0,
            write_content_size=1,
            write_dict_id=0,
        )
        comp = zstandard.ZstdCompressor(compression_params=params)
        cache[level] = comp
    return comp


def _decompressor() -> zstandard.ZstdDecompressor:
    dec: zstandard.ZstdDecompressor | None = getattr(_local, "decompressor", None)
    if dec is None:
        dec = zstandard.ZstdDecompressor(format=zstandard.FORMAT_ZSTD1_MAGICLESS)
        _local.decompressor = dec
    return dec


# --- small integer helpers -------------------------------------------------------------


def _put_uvarint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _zz(value: int) -> int:
    """Zigzag of a signed 64-bit integer (wrapped to 64 bits first)."""
    value = ((value + (1 << 63)) % (1 << 64)) - (1 << 63)
    return ((value << 1) ^ (value >> 63)) & 0xFFFFFFFFFFFFFFFF


def _unzz(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


class _Reader:
    """Cursor over a decoded payload; every read is bounds-checked so a damaged blob
    raises :class:`StoreCorrupt` instead of returning garbage."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def uvarint(self) -> int:
        result = shift = 0
        buf = self.buf
        while True:
            if self.pos >= len(buf) or shift > 63:
                raise StoreCorrupt("truncated or invalid varint in chunk")
            byte = buf[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7

    def svarint(self) -> int:
        return _unzz(self.uvarint())

    def byte(self) -> int:
        if self.pos >= len(self.buf):
            raise StoreCorrupt("truncated chunk")
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if size < 0 or end > len(self.buf):
            raise StoreCorrupt("truncated chunk")
        part = self.buf[self.pos : end]
        self.pos = end
        return part


def _zigzag(x: Int64Array) -> UInt64Array:
    # Integer array arithmetic wraps silently in numpy, which is exactly the modular
    # arithmetic that makes differences of arbitrary int64 values reversible.
    return ((x << 1) ^ (x >> 63)).view(_U64)


def _unzigzag(u: UInt64Array) -> Int64Array:
    return ((u >> np.uint64(1)) ^ (np.uint64(0) - (u & np.uint64(1)))).view(_I64)


def _width(u: UInt64Array) -> int:
    if u.size == 0:
        return 0
    top = int(u.max())
    if top == 0:
        return 0
    if top < 1 << 8:
        return 1
    if top < 1 << 16:
        return 2
    if top < 1 << 32:
        return 4
    return 8


def _put_shuffled(out: bytearray, u: UInt64Array) -> None:
    """Append ``u`` narrowed to its width, bytes grouped by significance."""
    w = _width(u)
    out.append(w)
    if w:
        narrow = u.astype(_WIDTH_DTYPES[w])
        out += narrow.view(_U8).reshape(u.size, w).T.tobytes()


def _take_shuffled(r: _Reader, n: int) -> UInt64Array:
    w = r.byte()
    if w == 0:
        return np.zeros(n, dtype=_U64)
    if w not in _WIDTH_DTYPES:
        raise StoreCorrupt(f"invalid integer width {w} in chunk")
    raw = np.frombuffer(r.take(n * w), dtype=_U8).reshape(w, n)
    return np.ascontiguousarray(raw.T).view(_WIDTH_DTYPES[w]).reshape(n).astype(_U64)


# --- timestamps --------------------------------------------------------------------------


def _put_timestamps(out: bytearray, ts: Int64Array) -> None:
    n = ts.size
    _put_uvarint(out, n)
    if n == 0:
        return
    _put_uvarint(out, _zz(int(ts[0])))
    if n == 1:
        return
    deltas = np.diff(ts)
    _put_uvarint(out, _zz(int(deltas[0])))
    if n > 2:
        _put_shuffled(out, _zigzag(np.diff(deltas)))


def _take_timestamps(r: _Reader) -> Int64Array:
    n = r.uvarint()
    if n == 0:
        return np.empty(0, dtype=np.int64)
    first = np.array([_unzz(r.uvarint())], dtype=np.int64)
    if n == 1:
        return first
    steps = np.empty(n - 1, dtype=np.int64)
    steps[0] = _unzz(r.uvarint())
    if n > 2:
        steps[1:] = _unzigzag(_take_shuffled(r, n - 2))
        np.cumsum(steps, out=steps)  # second differences -> first differences
    np.cumsum(steps, out=steps)  # first differences -> offsets from the first
    out = np.empty(n, dtype=np.int64)
    out[0] = first[0]
    out[1:] = steps
    out[1:] += first[0]
    return out


# --- values --------------------------------------------------------------------------------


def _scaled(values: Float64Array, decimals: int) -> tuple[Int64Array, npt.NDArray[np.bool_]] | None:
    """``values`` as integers ``round(v * 10**decimals)`` and the mask of values that
    decode back bit-exactly; None when too many do not."""
    scale = 10.0**decimals
    with np.errstate(over="ignore", invalid="ignore"):
        f = np.round(values * scale) if decimals else values.copy()
        ok = np.abs(f) <= _MAX_EXACT_INT  # False for NaN and inf too
        f[~ok] = 0.0
        ints = f.astype(np.int64)
        back = ints.astype(np.float64)
        if decimals:
            back /= scale
    ok &= back.view(_U64) == values.view(_U64)
    bad = values.size - int(np.count_nonzero(ok))
    if bad > values.size * _MAX_EXCEPTION_SHARE:
        return None
    return ints, ok


def _fill_gaps(ints: Int64Array, ok: npt.NDArray[np.bool_]) -> Int64Array:
    """Exceptions take their predecessor's integer so they add no differences."""
    if ok.all():
        return ints
    idx = np.where(ok, np.arange(ints.size), 0)
    np.maximum.accumulate(idx, out=idx)
    filled = ints[idx]
    first_ok = int(np.argmax(ok))
    filled[:first_ok] = ints[first_ok]
    return filled


def _scaled_candidates(
    values: Float64Array, ints: Int64Array, ok: npt.NDArray[np.bool_], decimals: int
) -> list[bytearray]:
    """The scaled integers as first differences and as second differences (steady
    counters), sharing the header and the exceptions."""
    n = values.size
    common = bytearray([decimals])
    _put_uvarint(common, _zz(int(ints[0])))
    deltas = np.diff(ints)
    gcd = (int(np.gcd.reduce(deltas)) if deltas.size else 0) or 1
    if gcd != 1:
        deltas //= gcd
    _put_uvarint(common, gcd)
    tail = bytearray()
    exc = np.flatnonzero(~ok) if not ok.all() else np.empty(0, dtype=np.int64)
    _put_uvarint(tail, exc.size)
    if exc.size:
        tail += exc.astype("<u4").tobytes()
        tail += values[exc].view(_U64).astype(_U64).tobytes()
    delta = bytearray([_SCALED_DELTA]) + common
    if n > 1:
        _put_shuffled(delta, _zigzag(deltas))
    delta += tail
    if n < 3:
        return [delta]
    dod = bytearray([_SCALED_DOD]) + common
    _put_uvarint(dod, _zz(int(deltas[0])))
    _put_shuffled(dod, _zigzag(np.diff(deltas)))
    dod += tail
    return [delta, dod]


def _put_xor(out: bytearray, values: Float64Array) -> None:
    out.append(_XOR)
    bits = values.view(_U64)
    x = bits.copy()
    x[1:] ^= bits[:-1]
    out += x.view(_U8).reshape(values.size, 8).T.tobytes()


_SCALES = 10.0 ** np.arange(_MAX_DECIMALS + 1)


def _plausible_decimals(values: Float64Array) -> list[int]:
    """Decimal scales worth trying, smallest first, judged on a prefix of the values
    for all scales at once (one pass instead of one per scale: this runs for every
    chunk)."""
    head = values[:16]
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.round(head[:, None] * _SCALES)
        back = scaled / _SCALES
        exact = (back.view(_U64) == head.view(_U64)[:, None]) & (np.abs(scaled) <= _MAX_EXACT_INT)
    misses = head.size - np.count_nonzero(exact, axis=0)
    return np.flatnonzero(misses <= head.size * _MAX_EXCEPTION_SHARE).tolist()


def _value_candidates(values: Float64Array) -> list[bytearray]:
    # Integers first, without the survey: most series are counters or integer gauges.
    hit = _scaled(values, 0)
    if hit is not None:
        return _scaled_candidates(values, _fill_gaps(*hit), hit[1], 0)
    for decimals in _plausible_decimals(values):
        if decimals and (hit := _scaled(values, decimals)) is not None:
            return _scaled_candidates(values, _fill_gaps(*hit), hit[1], decimals)
    buf = bytearray()
    _put_xor(buf, values)
    return [buf]


def _put_values(out: bytearray, values: Float64Array) -> None:
    if values.size == 0:
        return
    candidates = _value_candidates(values)
    if len(candidates) == 1:
        out += candidates[0]
        return
    comp = _compressor(_TRIAL_LEVEL)
    best = min(candidates, key=lambda c: len(comp.compress(bytes(c))))
    out += best


def _take_values(r: _Reader, n: int) -> Float64Array:
    if n == 0:
        return np.empty(0, dtype=np.float64)
    mode = r.byte()
    if mode == _XOR:
        raw = np.frombuffer(r.take(n * 8), dtype=_U8).reshape(8, n)
        bits = np.ascontiguousarray(raw.T).view(_U64).reshape(n)
        return np.bitwise_xor.accumulate(bits).view(np.float64)
    if mode not in (_SCALED_DELTA, _SCALED_DOD):
        raise StoreCorrupt(f"unknown value encoding {mode} in chunk")
    decimals = r.byte()
    if decimals > _MAX_DECIMALS:
        raise StoreCorrupt(f"invalid decimal scale {decimals} in chunk")
    ints = np.empty(n, dtype=np.int64)
    ints[0] = _unzz(r.uvarint())
    gcd = r.uvarint()
    if n > 1:
        if mode == _SCALED_DOD:
            first_delta = _unzz(r.uvarint())
            deltas = np.empty(n - 1, dtype=np.int64)
            deltas[0] = first_delta
            deltas[1:] = _unzigzag(_take_shuffled(r, n - 2))
            np.cumsum(deltas, out=deltas)
        else:
            deltas = _unzigzag(_take_shuffled(r, n - 1))
        if gcd != 1:
            deltas *= gcd
        ints[1:] = deltas
        np.cumsum(ints, out=ints)
    values = ints.astype(np.float64)
    if decimals:
        values /= 10.0**decimals
    n_exc = r.uvarint()
    if n_exc:
        pos = np.frombuffer(r.take(n_exc * 4), dtype="<u4")
        bits = np.frombuffer(r.take(n_exc * 8), dtype=_U64)
        if pos.size and int(pos.max()) >= n:
            raise StoreCorrupt("exception position out of range in chunk")
        values.view(_U64)[pos] = bits
    return values


# --- blobs -----------------------------------------------------------------------------------


def _seal(payload: bytearray, level: int) -> bytes:
    packed = _compressor(level).compress(bytes(payload))
    if len(packed) < len(payload):
        return bytes([_ZSTD_V1]) + packed
    return bytes([_RAW_V1]) + bytes(payload)


def _open(blob: bytes) -> _Reader:
    if not blob:
        raise StoreCorrupt("empty chunk")
    kind = blob[0]
    if kind == _RAW_V1:
        return _Reader(blob[1:])
    if kind == _ZSTD_V1:
        try:
            return _Reader(_decompressor().decompress(blob[1:]))
        except zstandard.ZstdError as exc:
            raise StoreCorrupt(f"chunk does not decompress: {exc}") from exc
    raise StoreCorrupt(f"unknown chunk format {kind:#x}")


def encode_chunk(timestamps: Int64Array, values: Float64Array, *, level: int = CHUNK_LEVEL) -> bytes:
    """Encode one series' samples; ``timestamps`` need not be sorted, but sorted ones
    compress far better."""
    ts = np.ascontiguousarray(timestamps, dtype=np.int64)
    vs = np.ascontiguousarray(values, dtype=np.float64)
    if ts.shape != vs.shape or ts.ndim != 1:
        raise ValueError("timestamps and values must be 1-d arrays of the same length")
    payload = bytearray()
    _put_timestamps(payload, ts)
    _put_values(payload, vs)
    return _seal(payload, level)


def decode_chunk(blob: bytes) -> tuple[Int64Array, Float64Array]:
    r = _open(blob)
    ts = _take_timestamps(r)
    values = _take_values(r, ts.size)
    if r.pos != len(r.buf):
        raise StoreCorrupt("trailing bytes in chunk")
    return ts, values


def encode_columns(timestamps: Int64Array, columns: list[Float64Array], *, level: int = CHUNK_LEVEL) -> bytes:
    """Several value columns over shared timestamps in one blob (rollup buckets)."""
    ts = np.ascontiguousarray(timestamps, dtype=np.int64)
    payload = bytearray()
    _put_timestamps(payload, ts)
    payload.append(len(columns))
    for col in columns:
        vs = np.ascontiguousarray(col, dtype=np.float64)
        if vs.shape != ts.shape:
            raise ValueError("every column must have one value per timestamp")
        _put_values(payload, vs)
    return _seal(payload, level)


def decode_columns(blob: bytes) -> tuple[Int64Array, list[Float64Array]]:
    r = _open(blob)
    ts = _take_timestamps(r)
    count = r.byte()
    columns = [_take_values(r, ts.size) for _ in range(count)]
    if r.pos != len(r.buf):
        raise StoreCorrupt("trailing bytes in chunk")
    return ts, columns


# --- write-ahead batches ---------------------------------------------------------------------

_BATCH_V1 = 0x11
# Batches are written every second on the ingest path and live for one head window, so
# speed matters more than size: level 1, on byte-shuffled columns (3-4 bytes a sample).
_BATCH_LEVEL = 1


def encode_batch(ids: Int64Array, timestamps: Int64Array, values: Float64Array) -> bytes:
    """One flush worth of samples (any series, any order), for the write-ahead table."""
    n = ids.size
    payload = bytearray()
    _put_uvarint(payload, n)
    base = int(timestamps.min()) if n else 0
    _put_uvarint(payload, _zz(base))
    if n:
        offsets = timestamps - np.int64(base)
        for column in (ids.astype(_I64, copy=False), offsets, values.astype(_F64, copy=False)):
            payload += column.view(_U8).reshape(n, 8).T.tobytes()
    return bytes([_BATCH_V1]) + _compressor(_BATCH_LEVEL).compress(bytes(payload))


def decode_batch(blob: bytes) -> tuple[Int64Array, Int64Array, Float64Array]:
    if not blob or blob[0] != _BATCH_V1:
        raise StoreCorrupt("unknown write-ahead batch format")
    try:
        r = _Reader(_decompressor().decompress(blob[1:]))
    except zstandard.ZstdError as exc:
        raise StoreCorrupt(f"write-ahead batch does not decompress: {exc}") from exc
    n = r.uvarint()
    base = _unzz(r.uvarint())
    columns = []
    for _ in range(3):
        raw = np.frombuffer(r.take(n * 8), dtype=_U8).reshape(8, n)
        columns.append(np.ascontiguousarray(raw.T).reshape(n * 8))
    if r.pos != len(r.buf):
        raise StoreCorrupt("trailing bytes in write-ahead batch")
    ids = columns[0].view(_I64).astype(np.int64)
    ts = columns[1].view(_I64).astype(np.int64)
    if n:
        ts += np.int64(base)
    values = columns[2].view(_F64).astype(np.float64)
    return ids, ts, values
