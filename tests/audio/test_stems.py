"""Tests for a multitrack session's input (src/mixlab/audio/stems.py).

All audio is synthesised here, in tmp_path, and kept short (a fraction of a second) so the
suite stays fast. Hostile ZIP archives are built byte by byte where zipfile will not write
them.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixlab.audio import stems as stems_module
from mixlab.audio.stems import Conversion, StemSession, open_stems
from mixlab.errors import InvalidAudioError, InvalidParameterError, ProcessingError, UnsupportedFormatError
from tests.fixtures.signals import sine


# ---------------------------------------------------------------------------------------------
# helpers


def _write(path: Path, x: np.ndarray, sample_rate: int, subtype: str = "FLOAT") -> Path:
    """Write ``float32 (channels, n)`` to ``path`` (folders created); FLOAT keeps it exact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x.T, sample_rate, subtype=subtype)
    return path


def _wav_bytes(x: np.ndarray, sample_rate: int, subtype: str = "FLOAT") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x.T, sample_rate, subtype=subtype, format="WAV")
    return buf.getvalue()


def _tone(sample_rate: int = 48000, duration_s: float = 0.1, num_channels: int = 1) -> np.ndarray:
    return sine(sample_rate, duration_s, frequency_hz=440.0, level_db=-12.0, num_channels=num_channels)


def _zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]], *, method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


def _concat(session: StemSession, index: int, block_size: int = 65536) -> np.ndarray:
    return np.concatenate(list(session.blocks(index, block_size=block_size)), axis=1)


