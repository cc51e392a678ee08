"""Reading, checking and writing audio files: the only module in mixlab that touches codecs.

Reading goes through libsndfile (via soundfile), which decodes WAV, AIFF, FLAC, OGG and MP3 and
trims the MP3 encoder delay. Before decoding, :func:`probe` checks the file the way a careful
engineer would and turns every problem into an :class:`~mixlab.errors.InvalidAudioError` (or
:class:`~mixlab.errors.UnsupportedFormatError`) with a stable ``code``, a message that names the
file and says what to do, and structured ``details``. libsndfile is lenient where we must not
be: it silently reads a cut-off WAV as a shorter one, so WAV/AIFF chunk headers are parsed
here, and FLAC/OGG/MP3 files are checked at their end.

Writing goes through :class:`AudioWriter`, which writes to a hidden temporary file next to the
target and renames it onto the target only when everything went well, so a failed or cancelled
export never leaves a half-written file. 16-bit output (and the 16-bit PCM fed to the MP3
encoder) is TPDF-dithered; MP3 is 320 kbps CBR from LAME (via lameenc) with a LAME/Info header
so that decoders trim the encoder delay and padding (gapless: the decoded file has exactly the
written length and timing).

Audio arrays are ``float32 (channels, samples)``, full scale +-1.0.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import struct
from dataclasses import dataclass
from types import TracebackType
from typing import Any, BinaryIO, Iterator

import numpy as np
import soundfile as sf

from mixlab.audio.buffer import AudioBuffer, check_finite
from mixlab.audio.dither import quantize
from mixlab.errors import (
    InvalidAudioError,
    InvalidParameterError,
    MixlabError,
    ProcessingError,
    UnsupportedFormatError,
)

__all__ = [
    "SUPPORTED_READ",
    "SUPPORTED_WRITE",
    "READ_EXTENSIONS",
    "WRITE_EXTENSIONS",
    "BIT_DEPTHS",
    "MIN_SAMPLE_RATE",
    "MAX_SAMPLE_RATE",
    "MP3_SAMPLE_RATES",
    "MP3_BIT_RATE_KBPS",
    "AudioInfo",
    "probe",
    "read_audio",
    "iter_blocks",
    "open_blocks",
    "AudioWriter",
    "write_audio",
    "decode_for_verification",
    "same_file",
]

logger = logging.getLogger(__name__)

#: Formats mixlab reads (names as in :attr:`AudioInfo.format`).
SUPPORTED_READ = frozenset({"wav", "aiff", "flac", "mp3", "ogg"})
#: Formats mixlab writes.
SUPPORTED_WRITE = frozenset({"wav", "flac", "mp3"})
#: File name extension -> format, for reading.
READ_EXTENSIONS = {
    ".wav": "wav",
    ".wave": "wav",
    ".aif": "aiff",
    ".aiff": "aiff",
    ".aifc": "aiff",
    ".flac": "flac",
    ".mp3": "mp3",
    ".ogg": "ogg",
}
#: File name extension -> format, for writing.
WRITE_EXTENSIONS = {".wav": "wav", ".wave": "wav", ".flac": "flac", ".mp3": "mp3"}
#: Accepted ``bit_depth`` values of :class:`AudioWriter`.
BIT_DEPTHS = ("16", "24", "32f")
MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 384000
#: Sample rates an MPEG-1 Layer III (MP3) file can have at 320 kbps.
MP3_SAMPLE_RATES = (32000, 44100, 48000)
MP3_BIT_RATE_KBPS = 320

_READ_NAMES = "WAV, AIFF, FLAC, MP3 or OGG"
_WRITE_NAMES = "WAV, FLAC or MP3"
_SF_FORMATS = {"WAV": "wav", "WAVEX": "wav", "RF64": "wav", "AIFF": "aiff", "FLAC": "flac", "OGG": "ogg", "MP3": "mp3"}
_FORMAT_TITLES = {"wav": "WAV", "aiff": "AIFF", "flac": "FLAC", "mp3": "MP3", "ogg": "OGG"}
# libsndfile reports SF_COUNT_MAX when a stream does not say how long it is.
_UNKNOWN_FRAMES = 2**62
_TAIL_CHECK_FRAMES = 4096
_COUNT_BLOCK_FRAMES = 1 << 16
# Largest data chunk a (non-RF64) WAV file can describe, less room for the header.
_WAV_MAX_DATA_BYTES = 0xFFFFFFFF - 4096
# Bound the float64 temporaries of quantisation when a caller writes one huge block.
_WRITE_CHUNK_FRAMES = 1 << 18
_DECODE_ERRORS = (sf.LibsndfileError, RuntimeError)


# --------------------------------------------------------------------------------------------
# small helpers


def _label(path: str, name: str | None) -> str:
    """The name shown to the user: ``name`` if given, else the file's base name."""
    if name:
        return str(name)
    return os.path.basename(path.rstrip("/\\")) or path


