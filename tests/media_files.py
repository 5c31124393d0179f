"""Small files of each type Meta takes (and some it does not), built byte by byte: what
`POST /media` reads the type from. Each is a valid header of its format, padded to a size."""

from __future__ import annotations

import struct

KB = 1024
MB = 1024 * 1024


def _pad(head: bytes, size: int) -> bytes:
    return head + b"\0" * max(0, size - len(head))


def jpeg(size: int = 2 * KB) -> bytes:
    return _pad(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", size)


def png(size: int = 2 * KB) -> bytes:
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    return _pad(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\0" * 4, size)


def pdf(size: int = 4 * KB) -> bytes:
    return _pad(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", size)


def text(size: int = 1 * KB) -> bytes:
    line = "Fatura no: 2026-001; tutar 1.250,00 TL; teşekkürler\n".encode()
    return (line * (size // len(line) + 1))[:size]


def webp(size: int = 10 * KB, *, animated: bool = False) -> bytes:
    if animated:  # extended format, animation flag (0x02) set
        chunk = b"VP8X" + struct.pack("<I", 10) + bytes([0x02, 0, 0, 0]) + b"\0" * 6
    else:
        chunk = b"VP8 " + struct.pack("<I", 10) + b"\x9d\x01\x2a" + b"\0" * 7
    body = b"WEBP" + chunk
    return _pad(b"RIFF" + struct.pack("<I", max(size, len(body) + 8) - 8) + body, size)


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def _track(codec: bytes) -> bytes:
    entry = _box(codec, b"\0" * 16)
    stsd = _box(b"stsd", b"\0\0\0\0" + struct.pack(">I", 1) + entry)
    return _box(b"trak", _box(b"mdia", _box(b"minf", _box(b"stbl", stsd))))


def mp4(
    size: int = 64 * KB,
    codecs: tuple[bytes, ...] = (b"avc1", b"mp4a"),
    *,
    brand: bytes = b"isom",
    moov_last: bool = False,
) -> bytes:
    ftyp = _box(b"ftyp", brand + b"\0\0\x02\0" + brand + b"mp41")
    moov = _box(b"moov", b"".join(_track(c) for c in codecs))
    mdat_size = max(16, size - len(ftyp) - len(moov))
    mdat = _box(b"mdat", b"\0" * (mdat_size - 8))
    return ftyp + mdat + moov if moov_last else ftyp + moov + mdat


def ogg_opus(size: int = 8 * KB) -> bytes:
    page = b"OggS\x00\x02" + b"\0" * 20 + b"\x01\x13" + b"OpusHead\x01\x02" + b"\0" * 10
    return _pad(page, size)


def ogg_vorbis(size: int = 8 * KB) -> bytes:
    page = b"OggS\x00\x02" + b"\0" * 20 + b"\x01\x1e" + b"\x01vorbis" + b"\0" * 10
    return _pad(page, size)


def mp3(size: int = 8 * KB) -> bytes:
    return _pad(b"ID3\x04\x00\x00\x00\x00\x00\x00", size)


def gif(size: int = 1 * KB) -> bytes:
    return _pad(b"GIF89a\x01\x00\x01\x00\x00\x00\x00", size)


def zip_file(size: int = 1 * KB) -> bytes:
    return _pad(b"PK\x03\x04\x14\x00\x00\x00\x08\x00", size)


def real_png(width: int = 4, height: int = 3) -> bytes:
    """A complete PNG a browser draws (red RGBA pixels), with its chunks' CRCs."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00\xff" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
