"""Reading TensorFlow (V2) checkpoints without TensorFlow.

A checkpoint is a pair of files: ``<prefix>.index``, an immutable sorted table in LevelDB's
SSTable format mapping each variable name to a ``BundleEntryProto`` (dtype, shape, where its bytes
are), and ``<prefix>.data-00000-of-00001``, the raw little-endian tensor bytes. Written by hand
because the only maintained readers are TensorFlow itself (which cannot be installed beside our
dependencies) and tensorboard's protobufs; the format is small and stable: the table layout is
LevelDB's ``table_format.md`` and the protobuf is ``tensor_bundle.proto`` (TensorFlow sources).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

#: A torch BatchNorm's parameters and buffers, and the TensorFlow variables they come from.
TF_BATCHNORM = (
    ("weight", "gamma"),
    ("bias", "beta"),
    ("running_mean", "moving_mean"),
    ("running_var", "moving_variance"),
)

__all__ = ["CheckpointError", "read_checkpoint"]

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
# TensorFlow DataType enum values we meet in these checkpoints
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 10: np.bool_, 19: np.float16}


class CheckpointError(Exception):
    """The files are not a readable TensorFlow V2 checkpoint."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise CheckpointError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise CheckpointError("varint too long")


def _block(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of one table block (keys are prefix-compressed)."""
    if offset + size + 5 > len(data):
        raise CheckpointError("block outside the index file")
    if data[offset + size] != 0:  # trailer: compression type, then a CRC
        raise CheckpointError("compressed index blocks are not supported")
    block = data[offset : offset + size]
    if len(block) < 4:
        raise CheckpointError("index block too short")
    (n_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * n_restarts
    if end < 0:
        raise CheckpointError("corrupt index block (restart array larger than the block)")
    entries, pos, key = [], 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        if shared > len(key) or pos + unshared + value_len > end:
            raise CheckpointError("corrupt index block (an entry runs past its end)")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        entries.append((key, block[pos : pos + value_len]))
        pos += value_len
    return entries


def _fields(buf: bytes) -> dict[int, list]:
    """A protobuf message as field number -> list of values (varints as int, others as bytes)."""
    out: dict[int, list] = {}
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise CheckpointError(f"unsupported protobuf wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def _entry(value: bytes) -> tuple[int, tuple[int, ...], int, int, int]:
    """(dtype, shape, shard, offset, size) of a BundleEntryProto."""
    f = _fields(value)
    dtype = f.get(1, [0])[0]
    shape = ()
    if 2 in f:
        dims = _fields(f[2][0]).get(2, [])
        shape = tuple(_fields(d).get(1, [0])[0] for d in dims)
    if 7 in f:
        raise CheckpointError("sliced (partitioned) variables are not supported")
    return dtype, shape, f.get(3, [0])[0], f.get(4, [0])[0], f.get(5, [0])[0]


def read_checkpoint(prefix: str | os.PathLike) -> dict[str, np.ndarray]:
    """All variables of a single-shard TensorFlow V2 checkpoint, by name.

    Parameters
    ----------
    prefix : path
        The checkpoint prefix: ``<prefix>.index`` and ``<prefix>.data-00000-of-00001`` must exist
        (for musicnn's files the prefix is the folder plus ``/``, the files being ``.index`` and
        ``.data-00000-of-00001``).

    Returns
    -------
    dict of str to np.ndarray
        Copies of the stored arrays, in their stored dtype and shape.
    """
    prefix = os.fspath(prefix)
    index = Path(prefix + ".index").read_bytes()
    data = Path(prefix + ".data-00000-of-00001").read_bytes()
    if len(index) < _FOOTER_SIZE:
        raise CheckpointError(f"{prefix}.index is too short to be a checkpoint index")
    footer = index[-_FOOTER_SIZE:]
    (magic,) = struct.unpack_from("<Q", footer, 40)
    if magic != _TABLE_MAGIC:
        raise CheckpointError(f"{prefix}.index is not a TensorFlow checkpoint index")
    pos = 0
    _, pos = _varint(footer, pos)  # metaindex block: unused
    _, pos = _varint(footer, pos)
    index_offset, pos = _varint(footer, pos)
    index_size, pos = _varint(footer, pos)
    out: dict[str, np.ndarray] = {}
    for _, handle in _block(index, index_offset, index_size):
        offset, p = _varint(handle, 0)
        size, _ = _varint(handle, p)
        for raw_key, value in _block(index, offset, size):
            if raw_key == b"":
                continue  # the BundleHeaderProto
            try:
                key = raw_key.decode("utf-8")
            except UnicodeDecodeError:
                raise CheckpointError(f"variable name is not UTF-8: {raw_key!r}") from None
            dtype, shape, shard, start, nbytes = _entry(value)
            if shard != 0:
                raise CheckpointError("multi-shard checkpoints are not supported")
            if dtype not in _DTYPES:
                raise CheckpointError(f"{key}: unsupported dtype {dtype}")
            if start < 0 or nbytes < 0 or start + nbytes > len(data):
                raise CheckpointError(f"{key}: its bytes lie outside the data file (truncated?)")
            item = np.dtype(_DTYPES[dtype]).newbyteorder("<")
            arr = np.frombuffer(data, dtype=item, count=nbytes // item.itemsize, offset=start)
            if int(np.prod(shape, dtype=np.int64)) != arr.size:
                raise CheckpointError(f"{key}: {arr.size} values for shape {shape}")
            out[key] = arr.reshape(shape).copy()
    return out