def _fmt_duration(seconds: float) -> str:
    """Human duration: "4.2 s", "3 min 05 s", "1 h 02 min"."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _check_max_duration(max_duration_s: float | None) -> float | None:
    if max_duration_s is None:
        return None
    if isinstance(max_duration_s, bool) or not isinstance(max_duration_s, (int, float)) or not max_duration_s > 0:
        raise InvalidParameterError(
            f"max_duration_s must be a positive number of seconds or None, got {max_duration_s!r}",
            code="parameter.bad_max_duration",
        )
    return float(max_duration_s)


def _truncated(label: str, *, expected_s: float | None = None, actual_s: float | None = None) -> InvalidAudioError:
    details: dict[str, Any] = {"file": label}
    if expected_s is not None and actual_s is not None:
        what = (
            f"its header announces {_fmt_duration(expected_s)} of audio but the file holds only "
            f"{_fmt_duration(actual_s)}"
        )
        details.update(expected_duration_s=round(expected_s, 3), actual_duration_s=round(actual_s, 3))
    else:
        what = "the end of its audio data is missing"
    return InvalidAudioError(
        f"{label}: the file is cut short: {what}. The copy, download or upload was probably "
        "interrupted; copy or export the file again.",
        code="audio.truncated",
        **details,
    )


def _corrupt(label: str, kind: str, reason: str, *, after_s: float | None = None) -> InvalidAudioError:
    # Decoders fail somewhere inside the block being read, so we can only say "after".
    where = f" after {_fmt_duration(after_s)}" if after_s is not None else ""
    details: dict[str, Any] = {"file": label, "reason": reason}
    if after_s is not None:
        details["after_s"] = round(after_s, 3)
    return InvalidAudioError(
        f"{label}: looks like {_article(kind)} {_FORMAT_TITLES.get(kind, kind)} file but its audio "
        f"data is damaged{where} and cannot be decoded ({reason}). Export the file again.",
        code="audio.corrupt",
        **details,
    )


def _article(kind: str) -> str:
    return "an" if kind in ("aiff", "mp3", "ogg") else "a"


def _unsupported_codec(label: str, what: str) -> UnsupportedFormatError:
    return UnsupportedFormatError(
        f"{label}: contains {what} audio, which mixlab cannot read. Export it again (or convert "
        f"it) as PCM WAV, AIFF, FLAC, MP3 or OGG; WAV, AIFF and FLAC keep the full quality.",
        code="audio.unsupported_format",
        file=label,
        found=what,
        supported=sorted(SUPPORTED_READ),
    )


def _sf_error_text(exc: BaseException) -> str:
    text = getattr(exc, "error_string", None) or str(exc)
    return text.strip() or type(exc).__name__


# --------------------------------------------------------------------------------------------
# sniffing the container from the first bytes


@dataclass(frozen=True)
class _Sniff:
    kind: str  # one of SUPPORTED_READ, or "unsupported" / "unknown"
    offset: int = 0  # where the container starts (after an ID3v2 tag)
    what: str = ""  # description for "unsupported" / "unknown"


def _id3v2_size(head: bytes) -> int:
    """Bytes taken by an ID3v2 tag at the start of ``head`` (0 if there is none)."""
    if len(head) < 10 or head[:3] != b"ID3" or any(b & 0x80 for b in head[6:10]):
        return 0
    size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
    return 10 + size + (10 if head[5] & 0x10 else 0)


def _mp3_header_ok(h: bytes) -> bool:
    """True if ``h`` (4 bytes) is a plausible MPEG audio frame header."""
    if len(h) < 4 or h[0] != 0xFF or (h[1] & 0xE0) != 0xE0:
        return False
    version = (h[1] >> 3) & 3
    layer = (h[1] >> 1) & 3
    bitrate_index = h[2] >> 4
    rate_index = (h[2] >> 2) & 3
    emphasis = h[3] & 3
    return version != 1 and layer != 0 and bitrate_index != 15 and rate_index != 3 and emphasis != 2


def _find_mp3_header(head: bytes, start: int = 0) -> int:
    i = head.find(b"\xff", start)
    while 0 <= i <= len(head) - 4:
        if _mp3_header_ok(head[i : i + 4]):
            return i
        i = head.find(b"\xff", i + 1)
    return -1


_W64_GUID = bytes.fromhex("726966662e91cf11a5d628db04c10000")
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")


def _describe_non_audio(head: bytes) -> str:
    if head[:4] == b"PK\x03\x04":
        return "it is a ZIP archive; unzip it and use the audio files inside"
    if head[:4] == b"MThd":
        return "it is a MIDI file (notes, not sound); bounce or export the audio from your DAW"
    if head[:5] == b"%PDF-":
        return "it is a PDF document"
    try:
        text = head[:1024].decode("utf-8")
    except UnicodeDecodeError:
        return ""
    lowered = text.lstrip().lower()
    if lowered.startswith(("<!doctype html", "<html", "<?xml", "<head")):
        return "it is a web page, so the download probably failed; download the file again"
    if text and sum(c.isprintable() or c in "\r\n\t" for c in text) > 0.95 * len(text):
        return "it contains text"
    return ""


def _sniff(f: BinaryIO, file_size: int, ext_kind: str) -> _Sniff:
    f.seek(0)
    head = f.read(8192)
    offset = _id3v2_size(head)
    if offset:
        if offset >= file_size:
            return _Sniff("unknown", offset, "it holds only a tag, no audio")
        f.seek(offset)
        head = f.read(8192)
    four = head[:4]
    if four in (b"RIFF", b"RIFX", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return _Sniff("wav", offset)
    if four == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return _Sniff("aiff", offset)
    if four == b"fLaC":
        return _Sniff("flac", offset)
    if four == b"OggS":
        return _Sniff("ogg", offset)
    if _mp3_header_ok(head[:4]):
        return _Sniff("mp3", offset)
    # Unsupported but recognisable audio.
    if head[4:8] == b"ftyp":
        return _Sniff("unsupported", offset, "MP4/M4A (AAC or ALAC)")
    if four == b"caff":
        return _Sniff("unsupported", offset, "Core Audio (CAF)")
    if four == b"wvpk":
        return _Sniff("unsupported", offset, "WavPack")
    if four == b"MAC ":
        return _Sniff("unsupported", offset, "Monkey's Audio (APE)")
    if head[:16] == _ASF_GUID:
        return _Sniff("unsupported", offset, "Windows Media (WMA)")
    if head[:16] == _W64_GUID:
        return _Sniff("unsupported", offset, "Sony Wave64 (W64)")
    if four == b".snd":
        return _Sniff("unsupported", offset, "Sun/NeXT AU")
    if four == b"FORM" and head[8:12] == b"8SVX":
        return _Sniff("unsupported", offset, "Amiga IFF 8SVX")
    if head[:5] == b"#!AMR":
        return _Sniff("unsupported", offset, "AMR")
    if four == b"RIFF" and head[8:12] == b"AVI ":
        return _Sniff("unsupported", offset, "AVI video")
    # Some MP3 files have a few junk bytes before the first frame.
    if offset or ext_kind == "mp3":
        i = _find_mp3_header(head)
        if i >= 0 and i + 4 <= len(head):
            return _Sniff("mp3", offset + i)
    return _Sniff("unknown", offset, _describe_non_audio(head))


# --------------------------------------------------------------------------------------------
# container checks libsndfile does not do


def _plausible_chunk_id(f: BinaryIO, pos: int) -> bool:
    f.seek(pos)
    cid = f.read(4)
    return len(cid) == 4 and all(32 <= b < 127 for b in cid)


def _next_chunk(f: BinaryIO, body: int, size: int) -> int:
    """Position of the chunk after one at ``body`` of ``size`` bytes (RIFF/IFF pad odd sizes).

    Some writers forget the pad byte; if the padded position does not hold a chunk id and the
    unpadded one does, follow the writer.
    """
    nxt = body + size + (size & 1)
    if size & 1 and not _plausible_chunk_id(f, nxt) and _plausible_chunk_id(f, nxt - 1):
        return nxt - 1
    return nxt


def _check_riff(f: BinaryIO, base: int, file_size: int, label: str) -> tuple[bool, int | None]:
    """Raise ``audio.truncated`` if the WAV's data chunk promises more bytes than there are.

    Returns (whether the data chunk was found, the format tag of the fmt chunk). The walk can
    run off the end without finding the data chunk: then libsndfile has the last word, and if
    it cannot open the file either, the file is truncated.
    """
    f.seek(base)
    riff_id = f.read(4)
    endian = ">" if riff_id == b"RIFX" else "<"
    pos = base + 12
    ds64_data_bytes: int | None = None
    byte_rate: int | None = None
    format_tag: int | None = None
    while pos + 8 <= file_size:
        f.seek(pos)
        chunk = f.read(8)
        cid = chunk[:4]
        (size,) = struct.unpack(endian + "I", chunk[4:8])
        body = pos + 8
        if cid == b"ds64":
            d = f.read(24)
            if len(d) == 24:
                ds64_data_bytes = struct.unpack("<QQQ", d)[1]
        elif cid == b"fmt ":
            d = f.read(min(size, 40))
            if len(d) >= 12:
                format_tag = struct.unpack(endian + "H", d[:2])[0]
                byte_rate = struct.unpack(endian + "I", d[8:12])[0] or None
            if format_tag == 0xFFFE and len(d) >= 26:  # WAVE_FORMAT_EXTENSIBLE: tag starts the GUID
                format_tag = struct.unpack(endian + "H", d[24:26])[0]
        elif cid == b"data":
            declared: int | None = size
            if riff_id in (b"RF64", b"BW64") and size == 0xFFFFFFFF:
                declared = ds64_data_bytes
            elif size in (0, 0xFFFFFFFF):
                declared = None  # a recorder that never finished its header: length unknown
            available = file_size - body
            if declared is not None and declared > available:
                if byte_rate:
                    raise _truncated(label, expected_s=declared / byte_rate, actual_s=available / byte_rate)
                raise _truncated(label)
            return True, format_tag
        pos = _next_chunk(f, body, size)
    return False, format_tag


# WAV format tags libsndfile decodes, and names for common ones it does not.
_WAV_DECODABLE = {0x0001, 0x0002, 0x0003, 0x0006, 0x0007, 0x0011, 0x0031, 0x0040, 0x0055}
_WAV_CODEC_NAMES = {0x0050: "MPEG", 0x0092: "Dolby AC-3", 0x0161: "Windows Media", 0x00FF: "AAC",
                    0x1610: "AAC", 0x2000: "Dolby AC-3", 0x2001: "DTS", 0xF1AC: "FLAC"}


def _ieee_extended(b: bytes) -> float:
    """80-bit IEEE 754 extended float (AIFF sample rate)."""
    exponent = ((b[0] & 0x7F) << 8) | b[1]
    mantissa = int.from_bytes(b[2:10], "big")
    if exponent == 0 and mantissa == 0:
        return 0.0
    value = mantissa * 2.0 ** (exponent - 16383 - 63)
    return -value if b[0] & 0x80 else value


_AIFC_PCM = {b"NONE", b"sowt", b"twos", b"raw ", b"fl32", b"FL32", b"fl64", b"FL64", b"in24", b"in32", b"42ni"}


def _check_aiff(f: BinaryIO, base: int, file_size: int, label: str) -> bool:
    """AIFF counterpart of :func:`_check_riff` (big-endian chunks, COMM + SSND)."""
    f.seek(base + 8)
    is_aifc = f.read(4) == b"AIFC"
    pos = base + 12
    num_frames: int | None = None
    frame_bytes: int | None = None
    rate_hz = 0.0
    while pos + 8 <= file_size:
        f.seek(pos)
        chunk = f.read(8)
        cid = chunk[:4]
        (size,) = struct.unpack(">I", chunk[4:8])
        body = pos + 8
        if cid == b"COMM":
            d = f.read(min(size, 22))
            if len(d) >= 18:
                channels, num_frames, bits = struct.unpack(">hIh", d[:8])
                rate_hz = _ieee_extended(d[8:18])
                compression = d[18:22] if is_aifc and len(d) >= 22 else b"NONE"
                if compression in _AIFC_PCM and channels > 0 and bits > 0:
                    frame_bytes = channels * ((bits + 7) // 8)
        elif cid == b"SSND":
            d = f.read(8)
            ssnd_offset = struct.unpack(">I", d[:4])[0] if len(d) == 8 else 0
            data_start = body + 8 + ssnd_offset
            needed = size - 8 - ssnd_offset
            if num_frames is not None and frame_bytes:
                needed = min(needed, num_frames * frame_bytes)
            available = max(0, file_size - data_start)
            if needed > available:
                if frame_bytes and rate_hz > 0:
                    byte_rate = frame_bytes * rate_hz
                    raise _truncated(label, expected_s=needed / byte_rate, actual_s=available / byte_rate)
                raise _truncated(label)
            return True
        pos = _next_chunk(f, body, size)
    return False


def _flac_total_samples(f: BinaryIO, base: int) -> int | None:
    """Total samples from STREAMINFO (0 means unknown or empty), None if unreadable."""
    f.seek(base + 4)
    d = f.read(4 + 34)
    if len(d) < 38 or (d[0] & 0x7F) != 0:
        return None
    return int.from_bytes(d[4 + 10 : 4 + 18], "big") & ((1 << 36) - 1)


def _check_ogg(f: BinaryIO, base: int, file_size: int, label: str) -> int:
    """Walk the Ogg pages; raise ``audio.truncated`` if the last page is cut off.

    Returns the largest granule position seen (> 0 means there are audio packets). Stops
    quietly at anything that is not a page header (libsndfile then decides). About two small
    reads per page (a page holds a few kB), so a few tens of ms for an hour of audio.
    """
    pos = base
    max_granule = 0
    while pos + 27 <= file_size:
        f.seek(pos)
        header = f.read(27)
        if header[:4] != b"OggS" or header[4] != 0:
            return max_granule
        (granule,) = struct.unpack("<q", header[6:14])
        num_segments = header[26]
        table = f.read(num_segments)
        if len(table) < num_segments:
            raise _truncated(label)
        page_bytes = 27 + num_segments + sum(table)
        if pos + page_bytes > file_size:
            raise _truncated(label)
        if granule > max_granule:
            max_granule = granule
        pos += page_bytes
    if pos != file_size and file_size - pos < 27:
        raise _truncated(label)
    return max_granule


def _mp3_length_tag(f: BinaryIO, offset: int) -> tuple[bool, int | None]:
    """Look for a Xing/Info or VBRI header in the first MPEG frame.

    Returns (whether it states the number of frames, the stream size in bytes it states).
    With a frame count, libsndfile knows the exact length (and the LAME tag's delay/padding
    make it gapless); without one its length is an estimate from the file size.
    """
    f.seek(offset)
    head = f.read(4096)
    i = _find_mp3_header(head)
    if i < 0:
        return False, None
    h = head[i : i + 4]
    mpeg1 = ((h[1] >> 3) & 3) == 3
    mono = (h[3] >> 6) == 3
    side_info = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
    o = i + 4 + side_info
    if head[o : o + 4] in (b"Xing", b"Info") and len(head) >= o + 16:
        (flags,) = struct.unpack(">I", head[o + 4 : o + 8])
        p = o + 8
        has_frames = bool(flags & 1)
        if has_frames:
            p += 4
        stream_bytes = struct.unpack(">I", head[p : p + 4])[0] if flags & 2 else None
        return has_frames, stream_bytes
    v = i + 36
    if head[v : v + 4] == b"VBRI" and len(head) >= v + 18:
        stream_bytes, frames = struct.unpack(">II", head[v + 10 : v + 18])
        return frames > 0, stream_bytes
    return False, None


# --------------------------------------------------------------------------------------------
# probing


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`probe` learnt about a file.

    Attributes
    ----------
    path : str
        The path as given.
    format : str
        Container, one of :data:`SUPPORTED_READ` ("wav", "aiff", "flac", "mp3", "ogg"),
        from the file's contents (a FLAC file named ``.wav`` reports "flac").
    subtype : str
        Encoding as libsndfile names it: "PCM_16", "PCM_24", "FLOAT", "VORBIS",
        "MPEG_LAYER_III", ...
    sample_rate : int
        Hz.
    num_channels : int
        1 or 2.
    num_frames : int
        Samples per channel; exactly what :func:`read_audio` and :func:`iter_blocks` deliver.
    duration_s : float
        ``num_frames / sample_rate``.
    """

    path: str
    format: str
    subtype: str
    sample_rate: int
    num_channels: int
    num_frames: int
    duration_s: float