def _leftovers(folder: Path) -> list[str]:
    """Everything below ``folder`` (files and folders), relative."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _patch_headers(data: bytes, *, flag_or: int = 0, method: int | None = None, file_size: int | None = None,
                   crc: int | None = None) -> bytes:
    """Rewrite fields of every local header and central directory record of a ZIP.

    Offsets from APPNOTE.TXT 4.3.7 (local file header) and 4.3.12 (central directory).
    """
    buf = bytearray(data)
    for sig, flag_at, method_at, crc_at, usize_at in (
        (b"PK\x03\x04", 6, 8, 14, 22),
        (b"PK\x01\x02", 8, 10, 16, 24),
    ):
        pos = buf.find(sig)
        while pos >= 0:
            (flags,) = struct.unpack_from("<H", buf, pos + flag_at)
            struct.pack_into("<H", buf, pos + flag_at, flags | flag_or)
            if method is not None:
                struct.pack_into("<H", buf, pos + method_at, method)
            if crc is not None:
                struct.pack_into("<I", buf, pos + crc_at, crc)
            if file_size is not None:
                struct.pack_into("<I", buf, pos + usize_at, file_size)
            pos = buf.find(sig, pos + 4)
    return bytes(buf)


def _assert_code(info: pytest.ExceptionInfo, cls: type, code: str, *names: str) -> None:
    assert isinstance(info.value, cls)
    assert info.value.code == code
    for name in names:
        assert name in info.value.message


# ---------------------------------------------------------------------------------------------
# a folder of stems: rate, conversions, lengths, padding


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    """Two stems at 48 kHz (mono and stereo), one stereo stem at 44.1 kHz, of different lengths."""
    folder = tmp_path / "Song"
    _write(folder / "Kick.wav", _tone(48000, 0.25, 1), 48000)
    _write(folder / "Bass.wav", _tone(48000, 0.15, 2), 48000)
    _write(folder / "Pad.flac", _tone(44100, 0.2, 2), 44100, subtype="PCM_24")
    return folder


def test_folder_session_rate_conversions_and_lengths(mixed_folder: Path) -> None:
    """Most common rate wins (48 kHz, two stems); the 44.1 kHz stem is reported as resampled;
    every stem streams exactly num_frames = the longest stem (0.25 s at 48 kHz = 12000)."""
    with open_stems(mixed_folder) as session:
        assert [s.name for s in session.stems] == ["Bass", "Kick", "Pad"]
        assert [s.file_name for s in session.stems] == ["Bass.wav", "Kick.wav", "Pad.flac"]
        assert [s.source for s in session.stems] == ["Bass.wav", "Kick.wav", "Pad.flac"]
        assert [s.info.num_channels for s in session.stems] == [2, 1, 2]
        assert session.sample_rate == 48000
        assert session.conversions == [Conversion("Pad", 44100, 48000)]
        assert session.num_frames == 12000
        assert session.duration_s == pytest.approx(0.25, abs=1e-12)
        assert session.ignored == []
        # Pad: round(0.2 s * 44100 * 48000 / 44100) = 9600 frames of real audio.
        assert [session.stem_num_frames(i) for i in range(3)] == [7200, 12000, 9600]
        for i, stem in enumerate(session.stems):
            blocks = list(session.blocks(i, block_size=1000))
            assert all(b.dtype == np.float32 and b.flags.c_contiguous for b in blocks)
            assert all(b.shape[0] == stem.info.num_channels for b in blocks)
            # Aligned blocks: every block but the last has exactly block_size frames.
            assert [b.shape[1] for b in blocks] == [1000] * 12
            assert sum(b.shape[1] for b in blocks) == session.num_frames


def test_shorter_stem_is_zero_padded_and_otherwise_exact(mixed_folder: Path) -> None:
    """A stem at the session rate streams its samples unchanged (32-bit float WAV), then zeros."""
    original = _tone(48000, 0.15, 2)
    with open_stems(mixed_folder) as session:
        y = _concat(session, 0, block_size=4096)
    assert y.shape == (2, 12000)
    np.testing.assert_array_equal(y[:, :7200], original)
    np.testing.assert_array_equal(y[:, 7200:], 0.0)


@pytest.mark.parametrize(("native_rate", "session_rate"), [(44100, 48000), (48000, 44100), (96000, 48000)])
def test_resampled_sine_keeps_frequency_and_level(tmp_path: Path, native_rate: int, session_rate: int) -> None:
    """A 1 kHz sine at -6 dBFS peak comes out at 1 kHz and -6 dBFS at the session rate.

    Known answer from an FFT of 0.2 s in the middle (away from the filter edges) with a Hann
    window: 1 kHz falls exactly on bin 200 (5 Hz bins), so the peak is that bin and its
    height * 2 / sum(window) is the peak amplitude. Tolerance 0.02 dB: soxr VHQ passband
    ripple is far below that, and the 32-bit float source adds no quantisation.
    """
    folder = tmp_path / "s"
    x = sine(native_rate, 0.5, frequency_hz=1000.0, level_db=-6.0, num_channels=2)
    _write(folder / "Tone.wav", x, native_rate)
    with open_stems(folder, sample_rate=session_rate) as session:
        assert session.conversions == [Conversion("Tone", native_rate, session_rate)]
        assert session.num_frames == round(0.5 * session_rate)
        y = _concat(session, 0, block_size=3000)
    assert y.shape == (2, session.num_frames)
    n = round(0.2 * session_rate)
    start = (y.shape[1] - n) // 2
    window = np.hanning(n + 1)[:-1]  # periodic Hann: exact amplitude on a bin centre
    for channel in y:
        spectrum = np.abs(np.fft.rfft(channel[start : start + n] * window))
        freqs = np.fft.rfftfreq(n, 1.0 / session_rate)
        peak = int(np.argmax(spectrum))
        assert freqs[peak] == pytest.approx(1000.0, abs=1e-9)
        level_db = 20 * np.log10(spectrum[peak] * 2 / window.sum())
        assert level_db == pytest.approx(-6.0, abs=0.02)


def test_resampled_stream_does_not_depend_on_block_size(mixed_folder: Path) -> None:
    """Chunked resampling equals itself whatever the block size (float32 round-off)."""
    with open_stems(mixed_folder) as session:
        a = _concat(session, 2, block_size=777)
        b = _concat(session, 2, block_size=65536)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_rate_ties_go_to_the_higher_rate_and_argument_wins(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    _write(folder / "a.wav", _tone(44100), 44100)
    _write(folder / "b.wav", _tone(48000), 48000)
    with open_stems(folder) as session:
        assert session.sample_rate == 48000
        assert session.conversions == [Conversion("a", 44100, 48000)]
    with open_stems(folder, sample_rate=96000) as session:
        assert session.sample_rate == 96000
        assert [c.stem for c in session.conversions] == ["a", "b"]
        assert session.num_frames == 9600
        assert _concat(session, 0).shape == (1, 9600)


def test_single_audio_file_is_a_one_stem_session(tmp_path: Path) -> None:
    path = _write(tmp_path / "Vocal Lead.wav", _tone(44100, 0.1, 2), 44100)
    with open_stems(path) as session:
        assert len(session) == 1
        stem = session.stems[0]
        assert (stem.name, stem.file_name, stem.source) == ("Vocal Lead", "Vocal Lead.wav", "Vocal Lead.wav")
        assert stem.path == path.resolve()
        assert session.sample_rate == 44100 and session.num_frames == 4410


# ---------------------------------------------------------------------------------------------
# order, names, skipped files


def test_natural_sort_of_relative_paths(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    for name in ["10 Pad.wav", "2 Snare.wav", "1 Kick.wav", "Drums/3 Tom.wav", "drums/20 Ride.wav", "b.wav", "A.wav"]:
        _write(folder / name, _tone(), 48000)
    with open_stems(folder) as session:
        assert [s.source for s in session.stems] == [
            "1 Kick.wav", "2 Snare.wav", "10 Pad.wav", "A.wav", "b.wav", "Drums/3 Tom.wav", "drums/20 Ride.wav",
        ]


def test_duplicate_names_are_made_unique(tmp_path: Path) -> None:
    """Same file name in two sub-folders: "Kick In" and "Kick In (3)", because a real
    "Kick In (2)" exists and keeps its name; case does not make names different."""
    folder = tmp_path / "s"
    _write(folder / "A" / "Kick In.wav", _tone(), 48000)
    _write(folder / "B" / "kick in.aiff", _tone(), 48000)
    _write(folder / "Kick In (2).wav", _tone(), 48000)
    with open_stems(folder) as session:
        got = [(s.source, s.name, s.file_name) for s in session.stems]
    assert got == [
        ("A/Kick In.wav", "Kick In", "Kick In.wav"),
        ("B/kick in.aiff", "kick in (3)", "kick in (3).aiff"),
        ("Kick In (2).wav", "Kick In (2)", "Kick In (2).wav"),
    ]


def test_non_audio_and_junk_files_are_ignored_and_reported(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    _write(folder / "Kick.wav", _tone(), 48000)
    (folder / "notes.txt").write_text("kick is too loud")
    (folder / "song.mid").write_bytes(b"MThd\x00\x00\x00\x06")
    (folder / "Project.als").write_bytes(b"\x1f\x8b")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / "._Kick.wav").write_bytes(b"\x00\x05\x16\x07")
    (folder / "old.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    _write(folder / ".hidden" / "x.wav", _tone(), 48000)
    _write(folder / "__MACOSX" / "._y.wav", _tone(), 48000)
    with open_stems(folder) as session:
        assert [s.source for s in session.stems] == ["Kick.wav"]
        ignored = dict(session.ignored)
    assert set(ignored) == {
        "notes.txt", "song.mid", "Project.als", ".DS_Store", "._Kick.wav", "old.zip", ".hidden/", "__MACOSX/",
    }
    assert "not an audio file" in ignored["notes.txt"]
    assert "AppleDouble" in ignored["._Kick.wav"]
    assert "hidden folder" in ignored[".hidden/"]
    assert "ZIP archive" in ignored["old.zip"]


def test_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    with pytest.raises(InvalidAudioError, match="contains no audio files") as info:
        open_stems(folder)
    _assert_code(info, InvalidAudioError, "stems.empty", "empty")


def test_folder_without_audio_names_what_it_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "readme.txt").write_text("hi")
    with pytest.raises(InvalidAudioError) as info:
        open_stems(folder)
    _assert_code(info, InvalidAudioError, "stems.empty", "readme.txt")
    assert info.value.details["ignored"][0]["file"] == "readme.txt"


def test_not_found_and_not_supported(tmp_path: Path) -> None:
    with pytest.raises(InvalidAudioError) as info:
        open_stems(tmp_path / "nowhere")
    _assert_code(info, InvalidAudioError, "stems.not_found", "nowhere")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UnsupportedFormatError) as info:
        open_stems(tmp_path / "notes.txt")
    _assert_code(info, UnsupportedFormatError, "stems.unsupported_input", "notes.txt")


def test_too_many_stems(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    for i in range(3):
        _write(folder / f"{i}.wav", _tone(), 48000)
    with pytest.raises(InvalidAudioError) as info:
        open_stems(folder, max_stems=2)
    _assert_code(info, InvalidAudioError, "stems.too_many", "3 audio files", "at most 2")


# ---------------------------------------------------------------------------------------------
# stems that cannot be used


def test_one_bad_stem_raises_probes_error_naming_its_source(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    _write(folder / "Kick.wav", _tone(), 48000)
    (folder / "Drums").mkdir()
    (folder / "Drums" / "Snare.wav").write_text("not audio at all")
    with pytest.raises(InvalidAudioError) as info:
        open_stems(folder)
    _assert_code(info, InvalidAudioError, "audio.unreadable", "Drums/Snare.wav")
    assert info.value.details["file"] == "Drums/Snare.wav"
    assert [p["file"] for p in info.value.details["problems"]] == ["Drums/Snare.wav"]


def test_all_bad_stems_are_reported_in_one_error(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    _write(folder / "Kick.wav", _tone(), 48000)
    (folder / "Snare.wav").write_text("not audio")
    cut = _wav_bytes(_tone(48000, 0.1, 2), 48000)
    (folder / "Sub").mkdir()
    (folder / "Sub" / "Bass.wav").write_bytes(cut[: len(cut) // 2])
    _write(folder / "Surround.wav", np.zeros((6, 100), np.float32), 48000)
    with pytest.raises(InvalidAudioError) as info:
        open_stems(folder)
    _assert_code(info, InvalidAudioError, "stems.unreadable", "Snare.wav", "Sub/Bass.wav", "Surround.wav", "3 of the 4")
    problems = {p["file"]: p["code"] for p in info.value.details["problems"]}
    assert problems == {
        "Snare.wav": "audio.unreadable",
        "Sub/Bass.wav": "audio.truncated",
        "Surround.wav": "audio.too_many_channels",
    }


def test_max_duration_applies_to_each_stem(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    _write(folder / "Long.wav", _tone(48000, 0.3), 48000)
    _write(folder / "Short.wav", _tone(48000, 0.1), 48000)
    with pytest.raises(InvalidAudioError) as info:
        open_stems(folder, max_duration_s=0.2)
    _assert_code(info, InvalidAudioError, "audio.too_long", "Long.wav")


# ---------------------------------------------------------------------------------------------
# ZIP archives: the happy path


def test_zip_session(tmp_path: Path) -> None:
    """Stems come from the archive, found by content (the file has no .zip name); junk is
    reported once per folder; the unpacked copies live in a private folder in workdir that
    close() removes; the archive itself is untouched."""
    kick = _tone(48000, 0.2, 1)
    bass = _tone(44100, 0.1, 2)
    archive = _zip(tmp_path / "stems-download", [
        ("Song/2 Kick.wav", _wav_bytes(kick, 48000)),
        ("Song/10 Bass.wav", _wav_bytes(bass, 44100)),
        ("Song/notes.txt", b"hello"),
        ("Song/.DS_Store", b"\x00"),
        ("__MACOSX/Song/._2 Kick.wav", b"\x00\x05\x16\x07"),
        ("__MACOSX/Song/._10 Bass.wav", b"\x00\x05\x16\x07"),
        ("Song/old takes.zip", b"PK\x05\x06" + bytes(18)),
    ])
    before = archive.read_bytes()
    workdir = tmp_path / "work"
    workdir.mkdir()
    with open_stems(archive, workdir=workdir) as session:
        assert [s.source for s in session.stems] == ["Song/2 Kick.wav", "Song/10 Bass.wav"]
        assert [s.name for s in session.stems] == ["2 Kick", "10 Bass"]
        assert session.conversions == [Conversion("10 Bass", 44100, 48000)]
        assert dict(session.ignored).keys() == {"Song/notes.txt", "Song/.DS_Store", "__MACOSX/", "Song/old takes.zip"}
        for stem in session.stems:
            assert stem.path.parent.parent == workdir
            assert stem.path.parent.stat().st_mode & 0o077 == 0  # private to this user
        np.testing.assert_array_equal(_concat(session, 0), kick)
        assert len(_leftovers(workdir)) == 3  # the folder and two stems
    assert _leftovers(workdir) == []
    assert session.is_closed
    assert archive.read_bytes() == before
    with pytest.raises(ProcessingError) as info:
        session.blocks(0)
    assert info.value.code == "stems.closed"


def test_zip_temp_folder_is_removed_when_the_session_is_dropped(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "s.zip", [("Kick.wav", _wav_bytes(_tone(), 48000))])
    workdir = tmp_path / "work"
    workdir.mkdir()
    session = open_stems(archive, workdir=workdir)
    assert _leftovers(workdir) != []
    del session
    assert _leftovers(workdir) == []


def test_zip_utf8_names_without_the_utf8_flag(tmp_path: Path) -> None:
    """macOS writes UTF-8 names without setting the UTF-8 flag; zipfile would show CP437."""
    data = bytearray(_zip(tmp_path / "a.zip", [("CafXY.wav", _wav_bytes(_tone(), 48000))]).read_bytes())
    raw = "Café.wav".encode("utf-8")
    assert len(raw) == len(b"CafXY.wav")
    archive = tmp_path / "b.zip"
    archive.write_bytes(bytes(data).replace(b"CafXY.wav", raw))
    with open_stems(archive, workdir=tmp_path) as session:
        assert session.stems[0].name == "Café"


# ---------------------------------------------------------------------------------------------
# hostile ZIP archives: refused or defused, nothing left behind


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def test_zip_path_traversal_is_flattened(tmp_path: Path, workdir: Path) -> None:
    """Entries named ../, /absolute and C:\\ are unpacked inside the private folder under made-up
    names; nothing appears anywhere else."""
    data = _wav_bytes(_tone(), 48000)
    archive = _zip(tmp_path / "evil.zip", [
        ("../escape.wav", data),
        ("/etc/abs.wav", data),
        ("a/../../../up.wav", data),
        ("C:\\Windows\\win.wav", data),
    ])
    before = _leftovers(tmp_path)
    with open_stems(archive, workdir=workdir) as session:
        assert [s.source for s in session.stems] == ["a/up.wav", "escape.wav", "etc/abs.wav", "Windows/win.wav"]
        assert {s.name for s in session.stems} == {"escape", "abs", "up", "win"}
        folder = session.stems[0].path.parent
        for stem in session.stems:
            assert stem.path.parent == folder and folder.parent == workdir
        during = _leftovers(tmp_path)
    created = [folder, *(s.path for s in session.stems)]
    assert set(during) - set(before) == {str(p.relative_to(tmp_path)) for p in created}
    assert _leftovers(tmp_path) == before
    assert not (tmp_path / "escape.wav").exists() and not Path("/etc/abs.wav").exists()


def test_zip_symlink_entries_are_skipped(tmp_path: Path, workdir: Path) -> None:
    link = zipfile.ZipInfo("Snare.wav")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = _zip(tmp_path / "s.zip", [(link, b"/etc/passwd"), ("Kick.wav", _wav_bytes(_tone(), 48000))])
    with open_stems(archive, workdir=workdir) as session:
        assert [s.source for s in session.stems] == ["Kick.wav"]
        assert session.ignored == [("Snare.wav", "symbolic link, not followed")]
    only_link = _zip(tmp_path / "l.zip", [(link, b"/etc/passwd")])
    with pytest.raises(InvalidAudioError) as info:
        open_stems(only_link, workdir=workdir)
    _assert_code(info, InvalidAudioError, "stems.empty", "l.zip")
    assert _leftovers(workdir) == []


def test_zip_encrypted(tmp_path: Path, workdir: Path) -> None:
    plain = _zip(tmp_path / "p.zip", [("Kick.wav", _wav_bytes(_tone(), 48000))]).read_bytes()
    archive = tmp_path / "locked.zip"
    archive.write_bytes(_patch_headers(plain, flag_or=0x1))
    with pytest.raises(InvalidAudioError) as info:
        open_stems(archive, workdir=workdir)
    _assert_code(info, InvalidAudioError, "stems.zip_encrypted", "locked.zip", "password", "Kick.wav")
    assert _leftovers(workdir) == []


def test_zip_bomb_by_declared_size(tmp_path: Path, workdir: Path) -> None:
    """Refused from the table of contents, before anything is written."""
    silence = _wav_bytes(np.zeros((2, 48000), np.float32), 48000, subtype="PCM_16")  # 192 kB
    archive = _zip(tmp_path / "big.zip", [("a.wav", silence), ("b.wav", silence)])
    with pytest.raises(InvalidAudioError) as info:
        open_stems(archive, max_total_bytes=300_000, workdir=workdir)
    _assert_code(info, InvalidAudioError, "stems.zip_too_large", "big.zip", "375.1 kB", "293.0 kB")
    assert info.value.details["total_bytes"] == 2 * len(silence)
    assert _leftovers(workdir) == []


def test_zip_bomb_by_compression_ratio(tmp_path: Path, workdir: Path) -> None:
    """bzip2 packs 2 MB of digital silence into a few hundred bytes: far beyond what Deflate
    (and so any real stem archive) reaches."""
    silence = _wav_bytes(np.zeros((2, 262144), np.float32), 48000, subtype="PCM_32")  # 2 MiB
    archive = _zip(tmp_path / "bomb.zip", [("a.wav", silence)], method=zipfile.ZIP_BZIP2)
    with pytest.raises(InvalidAudioError) as info:
        open_stems(archive, workdir=workdir)
    _assert_code(info, InvalidAudioError, "stems.zip_bomb", "bomb.zip", "a.wav")
    assert _leftovers(workdir) == []


def test_zip_lying_header(tmp_path: Path, workdir: Path) -> None:
    """The table of contents declares 1000 bytes for an entry that inflates to 192 kB (and
    passes every size check). Only the declared bytes are read; they fail the CRC."""
    silence = _wav_bytes(np.zeros((2, 48000), np.float32), 48000, subtype="PCM_16")
    plain = _zip(tmp_path / "p.zip", [("a.wav", silence)]).read_bytes()
    archive = tmp_path / "liar.zip"
    archive.write_bytes(_patch_headers(plain, file_size=1000))
    with pytest.raises(InvalidAudioError) as info:
        open_stems(archive, max_total_bytes=2000, workdir=workdir)
    _assert_code(info, InvalidAudioError, "stems.zip_corrupt", "liar.zip", "a.wav")
    assert _leftovers(workdir) == []


def test_zip_lying_header_matching_crc_is_cut_at_the_declared_size(tmp_path: Path, workdir: Path) -> None:
    """Same lie with the CRC of the first 1000 bytes: the unpacked copy stops there, so the
    WAV is cut short (its header announces 192 kB) and probe says so."""
    silence = _wav_bytes(np.zeros((2, 48000), np.float32), 48000, subtype="PCM_16")
    plain = _zip(tmp_path / "p.zip", [("a.wav", silence)]).read_bytes()
    archive = tmp_path / "liar.zip"
    archive.write_bytes(_patch_headers(plain, file_size=1000, crc=zlib.crc32(silence[:1000])))
    with pytest.raises(InvalidAudioError) as info:
        open_stems(archive, max_total_bytes=2000, workdir=workdir)
    _assert_code(info, InvalidAudioError, "audio.truncated", "a.wav")
    assert _leftovers(workdir) == []


class _Gusher(io.RawIOBase):
    """An entry stream that yields far more than its entry declares (as a lying archive would
    if the zip reader trusted the data rather than the table of contents)."""

    def __init__(self, total: int) -> None:
        self.left = total

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return bytes(n)


@pytest.mark.parametrize(("max_total_bytes", "code"), [(100_000, "stems.zip_too_large"), (10**9, "stems.zip_corrupt")])
def test_zip_bytes_are_counted_while_unpacking(
    tmp_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch, max_total_bytes: int, code: str
) -> None:
    """Defence in depth: the copy stops at max_total_bytes, or at the entry's declared size."""
    archive = _zip(tmp_path / "s.zip", [("a.wav", _wav_bytes(_tone(), 48000))])
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, *a, **k: _Gusher(3 * 2**20))
    with pytest.raises(InvalidAudioError) as info:
        open_stems(archive, max_total_bytes=max_total_bytes, workdir=workdir)
    _assert_code(info, InvalidAudioError, code, "s.zip")
    assert _leftovers(workdir) == []


