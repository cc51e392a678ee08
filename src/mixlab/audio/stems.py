"""A multitrack session's input: the stems of one song, from a folder, a ZIP archive or one file.

:func:`open_stems` finds the audio files, checks every one of them with
:func:`~mixlab.audio.io.probe` (all problems are reported together), picks the session sample
rate and returns a :class:`StemSession`. :meth:`StemSession.blocks` then streams each stem
*conformed*: at the session rate (resampled with soxr when needed, and listed in
:attr:`StemSession.conversions` so the user is told), in its own channel count, and exactly
as long as the longest stem (zero-padded at the end). Block ``k`` of every stem covers the
same frames, so a mixer can sum stems block by block.

A ZIP archive is untrusted input. It is unpacked into a private temporary folder under names
we make up (``0001.wav``, ...), so no entry name can write outside it; symbolic links and
archives inside the archive are skipped; password-protected entries, unknown compression
methods, damaged data, and archives that would unpack to more than ``max_total_bytes`` or at
an impossible compression ratio are refused before anything large is written. Actual bytes
are counted while unpacking too, in case the archive's table of contents lies. The folder is
removed by :meth:`StemSession.close` and after any failure; the original files are only read.

Silent stems are accepted here; the analysis finds them.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import shutil
import stat
import struct
import tempfile
import unicodedata
import weakref
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from mixlab.audio.io import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, READ_EXTENSIONS, AudioInfo, open_blocks, probe
from mixlab.audio.resample import StreamResampler
from mixlab.errors import (
    InvalidAudioError,
    InvalidParameterError,
    MixlabError,
    ProcessingError,
    UnsupportedFormatError,
)

try:  # lzma is optional in CPython builds; without it LZMA entries are reported as unsupported
    import lzma

    _LZMA_ERRORS: tuple[type[BaseException], ...] = (lzma.LZMAError,)
except ImportError:  # pragma: no cover
    _LZMA_ERRORS = ()

__all__ = [
    "MAX_ARCHIVE_RATIO",
    "MAX_COMPRESSION_RATIO",
    "Stem",
    "Conversion",
    "StemSession",
    "extract_zip",
    "open_stems",
    "stem_file_name",
]

logger = logging.getLogger(__name__)

#: Largest accepted ratio of unpacked to packed size in a ZIP archive. Deflate, the method of
#: every common zip tool, cannot exceed about 1032:1 (even on digital silence), so real
#: archives pass; together with ``max_total_bytes`` this bounds the disk an upload can fill to
#: this many times its own size. (bzip2 or LZMA archives of near-silent stems can exceed it;
#: the message asks for the standard method.)
MAX_COMPRESSION_RATIO = 2000
#: Largest ratio of everything a ZIP unpacks to over the archive's own size, for archives that
#: are kept unpacked (:func:`extract_zip`, the service's uploads). Music barely compresses
#: (WAV about 1.1:1 with Deflate, FLAC and MP3 1:1), but a stem of pure digital silence packs
#: about 1000:1, and exports do hold silent stems; so single entries keep the loose
#: :data:`MAX_COMPRESSION_RATIO` and the archive as a whole is held to this: it passes an
#: archive until over 97 % of its content is digital silence, and bounds what one upload
#: can write to 32 times its size (a 261 kB archive of 256 MB was kept before; an 8 MB one
#: could write 8 GB).
MAX_ARCHIVE_RATIO = 32
# Below this many unpacked bytes the ratio is not checked: tiny files have erratic ratios and
# cannot fill a disk.
_RATIO_FLOOR_BYTES = 1 << 20
_COPY_CHUNK_BYTES = 1 << 20
# Frames read per step from a stem that is resampled (the output is re-cut to block_size).
_RESAMPLE_READ_FRAMES = 1 << 15
# Number of skipped file names quoted in the "no audio files" message.
_QUOTED_IGNORED = 5

_READ_NAMES = "WAV, AIFF, FLAC, MP3 or OGG"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2}
if _LZMA_ERRORS:
    _ZIP_METHODS.add(zipfile.ZIP_LZMA)
_ZIP_METHOD_NAMES = {
    1: "Shrink",
    6: "Implode",
    9: "Deflate64",
    14: "LZMA",
    93: "Zstandard",
    95: "XZ",
    96: "JPEG",
    97: "WavPack",
    98: "PPMd",
    99: "AES encryption",
}
# What reading a damaged entry raises: zipfile's own errors, the decompressors' (bz2 raises
# OSError), and struct/EOF errors from cut-off headers.
_ZIP_READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    zlib.error,
    struct.error,
    ValueError,
    OSError,
    *_LZMA_ERRORS,
)
_JUNK_FILES = {
    ".ds_store": "macOS folder settings file, not audio",
    "thumbs.db": "Windows thumbnail cache, not audio",
    "desktop.ini": "Windows folder settings file, not audio",
}
_DIGITS = re.compile(r"([0-9]+)")


# --------------------------------------------------------------------------------------------
# public types


@dataclass(frozen=True)
class Stem:
    """One track of the session.

    Attributes
    ----------
    name : str
        Display name: the file name without its extension ("Kick In"). Unique within the
        session, ignoring case: a second "Kick In" from another sub-folder is "Kick In (2)".
    file_name : str
        ``name`` plus the original extension ("Kick In.wav", "Kick In (2).wav"): unique like
        ``name``, so exported processed stems can be named after it without clashing.
    source : str
        The path as the user knows it: relative to the folder or inside the ZIP, with ``/``
        separators ("Drums/Kick In.wav"). Error messages name the stem by it.
    path : Path
        The readable file on disk: the original, or the unpacked copy for a ZIP.
    info : AudioInfo
        What :func:`~mixlab.audio.io.probe` found: native sample rate, 1 or 2 channels, frames.
    """

    name: str
    file_name: str
    source: str
    path: Path
    info: AudioInfo


@dataclass(frozen=True)
class Conversion:
    """A stem resampled to the session rate (to be shown to the user).

    Attributes
    ----------
    stem : str
        :attr:`Stem.name`.
    from_rate : int
        The stem's native sample rate, Hz.
    to_rate : int
        The session sample rate, Hz.
    """

    stem: str
    from_rate: int
    to_rate: int


class StemSession:
    """The stems of one song, conformed to one sample rate and one length.

    Made by :func:`open_stems`; can also be built directly from :class:`Stem` objects (then
    ``conversions`` is derived from the stems' rates). Use it as a context manager, or call
    :meth:`close`, so that the temporary folder of an unpacked ZIP is removed.

    Parameters
    ----------
    stems : iterable of Stem
        At least one.
    sample_rate : int
        The session rate, Hz (8000..384000).
    ignored : iterable of (str, str)
        ``(source, why)`` for files that were skipped.
    tempdir : str or None
        A folder this session owns and deletes on :meth:`close`.

    Attributes
    ----------
    stems : list of Stem
        In natural order of their source paths ("2 Snare" before "10 Pad").
    sample_rate : int
        The session rate, Hz.
    num_frames : int
        Session length in frames at ``sample_rate``: the longest stem.
    conversions : list of Conversion
        The stems that are resampled, in stem order.
    ignored : list of (str, str)
        ``(source, why)`` for files that are not stems (not audio, macOS metadata, hidden,
        links, archives inside the archive).
    """

    def __init__(
        self,
        *,
        stems: Iterable[Stem],
        sample_rate: int,
        ignored: Iterable[tuple[str, str]] = (),
        tempdir: str | None = None,
    ) -> None:
        self.stems: list[Stem] = list(stems)
        if not self.stems:
            raise InvalidParameterError("a stem session needs at least one stem", code="parameter.no_stems")
        self.sample_rate: int = _check_sample_rate(sample_rate)
        self.conversions: list[Conversion] = [
            Conversion(s.name, s.info.sample_rate, self.sample_rate)
            for s in self.stems
            if s.info.sample_rate != self.sample_rate
        ]
        self.num_frames: int = max(_conformed_frames(s.info, self.sample_rate) for s in self.stems)
        self.ignored: list[tuple[str, str]] = list(ignored)
        self._closed = False
        # Also removes the folder if the session is dropped without close().
        self._cleanup = weakref.finalize(self, _remove_tree, tempdir) if tempdir else None

    @property
    def duration_s(self) -> float:
        """Session length in seconds."""
        return self.num_frames / float(self.sample_rate)

    @property
    def is_closed(self) -> bool:
        return self._closed

    def stem_num_frames(self, index: int) -> int:
        """Frames of real audio of stem ``index`` at the session rate (the rest is padding):
        ``round(num_frames * sample_rate / native_rate)``; soxr may deliver one more or less."""
        return _conformed_frames(self._stem(index).info, self.sample_rate)

    def blocks(self, index: int, *, block_size: int = 65536) -> Iterator[np.ndarray]:
        """Stream stem ``index`` conformed to the session.

        The file is checked again when this is called (errors come at once); it is opened on
        the first block and closed when the iterator ends or is closed.

        Parameters
        ----------
        index : int
            Position in :attr:`stems`, 0 .. ``len(stems) - 1``.
        block_size : int
            Frames per block, >= 1. Every block but the last has exactly this size, for every
            stem, so block ``k`` of each stem covers the same frames.

        Yields
        ------
        np.ndarray
            ``float32 (channels, n)``, C-contiguous, at :attr:`sample_rate`, with the stem's
            own channel count (1 or 2). The blocks add up to exactly :attr:`num_frames`
            frames: resampled with :class:`~mixlab.audio.resample.StreamResampler` (soxr VHQ)
            if the stem's rate differs, zero-padded at the end. Memory stays bounded by
            ``block_size`` (plus one read of at most 32768 frames when resampling).

        Raises
        ------
        InvalidParameterError
            Bad ``index`` (``parameter.bad_index``) or ``block_size``.
        ProcessingError
            ``stems.closed``: the session is closed.
        InvalidAudioError
            ``stems.changed`` if the file no longer matches what was opened; the iterator
            raises decoding errors found mid-stream (``audio.corrupt``, naming the source).
        """
        self._check_open()
        stem = self._stem(index)
        if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
            raise InvalidParameterError(
                f"block_size must be a whole number >= 1, got {block_size!r}", code="parameter.bad_block_size"
            )
        block_size = int(block_size)
        resampling = stem.info.sample_rate != self.sample_rate
        read_frames = _RESAMPLE_READ_FRAMES if resampling else block_size
        info, pieces = open_blocks(stem.path, block_size=read_frames, name=stem.source)
        old = stem.info
        shape = (info.sample_rate, info.num_channels, info.num_frames)
        if shape != (old.sample_rate, old.num_channels, old.num_frames):
            pieces.close()  # type: ignore[attr-defined]
            raise InvalidAudioError(
                f"{stem.source}: the file changed after the stems were opened (it was "
                f"{old.num_channels} ch, {old.sample_rate} Hz, {old.num_frames} samples; it is now "
                f"{info.num_channels} ch, {info.sample_rate} Hz, {info.num_frames} samples). "
                "Open the stems again.",
                code="stems.changed",
                file=stem.source,
            )
        if resampling:
            pieces = _resampled(pieces, StreamResampler(old.sample_rate, self.sample_rate, old.num_channels))
        return self._conformed(pieces, old.num_channels, block_size)

    def _conformed(self, pieces: Iterator[np.ndarray], num_channels: int, block_size: int) -> Iterator[np.ndarray]:
        self._check_open()
        yield from _fixed_blocks(pieces, num_channels, block_size, self.num_frames)

    def close(self) -> None:
        """Remove the temporary folder of an unpacked ZIP, if any. Idempotent."""
        self._closed = True
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> StemSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self.stems)

    def __repr__(self) -> str:
        return (
            f"StemSession({len(self.stems)} stems, {self.sample_rate} Hz, {self.num_frames} frames"
            f"{', closed' if self._closed else ''})"
        )

    def _stem(self, index: int) -> Stem:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(self.stems):
            raise InvalidParameterError(
                f"stem index must be a whole number from 0 to {len(self.stems) - 1}, got {index!r}",
                code="parameter.bad_index",
            )
        return self.stems[int(index)]

    def _check_open(self) -> None:
        if self._closed:
            raise ProcessingError("this stem session is closed; open the stems again", code="stems.closed")


# --------------------------------------------------------------------------------------------
# opening


def open_stems(
    path: str | os.PathLike[str],
    *,
    sample_rate: int | None = None,
    max_stems: int = 256,
    max_duration_s: float | None = None,
    max_total_bytes: int = 8 * 2**30,
    workdir: str | os.PathLike[str] | None = None,
) -> StemSession:
    """Open the stems of a song: a folder, a ZIP archive or a single audio file.

    A folder is searched recursively; a ZIP archive (recognised by its contents, whatever its
    name) is unpacked into a private temporary folder. Files are taken as stems by their
    extension (.wav .wave .aif .aiff .aifc .flac .mp3 .ogg); other files, hidden files and
    folders, macOS metadata (``__MACOSX/``, ``._*``, ``.DS_Store``), symbolic links inside a
    ZIP and ZIP archives inside the input are skipped and listed in
    :attr:`StemSession.ignored`. Symbolic links to files inside a folder are followed, links
    to folders are not. Stems are sorted by relative path in natural order ("2 Snare" before
    "10 Pad") and each is checked with :func:`~mixlab.audio.io.probe`; every stem that
    cannot be used is reported, in one error.

    The session rate is ``sample_rate`` if given, else the most common native rate of the
    stems (ties go to the higher rate). Stems at other rates are resampled when streamed and
    listed in :attr:`StemSession.conversions`.

    Parameters
    ----------
    path : str or os.PathLike
        Folder, ZIP file or audio file.
    sample_rate : int or None
        Session rate in Hz (8000..384000), or ``None`` to choose it from the stems.
    max_stems : int
        Most stems accepted, >= 1.
    max_duration_s : float or None
        Longest accepted stem in seconds; ``None`` for no limit.
    max_total_bytes : int
        Most bytes a ZIP archive may unpack to (its audio files), >= 1. Checked against the
        sizes the archive declares before unpacking, and against the bytes actually written
        while unpacking. Not applied to folders (nothing is copied).
    workdir : str, os.PathLike or None
        Folder in which to create the temporary folder for a ZIP; default: the system's
        temporary folder.

    Returns
    -------
    StemSession

    Raises
    ------
    InvalidAudioError
        ``stems.not_found``; ``stems.empty`` (no audio files); ``stems.too_many``;
        ``stems.cannot_open``; for a ZIP: ``stems.zip_encrypted``, ``stems.zip_too_large``,
        ``stems.zip_bomb`` (impossible compression ratio), ``stems.zip_corrupt``. A stem that
        cannot be used: when it is the only bad one, the error of
        :func:`~mixlab.audio.io.probe` (e.g. ``audio.truncated``, ``audio.too_many_channels``),
        naming the stem by its source path; when several are bad, ``stems.unreadable``
        listing them all. Either way ``details["problems"]`` lists ``{file, code, message}``
        for each bad stem.
    UnsupportedFormatError
        ``stems.unsupported_input`` (not a folder, ZIP or audio file), ``stems.zip_unsupported``
        (an unknown compression method), or the stem's ``audio.unsupported_format`` as above.
    InvalidParameterError
        A bad argument, or ``parameter.bad_workdir``.
    ProcessingError
        ``stems.extract_failed``: the ZIP could not be unpacked on our side (e.g. disk full).

    Examples
    --------
    >>> with open_stems("Song stems.zip") as session:  # doctest: +SKIP
    ...     for c in session.conversions:
    ...         print(f"{c.stem} is resampled from {c.from_rate} Hz to {c.to_rate} Hz")
    ...     for block in session.blocks(0):
    ...         ...
    """
    if sample_rate is not None:
        sample_rate = _check_sample_rate(sample_rate)
    max_stems = _check_positive_int(max_stems, "max_stems")
    max_total_bytes = _check_positive_int(max_total_bytes, "max_total_bytes")
    if max_duration_s is not None and (
        isinstance(max_duration_s, bool) or not isinstance(max_duration_s, (int, float)) or not max_duration_s > 0
    ):
        raise InvalidParameterError(
            f"max_duration_s must be a positive number of seconds or None, got {max_duration_s!r}",
            code="parameter.bad_max_duration",
        )
    path_str = os.fspath(path)
    label = os.path.basename(os.path.abspath(path_str)) or path_str
    if not os.path.exists(path_str):
        raise InvalidAudioError(
            f"{label}: not found. Check the name and location of the folder, ZIP file or audio file.",
            code="stems.not_found",
            file=label,
        )

    tempdir: str | None = None
    try:
        if os.path.isdir(path_str):
            files, ignored = _scan_folder(path_str)
            _check_count(len(files), label, max_stems, ignored)
        else:
            kind = _input_kind(path_str, label)
            if kind == "zip":
                tempdir = _make_tempdir(workdir)
                files, ignored = _unpack_zip(
                    path_str, label, tempdir, max_stems=max_stems, max_total_bytes=max_total_bytes
                )
            else:
                files, ignored = [(label, os.path.abspath(path_str))], []
        for source, why in ignored:
            logger.info("%s: skipped %s (%s)", label, source, why)
        stems = _probe_stems(files, label, max_duration_s)
        if sample_rate is None:
            sample_rate = _choose_rate(stems)
        session = StemSession(stems=stems, sample_rate=sample_rate, ignored=ignored, tempdir=tempdir)
    except BaseException:
        if tempdir is not None:
            _remove_tree(tempdir)
        raise
    for c in session.conversions:
        logger.info("%s: %s will be resampled from %d Hz to %d Hz", label, c.stem, c.from_rate, c.to_rate)
    return session


def extract_zip(
    zip_path: str | os.PathLike[str],
    folder: str | os.PathLike[str],
    *,
    name: str | None = None,
    max_stems: int = 256,
    max_total_bytes: int = 8 * 2**30,
    max_ratio: int = MAX_ARCHIVE_RATIO,
) -> tuple[list[tuple[str, Path]], list[tuple[str, str]]]:
    """Check a ZIP archive exactly as :func:`open_stems` does, then unpack its audio files.

    For callers that keep the stems (the service stores each one as a track) instead of
    streaming them once. Every check of :func:`open_stems` applies (count, encryption,
    compression methods, declared sizes, impossible compression ratios, bytes counted while
    unpacking); hidden files, metadata and archives inside the archive are skipped. Stricter
    than :func:`open_stems`: an archive with an entry outside itself (``../x.wav``, an
    absolute path) or a symbolic link is refused as a whole (``stems.zip_unsafe``). Files are written under made-up names (``0001.wav``, ...), so no entry name can
    reach outside ``folder``.

    Parameters
    ----------
    zip_path : str or os.PathLike
        The archive.
    folder : str or os.PathLike
        An existing folder to unpack into. On any error, every file this call wrote is
        removed again (the folder itself is left).
    name : str or None
        Name of the archive in messages (e.g. the uploaded file's name); default its base name.
    max_stems : int
        Most audio files accepted, >= 1.
    max_total_bytes : int
        Most bytes the audio files may unpack to, >= 1.
    max_ratio : int
        Most bytes the audio files may unpack to per byte of the archive (see
        :data:`MAX_ARCHIVE_RATIO`), >= 1. Both limits are checked on the declared sizes before
        anything is written, and hold while unpacking: an entry that unpacks to more than it
        declares is refused as it is written.

    Returns
    -------
    files : list of (str, Path)
        ``(source, unpacked file)`` per audio file, ``source`` being its path inside the
        archive with ``/`` separators, in natural order of ``source``. The unpacked files are
        not probed yet.
    ignored : list of (str, str)
        ``(source, why)`` per skipped entry.

    Raises
    ------
    InvalidAudioError, UnsupportedFormatError, ProcessingError
        As :func:`open_stems` for a ZIP (``stems.zip_unsafe``, ``stems.zip_corrupt``, ``stems.zip_bomb``,
        ``stems.zip_too_large``, ``stems.zip_encrypted``, ``stems.zip_unsupported``,
        ``stems.empty``, ``stems.too_many``, ``stems.extract_failed``).
    """
    max_stems = _check_positive_int(max_stems, "max_stems")
    max_total_bytes = _check_positive_int(max_total_bytes, "max_total_bytes")
    max_ratio = _check_positive_int(max_ratio, "max_ratio")
    path_str = os.fspath(zip_path)
    label = name or os.path.basename(os.path.abspath(path_str)) or path_str
    target = os.fspath(folder)
    _refuse_unsafe_entries(path_str, label)
    before = set(os.listdir(target))
    try:
        files, ignored = _unpack_zip(path_str, label, target, max_stems=max_stems, max_total_bytes=max_total_bytes,
                                     max_ratio=max_ratio)
    except BaseException:
        for entry in set(os.listdir(target)) - before:
            try:
                os.unlink(os.path.join(target, entry))
            except OSError:
                logger.warning("could not remove %s", entry, exc_info=True)
        raise
    files = sorted(files, key=lambda item: (_natural_key(item[0]), item[0]))
    return [(source, Path(p)) for source, p in files], ignored


def _refuse_unsafe_entries(zip_path: str, label: str) -> None:
    """Refuse an archive with an entry that names a place outside it (``../``, ``/etc``,
    ``C:\\``) or is a symbolic link.

    Unpacking is safe without this (names are made up, links skipped), but an archive built
    this way was made to attack whoever unpacks it, so a service that keeps uploads refuses
    it as a whole instead of keeping the rest.
    """
    try:
        with open(zip_path, "rb") as fh, zipfile.ZipFile(fh) as zf:
            infos = zf.infolist()
    except OSError as exc:
        raise _cannot_open(label, exc) from exc
    except _ZIP_READ_ERRORS as exc:
        raise _zip_corrupt(label, None, exc) from exc
    for info in infos:
        raw = _entry_name(info).replace("\\", "/")
        parts = raw.split("/")
        outside = raw.startswith("/") or ".." in parts or (len(raw) > 1 and raw[1] == ":" and raw[0].isalpha())
        if outside or _is_symlink(info):
            what = "a symbolic link" if not outside else "a path outside the archive"
            raise InvalidAudioError(
                f"{label}: the ZIP archive holds {what} ({_display(raw)}), which real stem exports never "
                "do; it was refused and nothing was unpacked. Zip the stems again with your system's "
                "standard 'Compress' command.",
                code="stems.zip_unsafe",
                file=label,
                entry=_display(raw),
            )


def stem_file_name(source: str) -> tuple[str, str | None]:
    """``(file name, why it is skipped or None)`` for a file called ``source`` as a stem.

    The file name is the base name as :func:`open_stems` shows it (Unicode NFC, control
    characters as "?", any folder part dropped), so a file stored under it in a folder gets
    that name, minus its extension, as its :attr:`Stem.name`, provided no other file in the
    folder has the same name ignoring case. ``why`` says why :func:`open_stems` would skip
    the file (hidden, metadata, not an audio extension, an archive), else None.
    """
    parts = _clean_parts(source)
    if not parts:
        return "", "no file name"
    skip = _skip_reason(parts[-1:], "upload")
    return parts[-1], (skip[1] if skip is not None else None)


# --------------------------------------------------------------------------------------------
# validation and small helpers


def _check_sample_rate(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidParameterError(
            f"sample_rate must be a whole number of Hz, got {value!r}", code="parameter.bad_sample_rate"
        )
    rate = int(value)
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise InvalidParameterError(
            f"sample_rate must be between {MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} Hz, got {rate}",
            code="parameter.bad_sample_rate",
            sample_rate=rate,
        )
    return rate


def _check_positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidParameterError(f"{what} must be a whole number >= 1, got {value!r}", code=f"parameter.bad_{what}")
    return int(value)


def _conformed_frames(info: AudioInfo, sample_rate: int) -> int:
    """Length of a stem at ``sample_rate``: ``round(n * sample_rate / native_rate)``, exactly."""
    if info.sample_rate == sample_rate:
        return info.num_frames
    return (info.num_frames * sample_rate + info.sample_rate // 2) // info.sample_rate


def _choose_rate(stems: list[Stem]) -> int:
    """The most common native rate; ties go to the higher rate (less is lost resampling up)."""
    counts = collections.Counter(s.info.sample_rate for s in stems)
    return max(counts, key=lambda rate: (counts[rate], rate))


def _fmt_bytes(num_bytes: int) -> str:
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if num_bytes >= size:
            return f"{num_bytes / size:.1f} {unit}"
    return f"{num_bytes} bytes"


def _natural_key(source: str) -> list[list[Any]]:
    """Sort key: per path component, text case-folded and digit runs compared as numbers.

    ``re.split`` with a capturing group alternates text and digits, so positions hold the
    same type in every key and the lists compare without mixing str and int.
    """
    return [
        [int(t) if i % 2 else t for i, t in enumerate(_DIGITS.split(part.casefold()))] for part in source.split("/")
    ]


def _clean_parts(name: str) -> list[str]:
    """Path components of an archive entry or relative path, safe to show.

    Backslashes count as separators; empty, ``.`` and ``..`` components and a leading drive
    ("C:") are dropped. The result is used for display and naming only: files are never
    written under it.
    """
    parts: list[str] = []
    for part in _display(name).replace("\\", "/").split("/"):
        if part.strip() in ("", ".", ".."):
            continue
        if not parts and len(part) == 2 and part[1] == ":" and part[0].isalpha():
            continue
        parts.append(part)
    return parts


def _display(name: str) -> str:
    """``name`` fit to show: Unicode NFC (macOS writes NFD), control characters as "?"."""
    return "".join("?" if unicodedata.category(c) == "Cc" else c for c in unicodedata.normalize("NFC", name))


def _junk_folder(dir_parts: list[str]) -> tuple[str, str] | None:
    """``("folder/", why)`` for the first folder in ``dir_parts`` that holds no stems, else None."""
    for i, part in enumerate(dir_parts):
        if part == "__MACOSX":
            return "/".join(dir_parts[: i + 1]) + "/", "macOS metadata folder, not audio"
        if part.startswith("."):
            return "/".join(dir_parts[: i + 1]) + "/", "hidden folder"
    return None


def _skip_reason(parts: list[str], container: str) -> tuple[str, str] | None:
    """``(what to report, why)`` if the file at ``parts`` is not a stem candidate, else None.

    A junk folder (``__MACOSX``, hidden) is reported, once, as ``"folder/"``.
    """
    junk = _junk_folder(parts[:-1])
    if junk is not None:
        return junk
    source = "/".join(parts)
    base = parts[-1]
    lowered = base.lower()
    if base.startswith("._"):
        return source, "macOS metadata file (AppleDouble), not audio"
    if lowered in _JUNK_FILES:
        return source, _JUNK_FILES[lowered]
    if base.startswith("."):
        return source, "hidden file"
    ext = os.path.splitext(lowered)[1]
    if ext == ".zip":
        return source, (
            f"ZIP archive inside the {container}: archives inside are not opened; "
            "unzip it and add its audio files"
        )
    if ext not in READ_EXTENSIONS:
        shown = f"{ext} file" if ext else "file without an extension"
        return source, f"not an audio file ({shown}); mixlab reads {_READ_NAMES}"
    return None


def _check_count(count: int, label: str, max_stems: int, ignored: list[tuple[str, str]]) -> None:
    if count == 0:
        skipped = ""
        if ignored:
            quoted = ", ".join(s for s, _ in ignored[:_QUOTED_IGNORED])
            more = f" and {len(ignored) - _QUOTED_IGNORED} more" if len(ignored) > _QUOTED_IGNORED else ""
            skipped = f" (skipped: {quoted}{more})"
        raise InvalidAudioError(
            f"{label}: contains no audio files{skipped}. mixlab looks for {_READ_NAMES} files, in "
            "sub-folders too. Export your stems from your DAW as audio files and try again.",
            code="stems.empty",
            file=label,
            ignored=[{"file": s, "reason": why} for s, why in ignored],
        )
    if count > max_stems:
        raise InvalidAudioError(
            f"{label}: holds {count} audio files; a session takes at most {max_stems} stems. Remove "
            "the tracks you do not need, or bounce related tracks together (e.g. the drum mics to "
            "a drum bus), and try again.",
            code="stems.too_many",
            file=label,
            num_stems=count,
            max_stems=max_stems,
        )


def _input_kind(path: str, label: str) -> str:
    """"zip" or "audio" for a file, judged by its first bytes before its name."""
    ext = os.path.splitext(path)[1].lower()
    if not os.path.isfile(path):  # a FIFO or device would block the reader
        raise UnsupportedFormatError(
            f"{label}: is not a regular file, folder or ZIP archive. Choose the folder or ZIP file "
            "that holds your stems.",
            code="stems.unsupported_input",
            file=label,
            extension=ext,
        )
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise _cannot_open(label, exc) from exc
    if head in _ZIP_MAGICS:
        return "zip"
    if ext in READ_EXTENSIONS:
        return "audio"  # probe judges the contents and names what is wrong
    if ext == ".zip" or zipfile.is_zipfile(path):  # a ".zip" that is not one is a damaged ZIP
        return "zip"
    shown = f"a {ext} file" if ext else "a file without an extension"
    raise UnsupportedFormatError(
        f"{label}: is {shown}, not a folder, a ZIP archive or an audio file mixlab reads "
        f"({_READ_NAMES}). Choose the folder or ZIP file that holds your stems.",
        code="stems.unsupported_input",
        file=label,
        extension=ext,
    )


def _cannot_open(label: str, exc: OSError) -> InvalidAudioError:
    return InvalidAudioError(
        f"{label}: cannot be opened ({exc.strerror or exc}). Check that the file is readable.",
        code="stems.cannot_open",
        file=label,
    )


def _make_tempdir(workdir: str | os.PathLike[str] | None) -> str:
    parent = None if workdir is None else os.fspath(workdir)
    try:
        return tempfile.mkdtemp(prefix="mixlab-stems-", dir=parent)  # mode 0700: private
    except OSError as exc:
        raise InvalidParameterError(
            f"cannot create a temporary folder in {parent or tempfile.gettempdir()} ({exc.strerror or exc})",
            code="parameter.bad_workdir",
        ) from exc


def _remove_tree(path: str) -> None:
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except OSError:
        logger.warning("could not remove temporary folder %s", path, exc_info=True)


# --------------------------------------------------------------------------------------------
# finding and checking stems


def _scan_folder(root: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``([(source, path)], ignored)`` for the files under ``root``, recursively."""
    root = os.path.abspath(root)
    files: list[tuple[str, str]] = []
    ignored: list[tuple[str, str]] = []

    def unreadable(exc: OSError) -> None:
        where = os.path.relpath(exc.filename, root) if exc.filename else "?"
        ignored.append((_display(where.replace(os.sep, "/")) + "/", f"folder cannot be read ({exc.strerror or exc})"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        rel = os.path.relpath(dirpath, root)
        base_parts = [] if rel == os.curdir else [_display(p) for p in rel.split(os.sep)]
        keep = []
        for d in sorted(dirnames):
            parts = [*base_parts, d]
            if os.path.islink(os.path.join(dirpath, d)):
                ignored.append(("/".join(parts) + "/", "link to a folder, not followed"))
                continue
            skip = _junk_folder(parts)
            if skip is not None:
                ignored.append(skip)
                continue
            keep.append(d)
        dirnames[:] = keep
        for f in filenames:
            full = os.path.join(dirpath, f)
            parts = [*base_parts, _display(f)]
            source = "/".join(parts)
            skip = _skip_reason(parts, "folder")
            if skip is not None:
                ignored.append(skip)
            elif not os.path.isfile(full):  # a FIFO or device would block the reader
                ignored.append((source, "not a regular file"))
            else:
                files.append((source, full))
    return files, ignored


def _unique_names(sources: list[str]) -> list[tuple[str, str]]:
    """``(name, file_name)`` per source: the base name, made unique ignoring case.

    Names that occur once are kept as they are, so a real "Kick In (2).wav" keeps its name
    and a duplicate "Kick In" becomes "Kick In (3)".
    """
    split = []
    for source in sources:
        base = source.rsplit("/", 1)[-1]
        stem, ext = os.path.splitext(base)
        split.append((stem or base, ext if stem else ""))
    counts = collections.Counter(stem.casefold() for stem, _ in split)
    used = {key for key, n in counts.items() if n == 1}
    out = []
    for stem, ext in split:
        name = stem
        if counts[stem.casefold()] > 1:
            k = 1
            while name.casefold() in used:
                k += 1
                name = f"{stem} ({k})"
            used.add(name.casefold())
        out.append((name, name + ext))
    return out


def _probe_stems(files: list[tuple[str, str]], label: str, max_duration_s: float | None) -> list[Stem]:
    files = sorted(files, key=lambda item: (_natural_key(item[0]), item[0]))
    names = _unique_names([source for source, _ in files])
    stems: list[Stem] = []
    problems: list[tuple[str, MixlabError]] = []
    for (source, file_path), (name, file_name) in zip(files, names):
        try:
            info = probe(file_path, max_duration_s=max_duration_s, name=source)
        except (InvalidAudioError, UnsupportedFormatError) as exc:
            problems.append((source, exc))
            continue
        stems.append(Stem(name=name, file_name=file_name, source=source, path=Path(file_path), info=info))
    if not problems:
        return stems
    listed = [{"file": source, "code": exc.code, "message": exc.message} for source, exc in problems]
    if len(problems) == 1:
        exc = problems[0][1]
        exc.details["problems"] = listed
        raise exc
    lines = "\n".join(f"- {exc.message}" for _, exc in problems)
    raise InvalidAudioError(
        f"{label}: {len(problems)} of the {len(files)} stems cannot be used:\n{lines}\n"
        "Export these files again (or remove them) and try again.",
        code="stems.unreadable",
        file=label,
        problems=listed,
    )


# --------------------------------------------------------------------------------------------
# ZIP archives


def _entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's name, decoded as UTF-8 when the archive forgot to say so.

    Without the UTF-8 flag zipfile decodes names as CP437, but macOS and most tools write
    UTF-8 without setting it; if the bytes are valid UTF-8 they almost surely are UTF-8.
    """
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _zip_corrupt(label: str, entry: str | None, reason: object) -> InvalidAudioError:
    where = f" at {entry}" if entry else ""
    details: dict[str, Any] = {"file": label, "reason": str(reason)}
    if entry:
        details["entry"] = entry
    return InvalidAudioError(
        f"{label}: the ZIP archive is damaged{where} ({reason}). The download or upload was "
        "probably interrupted; zip the stems again or download the archive again.",
        code="stems.zip_corrupt",
        **details,
    )


def _zip_bomb(label: str, entry: str, unpacked: int, packed: int,
              max_ratio: int = MAX_COMPRESSION_RATIO) -> InvalidAudioError:
    ratio = unpacked / max(packed, 1)
    return InvalidAudioError(
        f"{label}: {entry} would unpack to {ratio:.0f} times its packed size ({_fmt_bytes(unpacked)} "
        f"from {_fmt_bytes(packed)}), which real audio never does: the archive is damaged or was "
        "built to fill the disk. Zip the stems again with your system's standard 'Compress' command.",
        code="stems.zip_bomb",
        file=label,
        entry=entry,
        unpacked_bytes=unpacked,
        packed_bytes=packed,
        max_ratio=max_ratio,
    )


def _zip_too_large(label: str, num_bytes: int, max_total_bytes: int, *, declared: bool) -> InvalidAudioError:
    if declared:
        what = f"would unpack to {_fmt_bytes(num_bytes)} of audio; the limit is {_fmt_bytes(max_total_bytes)}"
        advice = "Upload fewer or shorter stems, or export them as FLAC, which is about half the size."
    else:
        what = (
            f"unpacks to more than the {_fmt_bytes(max_total_bytes)} limit, more than its own table "
            "of contents declares: the archive is damaged or was built to fill the disk"
        )
        advice = "Zip the stems again with your system's standard 'Compress' command."
    return InvalidAudioError(
        f"{label}: the ZIP archive {what}. {advice}",
        code="stems.zip_too_large",
        file=label,
        total_bytes=num_bytes,
        max_total_bytes=max_total_bytes,
    )


def _unpack_zip(
    zip_path: str, label: str, tempdir: str, *, max_stems: int, max_total_bytes: int,
    max_ratio: int = MAX_COMPRESSION_RATIO,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Check the archive, then unpack its audio files into ``tempdir``.

    Returns ``([(source, unpacked path)], ignored)``. Everything that can be judged from the
    table of contents (count, encryption, methods, sizes, ratios) is checked before the first
    byte is written.
    """
    try:
        fh = open(zip_path, "rb")
        archive_bytes = os.fstat(fh.fileno()).st_size
    except OSError as exc:
        raise _cannot_open(label, exc) from exc
    with fh:
        try:
            zf = zipfile.ZipFile(fh)
        except _ZIP_READ_ERRORS as exc:  # after a successful open, any error means bad data
            raise _zip_corrupt(label, None, exc) from exc
        with zf:
            return _unpack_open_zip(
                zf, archive_bytes, label, tempdir, max_stems=max_stems, max_total_bytes=max_total_bytes,
                max_ratio=max_ratio,
            )


def _unpack_open_zip(
    zf: zipfile.ZipFile, archive_bytes: int, label: str, tempdir: str, *, max_stems: int, max_total_bytes: int,
    max_ratio: int,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """:func:`_unpack_zip` once the archive's table of contents is read; ``max_ratio`` bounds
    the whole archive's unpacked size per packed byte."""
    ignored: list[tuple[str, str]] = []
    reported: set[str] = set()
    entries: list[tuple[zipfile.ZipInfo, str]] = []
    for info in zf.infolist():
        if info.is_dir():
            continue
        parts = _clean_parts(_entry_name(info))
        if not parts:
            continue  # a name made only of "..", "/" and the like: nothing to show or use
        source = "/".join(parts)
        skip: tuple[str, str] | None
        if _is_symlink(info):
            skip = (source, "symbolic link, not followed")
        else:
            skip = _skip_reason(parts, "ZIP archive")
        if skip is not None:
            if skip[0] not in reported:
                reported.add(skip[0])
                ignored.append(skip)
            continue
        entries.append((info, source))

    for info, source in entries:
        if info.flag_bits & 0x1:
            raise InvalidAudioError(
                f"{label}: the ZIP archive is password-protected ({source} is encrypted), and "
                "mixlab cannot open protected archives. Zip the stems again without a password.",
                code="stems.zip_encrypted",
                file=label,
                entry=source,
            )
    _check_count(len(entries), label, max_stems, ignored)
    for info, source in entries:
        if info.compress_type not in _ZIP_METHODS:
            method = _ZIP_METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
            raise UnsupportedFormatError(
                f"{label}: {source} is packed with {method}, a compression method mixlab cannot "
                "unpack. Zip the stems again with the standard (Deflate) method, e.g. your "
                "system's own 'Compress' command.",
                code="stems.zip_unsupported",
                file=label,
                entry=source,
                method=info.compress_type,
            )
    declared = sum(info.file_size for info, _ in entries)
    if declared > max_total_bytes:
        raise _zip_too_large(label, declared, max_total_bytes, declared=True)
    for info, source in entries:
        if info.file_size > _RATIO_FLOOR_BYTES and info.file_size > MAX_COMPRESSION_RATIO * info.compress_size:
            raise _zip_bomb(label, source, info.file_size, info.compress_size)
    # Entries can share compressed data (overlapping-entry bombs): judge the whole archive too.
    # Each entry is held to its declared size while unpacking, so this holds for what is written.
    if declared > _RATIO_FLOOR_BYTES and declared > max_ratio * archive_bytes:
        raise _zip_bomb(label, "the archive", declared, archive_bytes, max_ratio)

    # Names are made up, so no entry name can reach outside tempdir.
    files: list[tuple[str, str]] = []
    total = 0
    for number, (info, source) in enumerate(entries, start=1):
        ext = os.path.splitext(source)[1].lower()
        dest = os.path.join(tempdir, f"{number:04d}{ext}")
        total = _extract_entry(zf, info, source, dest, label, total=total, max_total_bytes=max_total_bytes)
        files.append((source, dest))
    return files, ignored


def _extract_entry(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    source: str,
    dest: str,
    label: str,
    *,
    total: int,
    max_total_bytes: int,
) -> int:
    """Stream one entry to ``dest``; return ``total`` plus the bytes written.

    The bytes are counted as they come, against ``max_total_bytes`` and the entry's declared
    size: the sizes checked beforehand come from the archive and could be lies.
    """
    try:
        src = zf.open(info)
    except NotImplementedError as exc:  # pragma: no cover - methods are checked beforehand
        raise UnsupportedFormatError(
            f"{label}: {source} is packed in a way mixlab cannot unpack ({exc}). Zip the stems again.",
            code="stems.zip_unsupported",
            file=label,
            entry=source,
        ) from exc
    except _ZIP_READ_ERRORS as exc:
        raise _zip_corrupt(label, source, exc) from exc
    with src:
        try:
            out = open(dest, "xb")
        except OSError as exc:
            raise _extract_failed(label, exc) from exc
        with out:
            written = 0
            while True:
                try:
                    chunk = src.read(_COPY_CHUNK_BYTES)
                except _ZIP_READ_ERRORS as exc:
                    raise _zip_corrupt(label, source, exc) from exc
                if not chunk:
                    break
                written += len(chunk)
                if total + written > max_total_bytes:
                    raise _zip_too_large(label, total + written, max_total_bytes, declared=False)
                if written > info.file_size:
                    raise _zip_corrupt(label, source, "it holds more data than the archive declares")
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise _extract_failed(label, exc) from exc
    if written != info.file_size:
        raise _zip_corrupt(label, source, "it holds less data than the archive declares")
    return total + written


def _extract_failed(label: str, exc: OSError) -> ProcessingError:
    return ProcessingError(
        f"{label}: could not unpack the ZIP archive ({exc.strerror or exc}). Check that the server "
        "or your computer has enough free disk space, then try again.",
        code="stems.extract_failed",
        file=label,
        reason=str(exc.strerror or exc),
    )


# --------------------------------------------------------------------------------------------
# streaming


def _resampled(pieces: Iterator[np.ndarray], resampler: StreamResampler) -> Iterator[np.ndarray]:
    try:
        for piece in pieces:
            out = resampler.process(piece)
            if out.shape[1]:
                yield out
        out = resampler.flush()
        if out.shape[1]:
            yield out
    finally:
        _close_iter(pieces)


def _close_iter(it: Iterator[np.ndarray]) -> None:
    close = getattr(it, "close", None)
    if close is not None:
        close()


def _fixed_blocks(
    pieces: Iterator[np.ndarray], num_channels: int, block_size: int, total: int
) -> Iterator[np.ndarray]:
    """Re-cut ``pieces`` into blocks of ``block_size`` (the last shorter), exactly ``total``
    frames: extra frames are dropped, missing ones are zeros at the end."""
    pending: collections.deque[np.ndarray] = collections.deque()
    have = 0  # frames in pending
    emitted = 0

    def take(n: int) -> np.ndarray:
        nonlocal have
        first = pending[0]
        if first.shape[1] == n:
            pending.popleft()
            have -= n
            return np.ascontiguousarray(first, dtype=np.float32)
        out = np.zeros((num_channels, n), np.float32)
        pos = 0
        while pos < n and pending:
            p = pending[0]
            m = min(p.shape[1], n - pos)
            out[:, pos : pos + m] = p[:, :m]
            if m == p.shape[1]:
                pending.popleft()
            else:
                pending[0] = p[:, m:]
            pos += m
            have -= m
        return out

    try:
        for piece in pieces:
            room = total - emitted - have
            if room <= 0:
                break
            if piece.shape[1] > room:
                piece = piece[:, :room]
            if piece.shape[1] == 0:
                continue
            pending.append(piece)
            have += piece.shape[1]
            while have >= block_size:
                yield take(block_size)
                emitted += block_size
    finally:
        _close_iter(pieces)
    while emitted < total:
        n = min(block_size, total - emitted)
        yield take(n) if have >= n else _padded(take(have) if have else None, num_channels, n)
        emitted += n


def _padded(head: np.ndarray | None, num_channels: int, n: int) -> np.ndarray:
    out = np.zeros((num_channels, n), np.float32)
    if head is not None:
        out[:, : head.shape[1]] = head
    return out