def _open_soundfile(path: str, label: str, kind: str, *, header_incomplete: bool, flac_total: int | None) -> sf.SoundFile:
    try:
        return sf.SoundFile(path)
    except _DECODE_ERRORS as exc:
        reason = _sf_error_text(exc)
        lowered = reason.lower()
        if "unsupported" in lowered or "not supported" in lowered or "codec" in lowered:
            raise UnsupportedFormatError(
                f"{label}: uses an encoding inside the {_FORMAT_TITLES[kind]} file that mixlab cannot "
                f"read ({reason}). Export it again as PCM WAV or AIFF, FLAC, MP3 or OGG.",
                code="audio.unsupported_format",
                file=label,
                reason=reason,
                supported=sorted(SUPPORTED_READ),
            ) from exc
        if kind == "flac" and flac_total == 0:
            raise _empty(label) from exc
        if header_incomplete:
            raise _truncated(label) from exc
        raise _corrupt(label, kind, reason) from exc
    except OSError as exc:
        raise InvalidAudioError(
            f"{label}: cannot be opened ({exc.strerror or exc}). Check that the file is readable.",
            code="audio.unreadable",
            file=label,
        ) from exc


def _empty(label: str) -> InvalidAudioError:
    return InvalidAudioError(
        f"{label}: contains no audio (0 samples). Export the file again with the audio included.",
        code="audio.empty",
        file=label,
    )