@pytest.mark.parametrize("damage", ["cut", "crc", "garbage"])
def test_zip_corrupt(tmp_path: Path, workdir: Path, damage: str) -> None:
    data = _wav_bytes(_tone(), 48000)
    plain = _zip(tmp_path / "p.zip", [("Kick.wav", data)], method=zipfile.ZIP_STORED).read_bytes()
    if damage == "cut":
        bad = plain[: len(plain) // 2]
    elif damage == "crc":
        at = plain.index(data) + len(data) // 2  # stored: the WAV bytes are in the archive as-is
        bad = plain[:at] + bytes([plain[at] ^ 0xFF]) + plain[at + 1 :]
    else:
        bad = b"this is not a zip file at all"
    archive = tmp_path / "broken.zip"
    archive.write_bytes(bad)
    with pytest.raises(InvalidAudioError) as info:
        open_stems(archive, workdir=workdir)
    _assert_code(info, InvalidAudioError, "stems.zip_corrupt", "broken.zip", "damaged")
    if damage == "crc":
        assert info.value.details["entry"] == "Kick.wav"
    assert _leftovers(workdir) == []


def test_zip_unknown_compression_method(tmp_path: Path, workdir: Path) -> None:
    plain = _zip(tmp_path / "p.zip", [("Kick.wav", _wav_bytes(_tone(), 48000))]).read_bytes()
    archive = tmp_path / "d64.zip"
    archive.write_bytes(_patch_headers(plain, method=9))
    with pytest.raises(UnsupportedFormatError) as info:
        open_stems(archive, workdir=workdir)
    _assert_code(info, UnsupportedFormatError, "stems.zip_unsupported", "Deflate64", "Kick.wav")
    assert _leftovers(workdir) == []


def test_zip_with_bad_stems_leaves_nothing_behind(tmp_path: Path, workdir: Path) -> None:
    archive = _zip(tmp_path / "s.zip", [("Kick.wav", b"RIFF junk"), ("Snare.wav", b"more junk")])
    with pytest.raises(InvalidAudioError) as info:
        open_stems(archive, workdir=workdir)
    _assert_code(info, InvalidAudioError, "stems.unreadable", "Kick.wav", "Snare.wav")
    assert _leftovers(workdir) == []


def test_empty_zip_and_too_many_in_zip(tmp_path: Path, workdir: Path) -> None:
    with pytest.raises(InvalidAudioError) as info:
        open_stems(_zip(tmp_path / "e.zip", []), workdir=workdir)
    _assert_code(info, InvalidAudioError, "stems.empty", "e.zip")
    data = _wav_bytes(_tone(), 48000)
    with pytest.raises(InvalidAudioError) as info:
        open_stems(_zip(tmp_path / "m.zip", [("a.wav", data), ("b.wav", data)]), max_stems=1, workdir=workdir)
    _assert_code(info, InvalidAudioError, "stems.too_many", "m.zip")
    assert _leftovers(workdir) == []


def test_zip_uses_the_system_temp_folder_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = _zip(tmp_path / "s.zip", [("Kick.wav", _wav_bytes(_tone(), 48000))])
    temp = tmp_path / "systemp"
    temp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    with open_stems(archive) as session:
        assert session.stems[0].path.parent.parent == temp
    assert _leftovers(temp) == []


# ---------------------------------------------------------------------------------------------
# parameters


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"sample_rate": 1000}, "parameter.bad_sample_rate"),
        ({"sample_rate": 44100.0}, "parameter.bad_sample_rate"),
        ({"max_stems": 0}, "parameter.bad_max_stems"),
        ({"max_total_bytes": 0}, "parameter.bad_max_total_bytes"),
        ({"max_duration_s": -1.0}, "parameter.bad_max_duration"),
    ],
)
def test_bad_parameters(mixed_folder: Path, kwargs: dict, code: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        open_stems(mixed_folder, **kwargs)
    assert info.value.code == code


def test_bad_workdir(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "s.zip", [("Kick.wav", _wav_bytes(_tone(), 48000))])
    with pytest.raises(InvalidParameterError) as info:
        open_stems(archive, workdir=tmp_path / "missing")
    assert info.value.code == "parameter.bad_workdir"


def test_bad_block_arguments(mixed_folder: Path) -> None:
    with open_stems(mixed_folder) as session:
        for index in (3, -1, True):
            with pytest.raises(InvalidParameterError) as info:
                session.blocks(index)
            assert info.value.code == "parameter.bad_index"
        with pytest.raises(InvalidParameterError) as info:
            session.blocks(0, block_size=0)
        assert info.value.code == "parameter.bad_block_size"


def test_a_stem_changed_on_disk_is_refused(mixed_folder: Path) -> None:
    with open_stems(mixed_folder) as session:
        _write(mixed_folder / "Kick.wav", _tone(48000, 0.1, 1), 48000)
        with pytest.raises(InvalidAudioError) as info:
            session.blocks(1)
        _assert_code(info, InvalidAudioError, "stems.changed", "Kick.wav")


def test_max_compression_ratio_is_above_what_deflate_can_reach() -> None:
    """Deflate of digital silence, its best case, stays near 1030:1 (RFC 1951: a 258-byte match
    costs at least 2 bits), so real archives are never refused as bombs."""
    zeros = bytes(4 * 2**20)
    ratio = len(zeros) / len(zlib.compress(zeros, 9))
    assert ratio < 1100 < stems_module.MAX_COMPRESSION_RATIO


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_special_files_are_not_opened(tmp_path: Path) -> None:
    """A named pipe would block the reader forever: skipped in a folder, refused as the input."""
    folder = tmp_path / "s"
    _write(folder / "Kick.wav", _tone(), 48000)
    os.mkfifo(folder / "pipe.wav")
    with open_stems(folder) as session:
        assert [s.source for s in session.stems] == ["Kick.wav"]
        assert session.ignored == [("pipe.wav", "not a regular file")]
    with pytest.raises(UnsupportedFormatError) as info:
        open_stems(folder / "pipe.wav")
    assert info.value.code == "stems.unsupported_input"


def test_control_characters_in_file_names_are_shown_safely(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    _write(folder / "Kick\x1b[31m.wav", _tone(), 48000)
    with open_stems(folder) as session:
        assert session.stems[0].source == "Kick?[31m.wav"
        assert session.stems[0].path.name == "Kick\x1b[31m.wav"
