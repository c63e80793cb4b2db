"""Rewriting the header packets of an Ogg Vorbis file, page by page, for the decoder tests.

Valid Vorbis streams that FFmpeg refuses and libvorbis reads differ from ordinary ones only in
their header packets; no encoder writes them on request, so the tests rewrite a real file's
headers. The Ogg page checksum is CRC-32 with polynomial 0x04C11DB7, unreflected, initial value 0
(RFC 3533): not zlib's reflected CRC-32, hence the table here.
"""

from __future__ import annotations

import struct


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else r << 1
        table.append(r & 0xFFFFFFFF)
    return table


_TABLE = _crc_table()


def crc(data: bytes) -> int:
    """The Ogg page checksum of ``data`` (a page with its checksum field zeroed)."""
    r = 0
    for b in data:
        r = ((r << 8) & 0xFFFFFFFF) ^ _TABLE[((r >> 24) & 0xFF) ^ b]
    return r


def pages(data: bytes) -> list[dict]:
    """The pages of a single-stream Ogg file: flags, granule, serial, lacing values and body."""
    out = []
    i = 0
    while i < len(data):
        assert data[i : i + 4] == b"OggS", f"no Ogg page at byte {i}"
        n = data[i + 26]
        lacing = list(data[i + 27 : i + 27 + n])
        body = data[i + 27 + n : i + 27 + n + sum(lacing)]
        granule, serial = struct.unpack("<qI", data[i + 6 : i + 18])
        out.append({"flags": data[i + 5], "granule": granule, "serial": serial,
                    "lacing": lacing, "body": body})  # fmt: skip
        i += 27 + n + sum(lacing)
    return out


def page(serial: int, sequence: int, granule: int, flags: int, packets: list[bytes]) -> bytes:
    """One page holding whole ``packets``, with its checksum."""
    lacing = []
    for p in packets:
        lacing += [255] * (len(p) // 255) + [len(p) % 255]
    assert len(lacing) <= 255, "too many packets for one page"
    return _page(serial, sequence, granule, flags, lacing, b"".join(packets))


def _page(serial, sequence, granule, flags, lacing, body) -> bytes:
    head = b"OggS" + bytes([0, flags]) + struct.pack("<qII", granule, serial, sequence)
    tail = bytes([len(lacing)]) + bytes(lacing) + body
    return head + struct.pack("<I", crc(head + b"\0\0\0\0" + tail)) + tail


def with_headers(data: bytes, *, identification: bytes = b"", setup: bytes = b"") -> bytes:
    """An Ogg Vorbis file with bytes appended to its identification and setup header packets.

    libvorbis reads a header's fields and its framing bit and ignores what follows; FFmpeg
    requires the identification header to be exactly 30 bytes, and finds the modes of the setup
    header by reading it backwards from its last byte.
    """
    all_pages = pages(data)
    serial = all_pages[0]["serial"]
    headers: list[bytes] = []
    partial = b""
    n_header_pages = 0
    for p in all_pages:
        n_header_pages += 1
        offset = 0
        for size in p["lacing"]:
            partial += p["body"][offset : offset + size]
            offset += size
            if size < 255:
                headers.append(partial)
                partial = b""
        if len(headers) >= 3:
            break
    assert len(headers) == 3 and headers[0][:7] == b"\x01vorbis", "not an Ogg Vorbis file"
    out = [
        page(serial, 0, 0, 0x02, [headers[0] + identification]),
        page(serial, 1, 0, 0x00, [headers[1], headers[2] + setup]),
    ]
    # the audio pages as they were, renumbered (the headers may have spanned more pages)
    for sequence, p in enumerate(all_pages[n_header_pages:], start=2):
        out.append(_page(serial, sequence, p["granule"], p["flags"], p["lacing"], p["body"]))
    return b"".join(out)