def _count_frames(sfile: sf.SoundFile, label: str, kind: str, limit_frames: int | None) -> int:
    """Decode everything libsndfile will deliver and count it (stops past ``limit_frames``)."""
    total = 0
    sfile.seek(0)
    while True:
        try:
            block = sfile.read(_COUNT_BLOCK_FRAMES, dtype="float32", always_2d=True)
        except _DECODE_ERRORS as exc:
            raise _corrupt(label, kind, _sf_error_text(exc), after_s=total / sfile.samplerate) from exc
        if len(block) == 0:
            break
        total += len(block)
        if limit_frames is not None and total > limit_frames:
            break
    sfile.seek(0)
    return total


def _check_tail(sfile: sf.SoundFile, num_frames: int, label: str) -> None:
    """Seek near the end and decode the last frames: catches FLAC/OGG/MP3 files cut short."""
    want = min(num_frames, _TAIL_CHECK_FRAMES)
    got = 0
    try:
        sfile.seek(num_frames - want)
        got = len(sfile.read(want, dtype="float32", always_2d=True))
        sfile.seek(0)
    except _DECODE_ERRORS:
        got = -1
    if got < want:
        raise _truncated(label)


def _probe(path: str, label: str, max_duration_s: float | None) -> AudioInfo:
    if not os.path.exists(path):
        raise InvalidAudioError(
            f"{label}: file not found. Check the name and location of the file, or upload it again.",
            code="audio.not_found",
            file=label,
        )
    if os.path.isdir(path):
        raise InvalidAudioError(
            f"{label}: is a folder, not an audio file. Choose the audio files inside it ({_READ_NAMES}).",
            code="audio.not_a_file",
            file=label,
        )
    ext = os.path.splitext(path)[1].lower()
    ext_kind = READ_EXTENSIONS.get(ext)
    if ext_kind is None:
        shown = ext or "files without an extension"
        raise UnsupportedFormatError(
            f"{label}: {shown} files are not supported. Export or convert the audio to {_READ_NAMES}.",
            code="audio.unsupported_format",
            file=label,
            extension=ext,
            supported=sorted(SUPPORTED_READ),
        )
    try:
        file_size = os.path.getsize(path)
        f = open(path, "rb")
    except OSError as exc:
        raise InvalidAudioError(
            f"{label}: cannot be opened ({exc.strerror or exc}). Check that the file is readable.",
            code="audio.unreadable",
            file=label,
        ) from exc
    if file_size == 0:
        f.close()
        raise InvalidAudioError(
            f"{label}: the file is empty (0 bytes). The export or upload probably failed; export it again.",
            code="audio.empty",
            file=label,
        )

    header_complete = True
    flac_total: int | None = None
    wav_format_tag: int | None = None
    ogg_max_granule = 0
    mp3_exact = True
    with f:
        sniff = _sniff(f, file_size, ext_kind)
        if sniff.kind == "unsupported":
            raise _unsupported_codec(label, sniff.what)
        if sniff.kind == "unknown":
            why = f" ({sniff.what})" if sniff.what else ""
            raise InvalidAudioError(
                f"{label}: is not an audio file{why}: its contents are not {_READ_NAMES} audio, "
                f"whatever its name says. Export the audio from your DAW again as {_READ_NAMES}.",
                code="audio.unreadable",
                file=label,
            )
        kind = sniff.kind
        if kind == "wav":
            header_complete, wav_format_tag = _check_riff(f, sniff.offset, file_size, label)
        elif kind == "aiff":
            header_complete = _check_aiff(f, sniff.offset, file_size, label)
        elif kind == "flac":
            flac_total = _flac_total_samples(f, sniff.offset)
        elif kind == "ogg":
            ogg_max_granule = _check_ogg(f, sniff.offset, file_size, label)
        elif kind == "mp3":
            mp3_exact, stream_bytes = _mp3_length_tag(f, sniff.offset)
            if stream_bytes and file_size - sniff.offset < 0.99 * stream_bytes:
                raise _truncated(label)

    try:
        sfile = _open_soundfile(path, label, kind, header_incomplete=not header_complete, flac_total=flac_total)
    except InvalidAudioError as exc:
        if kind == "wav" and wav_format_tag is not None and wav_format_tag not in _WAV_DECODABLE:
            codec = _WAV_CODEC_NAMES.get(wav_format_tag, f"compressed (format code 0x{wav_format_tag:04X})")
            raise _unsupported_codec(label, f"{codec} WAV") from exc
        raise
    with sfile:
        fmt = _SF_FORMATS.get(sfile.format)
        if fmt is None:
            raise _unsupported_codec(label, sfile.format_info or sfile.format)
        sample_rate = int(sfile.samplerate)
        num_channels = int(sfile.channels)
        num_frames = int(sfile.frames)
        if num_channels > 2:
            raise InvalidAudioError(
                f"{label}: has {num_channels} channels; mixlab works with mono and stereo files. "
                "Export a stereo or mono mix of it, or one stereo/mono stem per instrument, from your DAW.",
                code="audio.too_many_channels",
                file=label,
                num_channels=num_channels,
                max_channels=2,
            )
        if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
            raise InvalidAudioError(
                f"{label}: has a sample rate of {sample_rate} Hz; mixlab accepts {MIN_SAMPLE_RATE} to "
                f"{MAX_SAMPLE_RATE} Hz. Export it at 44.1 or 48 kHz.",
                code="audio.bad_sample_rate",
                file=label,
                sample_rate=sample_rate,
                min_sample_rate=MIN_SAMPLE_RATE,
                max_sample_rate=MAX_SAMPLE_RATE,
            )
        limit_frames = None if max_duration_s is None else int(max_duration_s * sample_rate) + 1
        length_is_estimate = (fmt == "mp3" and not mp3_exact) or num_frames >= _UNKNOWN_FRAMES
        if length_is_estimate:
            # libsndfile guessed the length from the file size; count what it really decodes.
            num_frames = _count_frames(sfile, label, fmt, limit_frames)
        if num_frames == 0:
            if fmt == "ogg" and ogg_max_granule > 0:
                # libsndfile found no length although the pages hold audio.
                raise _corrupt(label, fmt, "cannot find the length of the stream")
            raise _empty(label)
        duration_s = num_frames / float(sample_rate)
        if max_duration_s is not None and duration_s > max_duration_s:
            raise InvalidAudioError(
                f"{label}: is {_fmt_duration(duration_s)} long; the limit is {_fmt_duration(max_duration_s)}. "
                "Trim the file or split it into shorter parts.",
                code="audio.too_long",
                file=label,
                duration_s=round(duration_s, 3),
                max_duration_s=max_duration_s,
            )
        if fmt in ("flac", "ogg", "mp3") and not length_is_estimate:
            _check_tail(sfile, num_frames, label)
        return AudioInfo(
            path=path,
            format=fmt,
            subtype=str(sfile.subtype),
            sample_rate=sample_rate,
            num_channels=num_channels,
            num_frames=num_frames,
            duration_s=duration_s,
        )


def probe(path: str | os.PathLike[str], *, max_duration_s: float | None = None, name: str | None = None) -> AudioInfo:
    """Check that ``path`` is an audio file mixlab can use, without decoding all of it.

    Checks, in order: the file exists, is a file and is not empty; its extension is one of
    :data:`READ_EXTENSIONS`; its contents are WAV, AIFF, FLAC, MP3 or OGG (whatever the
    extension says); it is complete (WAV/AIFF chunk sizes against the file size, Ogg pages,
    the MP3 Xing/Info byte count, and a decode of the last frames of FLAC/OGG/MP3); it has 1
    or 2 channels, a sample rate of 8000..384000 Hz, at least one sample and at most
    ``max_duration_s`` seconds.

    Most files cost a few small reads. An MP3 without a Xing/Info/VBRI header (no stated
    length) is decoded once to count its samples, because libsndfile only estimates its
    length and :attr:`AudioInfo.num_frames` must be exact.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    max_duration_s : float or None
        Longest accepted duration in seconds; ``None`` for no limit.
    name : str or None
        Name to show in messages (e.g. the original upload name); defaults to the file's base
        name.

    Returns
    -------
    AudioInfo

    Raises
    ------
    InvalidAudioError
        ``audio.not_found``, ``audio.not_a_file``, ``audio.empty``, ``audio.unreadable``,
        ``audio.truncated``, ``audio.corrupt``, ``audio.too_many_channels``,
        ``audio.bad_sample_rate``, ``audio.too_long``.
    UnsupportedFormatError
        ``audio.unsupported_format``: an extension or encoding mixlab does not read.
    InvalidParameterError
        ``max_duration_s`` is not a positive number.
    """
    path = os.fspath(path)
    return _probe(path, _label(path, name), _check_max_duration(max_duration_s))


# --------------------------------------------------------------------------------------------
# reading


def _read_frames(info: AudioInfo, label: str, block_size: int) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(offset, frames)`` with frames ``float32 (n, channels)``; exactly num_frames in all."""
    sfile = _open_soundfile(info.path, label, info.format, header_incomplete=False, flac_total=None)
    with sfile:
        done = 0
        while done < info.num_frames:
            want = min(block_size, info.num_frames - done)
            try:
                frames = sfile.read(want, dtype="float32", always_2d=True)
            except _DECODE_ERRORS as exc:
                raise _corrupt(label, info.format, _sf_error_text(exc), after_s=done / info.sample_rate) from exc
            if len(frames) == 0:
                raise _truncated(label, expected_s=info.duration_s, actual_s=done / info.sample_rate)
            check_finite(frames.T, name=label, offset_s=done / info.sample_rate, sample_rate=info.sample_rate)
            yield done, frames
            done += len(frames)


def read_audio(
    path: str | os.PathLike[str], *, max_duration_s: float | None = None, name: str | None = None
) -> AudioBuffer:
    """Check (see :func:`probe`) and decode a whole file.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    max_duration_s : float or None
        Longest accepted duration in seconds; ``None`` for no limit.
    name : str or None
        Name to show in messages; defaults to the file's base name.

    Returns
    -------
    AudioBuffer
        ``float32 (channels, num_frames)`` at the file's own sample rate (never resampled),
        full scale +-1.0. Integer formats are scaled by ``2**-(bits-1)``.

    Raises
    ------
    InvalidAudioError
        Everything :func:`probe` raises, plus ``audio.truncated`` / ``audio.corrupt`` if
        decoding fails or ends early, and ``audio.non_finite`` (with the time) for NaN or
        infinity in a float file.
    UnsupportedFormatError
        As :func:`probe`.
    """
    path = os.fspath(path)
    label = _label(path, name)
    info = _probe(path, label, _check_max_duration(max_duration_s))
    out = np.empty((info.num_channels, info.num_frames), dtype=np.float32)
    # 64k-frame reads were the fastest measured (cache-friendly transposing copy), and still
    # place a decoding error within ~1.5 s.
    for offset, frames in _read_frames(info, label, 1 << 16):
        out[:, offset : offset + len(frames)] = frames.T
    return AudioBuffer(out, info.sample_rate)


def iter_blocks(
    path: str | os.PathLike[str],
    *,
    block_size: int = 65536,
    max_duration_s: float | None = None,
    name: str | None = None,
) -> Iterator[np.ndarray]:
    """Check a file (see :func:`probe`) now, then stream it as blocks.

    Memory stays bounded by ``block_size`` whatever the length of the file. The file is
    checked when this function is called (so errors such as ``audio.too_long`` come at once);
    it is opened when the first block is requested and closed when the iterator is exhausted
    or garbage-collected.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    block_size : int
        Samples per channel per block (>= 1); the last block may be shorter.
    max_duration_s : float or None
        Longest accepted duration in seconds; ``None`` for no limit.
    name : str or None
        Name to show in messages; defaults to the file's base name.

    Yields
    ------
    np.ndarray
        ``float32 (channels, n)``, C-contiguous. The blocks add up to exactly
        ``probe(path).num_frames`` samples.

    Raises
    ------
    InvalidAudioError
        As :func:`read_audio`. Decoding errors found mid-stream (``audio.truncated``,
        ``audio.corrupt``, ``audio.non_finite`` with the right time) are raised by the iterator.
    """
    return open_blocks(path, block_size=block_size, max_duration_s=max_duration_s, name=name)[1]


def open_blocks(
    path: str | os.PathLike[str],
    *,
    block_size: int = 65536,
    max_duration_s: float | None = None,
    name: str | None = None,
) -> tuple[AudioInfo, Iterator[np.ndarray]]:
    """:func:`probe` and :func:`iter_blocks` with one check of the file (an MP3 with no stated
    length is decoded to be counted, so checking it twice costs a second decode)."""
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise InvalidParameterError(
            f"block_size must be a whole number >= 1, got {block_size!r}", code="parameter.bad_block_size"
        )
    path = os.fspath(path)
    label = _label(path, name)
    info = _probe(path, label, _check_max_duration(max_duration_s))
    return info, (np.ascontiguousarray(frames.T) for _, frames in _read_frames(info, label, int(block_size)))


def decode_for_verification(path: str | os.PathLike[str]) -> AudioBuffer:
    """Decode a file mixlab has just written (e.g. the MP3 export) so it can be metered.

    MP3 files written by :class:`AudioWriter` carry a LAME header, so the decoded audio has
    exactly the written length and is time-aligned with what was written (encoder delay and
    padding trimmed).

    Raises
    ------
    ProcessingError
        ``audio.verify_failed`` if the file cannot be decoded: our export is broken, which is
        our fault, not the user's. ``details["cause"]`` holds the underlying code.
    """
    path = os.fspath(path)
    try:
        return read_audio(path)
    except MixlabError as exc:
        raise ProcessingError(
            f"{_label(path, None)}: the exported file could not be read back for checking "
            f"({exc.message}). Please try the export again.",
            code="audio.verify_failed",
            file=_label(path, None),
            cause=exc.code,
        ) from exc


# --------------------------------------------------------------------------------------------
# writing


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True if ``a`` and ``b`` name the same file (through links and relative paths).

    Use it before writing, so an export never overwrites the file it is made from. Works
    whether or not the files exist (paths that do not exist are compared after resolving).
    """
    a, b = os.fspath(a), os.fspath(b)
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _write_kind(path: str, label: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    kind = WRITE_EXTENSIONS.get(ext)
    if kind is None:
        shown = ext or "a name without an extension"
        raise UnsupportedFormatError(
            f"{label}: mixlab cannot write {shown} files. Choose a name ending in .wav, .flac or .mp3 "
            f"({_WRITE_NAMES}).",
            code="audio.unsupported_format",
            file=label,
            extension=ext,
            supported=sorted(SUPPORTED_WRITE),
        )
    return kind


_MP3_RATE_INDEX = {44100: 0, 48000: 1, 32000: 2}
_MP3_SAMPLES_PER_FRAME = 1152  # MPEG-1 Layer III
_LAME_ENCODER_DELAY = 576  # LAME's own delay; decoders add their 529 (mpg123 GAPLESS_DELAY)


def _crc16(data: bytes) -> int:
    """CRC-16 (polynomial 0x8005, reflected, init 0), as in the LAME tag's tag CRC."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _lame_info_frame(
    *, sample_rate: int, num_channels: int, header_byte3: int, num_frames: int, total_bytes: int, delay: int, padding: int
) -> bytes:
    """A silent MPEG frame holding a Xing "Info" header and a LAME extension.

    Layout from the LAME "Mp3 Info Tag rev 1" specification (gabriel.mp3-tech.org/mp3infotag):
    Info tag (flags, frames, bytes, TOC, quality) then the LAME extension with the encoder
    delay and padding (12 bits each) that gapless decoders (mpg123, hence libsndfile) trim.
    ``num_frames`` counts the audio frames after this one; ``total_bytes`` includes this frame.
    """
    frame_bytes = 144 * MP3_BIT_RATE_KBPS * 1000 // sample_rate
    frame = bytearray(frame_bytes)
    frame[0:4] = bytes([0xFF, 0xFB, 0xE0 | (_MP3_RATE_INDEX[sample_rate] << 2), header_byte3 & 0xCF])
    o = 4 + (32 if num_channels == 2 else 17)  # after the (all-zero) side information
    frame[o : o + 4] = b"Info"
    frame[o + 4 : o + 16] = struct.pack(">III", 0x0F, num_frames, total_bytes)
    o += 16
    frame[o : o + 100] = bytes(i * 256 // 100 for i in range(100))  # TOC of a CBR stream
    o += 100
    frame[o : o + 4] = struct.pack(">I", 0)  # quality indicator: not given
    o += 4
    lame = bytearray(36)
    lame[0:9] = b"LAME3.100"
    lame[9] = 0x01  # tag revision 0, VBR method 1 = CBR
    lame[20] = min(MP3_BIT_RATE_KBPS, 255)
    lame[21:24] = bytes([(delay >> 4) & 0xFF, ((delay & 0x0F) << 4) | ((padding >> 8) & 0x0F), padding & 0xFF])
    lame[28:32] = struct.pack(">I", total_bytes)  # music length
    frame[o : o + 36] = lame
    # Tag CRC over the first 190 bytes of the frame; the music CRC (lame[32:34]) is left 0.
    frame[o + 34 : o + 36] = struct.pack(">H", _crc16(bytes(frame[:190])))
    return bytes(frame)


class _Mp3Sink:
    """LAME encoder writing 320 kbps CBR into an open file, counting the frames it emits."""

    def __init__(self, fh: BinaryIO, *, sample_rate: int, num_channels: int) -> None:
        import lameenc  # imported here: only MP3 export needs it

        self._fh = fh
        self.sample_rate = sample_rate
        self.num_channels = num_channels
        self._frame_bytes = 144 * MP3_BIT_RATE_KBPS * 1000 // sample_rate
        self._encoder = lameenc.Encoder()
        self._encoder.set_bit_rate(MP3_BIT_RATE_KBPS)
        self._encoder.set_in_sample_rate(sample_rate)
        self._encoder.set_out_sample_rate(sample_rate)
        self._encoder.set_channels(num_channels)
        self._encoder.set_quality(2)  # LAME's recommended high quality ("-h")
        self._num_frames = 0
        self._carry = b""
        self._skip = 0
        self._audio_bytes = 0
        self._header_byte3: int | None = None
        # Room for the Info frame, filled in at close when the length is known.
        self._fh.write(bytes(self._frame_bytes))

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        self._fh.write(data)
        self._audio_bytes += len(data)
        if self._skip >= len(data):
            self._skip -= len(data)
            return
        buf = self._carry + data[self._skip :]
        self._skip = 0
        i = 0
        while i + 4 <= len(buf):
            if buf[i] != 0xFF or (buf[i + 1] & 0xE0) != 0xE0:
                raise ProcessingError(
                    "the MP3 encoder produced an unexpected stream", code="audio.encoder_failed"
                )
            if self._header_byte3 is None:
                self._header_byte3 = buf[i + 3]
            i += self._frame_bytes + ((buf[i + 2] >> 1) & 1)
            self._num_frames += 1
        if i > len(buf):
            self._skip, self._carry = i - len(buf), b""
        else:
            self._carry = buf[i:]

    def write(self, codes: np.ndarray) -> None:
        """Encode int16 codes ``(channels, n)``."""
        self._emit(bytes(self._encoder.encode(np.ascontiguousarray(codes.T))))

    def finish(self, num_samples: int) -> None:
        self._emit(bytes(self._encoder.flush()))
        if self._carry or self._skip or self._num_frames == 0 or self._header_byte3 is None:
            raise ProcessingError("the MP3 encoder produced an incomplete stream", code="audio.encoder_failed")
        padding = self._num_frames * _MP3_SAMPLES_PER_FRAME - num_samples - _LAME_ENCODER_DELAY
        if not 0 <= padding < 4096:
            raise ProcessingError(
                f"unexpected MP3 encoder padding ({padding} samples)", code="audio.encoder_failed"
            )
        frame = _lame_info_frame(
            sample_rate=self.sample_rate,
            num_channels=self.num_channels,
            header_byte3=self._header_byte3,
            num_frames=self._num_frames,
            total_bytes=self._frame_bytes + self._audio_bytes,
            delay=_LAME_ENCODER_DELAY,
            padding=padding,
        )
        self._fh.seek(0)
        self._fh.write(frame)


class AudioWriter:
    """Write a WAV, FLAC or MP3 file block by block, all or nothing.

    The audio goes to a hidden temporary file in the target's folder (``.NAME.partial-XXXXXXXX``)
    that is renamed onto ``path`` only by a clean :meth:`close` (or the end of a ``with`` block
    without an exception). On an exception inside the ``with`` block, on :meth:`abort`, or if
    writing fails, the temporary file is deleted: a failed export leaves nothing behind, and an
    existing file at ``path`` stays as it was until the new one is complete.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; the format comes from the extension: ``.wav``, ``.flac`` or ``.mp3``.
        Check with :func:`same_file` that it is not an input being read.
    sample_rate : int
        Hz, 8000..384000. MP3 only supports 32000, 44100 and 48000 Hz; resample first.
    num_channels : int
        1 or 2 for MP3; 1..8 for WAV and FLAC.
    bit_depth : str
        "16" (TPDF dither, then rounding), "24" (rounding; at 24 bits the rounding error is far
        below any converter's noise) or "32f" (32-bit float, WAV only; samples beyond +-1.0 are
        kept). FLAC takes "16" or "24". MP3 ignores it: it is always fed 16-bit TPDF-dithered
        PCM and encoded at 320 kbps CBR. Integer formats clip samples beyond +-1.0 (counted
        in :attr:`num_clipped_samples`).
    dither_seed : int or None
        Seed of the dither generator; the same audio and seed give bit-identical files,
        however the audio is split into blocks. ``None`` draws a fresh seed.

    Raises
    ------
    UnsupportedFormatError
        ``audio.unsupported_format`` (extension), ``audio.unsupported_bit_depth`` (e.g. FLAC
        32f), ``audio.unsupported_rate`` (MP3 at a rate other than 32/44.1/48 kHz).
    InvalidParameterError
        Bad ``sample_rate``, ``num_channels`` or ``bit_depth``; missing output folder; ``path``
        is a folder.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> target = os.path.join(tempfile.mkdtemp(), "master.wav")
    >>> with AudioWriter(target, sample_rate=48000, num_channels=2, bit_depth="16") as writer:
    ...     writer.write(np.zeros((2, 48000), np.float32))
    >>> probe(target).num_frames
    48000
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        sample_rate: int,
        num_channels: int,
        bit_depth: str = "24",
        dither_seed: int | None = 0,
    ) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self._label = _label(self.path, None)
        self.format = _write_kind(self.path, self._label)
        self.sample_rate = self._check_sample_rate(sample_rate)
        self.num_channels = self._check_num_channels(num_channels)
        self.bit_depth = self._check_bit_depth(bit_depth)
        self.num_frames_written = 0
        self.num_clipped_samples = 0
        self._rng = np.random.default_rng(dither_seed)
        self._state = "open"
        self._sf: sf.SoundFile | None = None
        self._fh: BinaryIO | None = None
        self._mp3: _Mp3Sink | None = None
        self._data_bytes = 0

        folder = os.path.dirname(self.path)
        if os.path.isdir(self.path):
            raise InvalidParameterError(
                f"{self._label}: is a folder; choose a file name for the export.",
                code="audio.output_is_folder",
                file=self._label,
            )
        if not os.path.isdir(folder):
            raise InvalidParameterError(
                f"{self._label}: the folder {folder} does not exist; create it or choose another location.",
                code="audio.output_folder_missing",
                file=self._label,
            )
        self.partial_path = self._create_partial(folder)
        try:
            self._open_sink()
        except BaseException:
            self._discard()
            raise

    # -- validation -------------------------------------------------------------------------

    def _check_sample_rate(self, sample_rate: int) -> int:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or not (
            MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE
        ):
            raise InvalidParameterError(
                f"{self._label}: sample_rate must be a whole number of Hz from {MIN_SAMPLE_RATE} to "
                f"{MAX_SAMPLE_RATE}, got {sample_rate!r}",
                code="parameter.bad_sample_rate",
                file=self._label,
            )
        rate = int(sample_rate)
        if self.format == "mp3" and rate not in MP3_SAMPLE_RATES:
            raise UnsupportedFormatError(
                f"{self._label}: MP3 files can only be 32, 44.1 or 48 kHz, and this audio is "
                f"{rate / 1000:g} kHz. Choose WAV or FLAC to keep {rate / 1000:g} kHz, or make the MP3 "
                "from a 44.1 or 48 kHz version.",
                code="audio.unsupported_rate",
                file=self._label,
                sample_rate=rate,
                supported_rates=list(MP3_SAMPLE_RATES),
            )
        return rate

    def _check_num_channels(self, num_channels: int) -> int:
        most = 2 if self.format == "mp3" else 8
        if isinstance(num_channels, bool) or not isinstance(num_channels, (int, np.integer)) or not (
            1 <= num_channels <= most
        ):
            raise InvalidParameterError(
                f"{self._label}: num_channels must be 1..{most} for {self.format.upper()}, got {num_channels!r}",
                code="parameter.bad_num_channels",
                file=self._label,
            )
        return int(num_channels)

    def _check_bit_depth(self, bit_depth: str) -> str:
        depth = str(bit_depth)
        if depth not in BIT_DEPTHS:
            raise InvalidParameterError(
                f"bit_depth must be one of {', '.join(repr(d) for d in BIT_DEPTHS)}, got {bit_depth!r}",
                code="parameter.bad_bit_depth",
                file=self._label,
            )
        if self.format == "flac" and depth == "32f":
            raise UnsupportedFormatError(
                f"{self._label}: FLAC stores 16 or 24 bits, not 32-bit float. Choose 16 or 24 bits, "
                "or WAV for 32-bit float.",
                code="audio.unsupported_bit_depth",
                file=self._label,
                bit_depth=depth,
                supported_bit_depths=["16", "24"],
            )
        return depth

    # -- files ------------------------------------------------------------------------------

    def _create_partial(self, folder: str) -> str:
        base = os.path.basename(self.path)
        for _ in range(100):
            candidate = os.path.join(folder, f".{base}.partial-{secrets.token_hex(4)}")
            try:
                # 0o666 and the process umask give the finished file the usual permissions.
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            except FileExistsError:
                continue
            except OSError as exc:
                raise self._write_failed(exc) from exc
            if self.format == "mp3":
                self._fh = os.fdopen(fd, "w+b")
            else:
                os.close(fd)
            return candidate
        raise ProcessingError(f"{self._label}: could not create a temporary file", code="audio.write_failed")

    def _open_sink(self) -> None:
        if self.format == "mp3":
            if self._fh is None:  # pragma: no cover - set by _create_partial
                raise ProcessingError("internal error: no file handle", code="audio.write_failed")
            self._mp3 = _Mp3Sink(self._fh, sample_rate=self.sample_rate, num_channels=self.num_channels)
            return
        subtype = {"16": "PCM_16", "24": "PCM_24", "32f": "FLOAT"}[self.bit_depth]
        try:
            self._sf = sf.SoundFile(
                self.partial_path,
                "w",
                samplerate=self.sample_rate,
                channels=self.num_channels,
                subtype=subtype,
                format=self.format.upper(),
            )
        except _DECODE_ERRORS as exc:
            raise ProcessingError(
                f"{self._label}: could not start writing ({_sf_error_text(exc)})",
                code="audio.write_failed",
                file=self._label,
            ) from exc

    def _write_failed(self, exc: BaseException) -> ProcessingError:
        reason = getattr(exc, "strerror", None) or _sf_error_text(exc)
        return ProcessingError(
            f"{self._label}: could not be written ({reason}). Check that the folder is writable and "
            "the disk has free space, then export again.",
            code="audio.write_failed",
            file=self._label,
            reason=str(reason),
        )

    def _discard(self) -> None:
        """Close everything and delete the temporary file (never the target)."""
        self._state = "aborted"
        for closer in (self._sf, self._fh):
            if closer is not None:
                try:
                    closer.close()
                except Exception:  # noqa: BLE001 - cleaning up after a failure
                    pass
        self._sf = None
        self._fh = None
        partial = getattr(self, "partial_path", None)
        if partial:
            try:
                os.unlink(partial)
            except FileNotFoundError:
                pass
            except OSError:
                logger.warning("could not delete temporary file %s", partial)

    # -- public -----------------------------------------------------------------------------

    def write(self, block: np.ndarray) -> None:
        """Append ``block``, ``float32 (num_channels, n)`` at :attr:`sample_rate`.

        Raises
        ------
        InvalidParameterError
            Wrong shape (``audio.bad_shape``).
        ProcessingError
            NaN or infinity in ``block`` (``audio.non_finite_output``; the file is discarded),
            the writer is closed (``audio.writer_closed``) or the disk write failed
            (``audio.write_failed``; the file is discarded).
        """
        if self._state != "open":
            raise ProcessingError(
                f"{self._label}: this writer is already {self._state}", code="audio.writer_closed"
            )
        arr = np.asarray(block)
        if arr.ndim != 2 or arr.shape[0] != self.num_channels:
            raise InvalidParameterError(
                f"audio blocks for {self._label} must have shape ({self.num_channels}, samples), got {arr.shape}",
                code="audio.bad_shape",
            )
        if arr.dtype != np.float32:
            arr = arr.astype(np.float32)
        with self._discarding_on_error():
            for start in range(0, arr.shape[1], _WRITE_CHUNK_FRAMES):
                self._write_chunk(arr[:, start : start + _WRITE_CHUNK_FRAMES])

    @contextlib.contextmanager
    def _discarding_on_error(self) -> Iterator[None]:
        """Delete the temporary file on any failure; turn OS and codec errors into ours."""
        try:
            yield
        except MixlabError:
            self._discard()
            raise
        except (OSError, *_DECODE_ERRORS) as exc:
            self._discard()
            raise self._write_failed(exc) from exc
        except BaseException:
            self._discard()
            raise

    def _write_chunk(self, chunk: np.ndarray) -> None:
        n = chunk.shape[1]
        finite = np.isfinite(chunk)
        if not finite.all():
            first = int(np.argmin(finite.all(axis=0)))
            at_s = (self.num_frames_written + first) / self.sample_rate
            raise ProcessingError(
                f"{self._label}: the audio to write contains invalid samples (NaN or infinity) at "
                f"{at_s:.3f} s; nothing was written. This is a bug in mixlab; please report it.",
                code="audio.non_finite_output",
                file=self._label,
                at_s=round(at_s, 3),
            )
        if self.format == "mp3" or self.bit_depth != "32f":
            self.num_clipped_samples += int(np.count_nonzero(np.abs(chunk) > 1.0))
        if self.format == "mp3":
            if self._mp3 is None:  # pragma: no cover
                raise ProcessingError("internal error: no encoder", code="audio.write_failed")
            self._mp3.write(quantize(chunk, bits=16, rng=self._rng))
        else:
            if self.bit_depth == "16":
                data = quantize(chunk, bits=16, rng=self._rng)
                sample_bytes = 2
            elif self.bit_depth == "24":
                # libsndfile writes the top 24 bits of int32 samples.
                data = quantize(chunk, bits=24) << 8
                sample_bytes = 3
            else:
                data = chunk
                sample_bytes = 4
            self._data_bytes += n * self.num_channels * sample_bytes
            if self.format == "wav" and self._data_bytes > _WAV_MAX_DATA_BYTES:
                raise InvalidParameterError(
                    f"{self._label}: too long for a WAV file, which holds at most 4 GB. Export as FLAC, "
                    "or at a lower bit depth or sample rate.",
                    code="audio.wav_too_large",
                    file=self._label,
                )
            if self._sf is None:  # pragma: no cover
                raise ProcessingError("internal error: no file", code="audio.write_failed")
            self._sf.write(np.ascontiguousarray(data.T))
        self.num_frames_written += n

    def close(self) -> None:
        """Finish the file and move it onto :attr:`path`. Does nothing if already closed.

        Raises
        ------
        ProcessingError
            ``audio.write_failed`` (the temporary file is deleted and ``path`` is untouched),
            or ``audio.writer_closed`` after :meth:`abort`.
        """
        if self._state == "closed":
            return
        if self._state != "open":
            raise ProcessingError(f"{self._label}: this writer was {self._state}", code="audio.writer_closed")
        with self._discarding_on_error():
            if self._mp3 is not None and self._fh is not None:
                if self.num_frames_written == 0:
                    raise ProcessingError(
                        f"{self._label}: no audio was given to encode", code="audio.empty_output", file=self._label
                    )
                self._mp3.finish(self.num_frames_written)
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()
                self._fh = None
            elif self._sf is not None:
                self._sf.close()
                self._sf = None
                with open(self.partial_path, "rb+") as fh:
                    os.fsync(fh.fileno())
            os.replace(self.partial_path, self.path)
        self._state = "closed"

    def abort(self) -> None:
        """Stop and delete the temporary file; :attr:`path` is left as it was. Idempotent."""
        if self._state != "closed":
            self._discard()

    def __enter__(self) -> AudioWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        # A writer dropped without close() must not leave its temporary file behind.
        try:
            if getattr(self, "_state", "closed") == "open":
                self._discard()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


def write_audio(
    path: str | os.PathLike[str], buffer: AudioBuffer, *, bit_depth: str = "24", dither_seed: int | None = 0
) -> None:
    """Write ``buffer`` to ``path`` in one call (see :class:`AudioWriter` for formats and options)."""
    with AudioWriter(
        path,
        sample_rate=buffer.sample_rate,
        num_channels=buffer.num_channels,
        bit_depth=bit_depth,
        dither_seed=dither_seed,
    ) as writer:
        writer.write(buffer.samples)
