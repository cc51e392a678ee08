"""Tests for :func:`mixlab.audio.stems.extract_zip` and :func:`stem_file_name` (the service's
way to keep a ZIP's stems), in src/mixlab/audio/stems.py."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixlab.audio.stems import extract_zip, open_stems, stem_file_name
from mixlab.errors import InvalidAudioError
from tests.fixtures.signals import sine


def _wav() -> bytes:
    buf = io.BytesIO()
    sf.write(buf, sine(48000, 0.1, frequency_hz=440.0, level_db=-12.0, num_channels=1).T, 48000, format="WAV",
             subtype="FLOAT")
    return buf.getvalue()


def _zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


def _refused(archive: Path, tmp_path: Path, code: str, **kwargs) -> InvalidAudioError:
    """Unpack ``archive`` into an empty folder: it must be refused with ``code``, naming the
    archive, and leave the folder empty."""
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InvalidAudioError) as info:
        extract_zip(archive, out, **kwargs)
    assert info.value.code == code
    assert kwargs.get("name", archive.name) in info.value.message
    assert list(out.iterdir()) == []
    return info.value


def test_extracts_audio_in_natural_order_and_reports_the_rest(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "s.zip", [("Song/10 Pad.wav", _wav()), ("Song/2 Kick.wav", _wav()),
                                        ("Song/readme.txt", b"hi"), ("__MACOSX/Song/._2 Kick.wav", b"x")])
    out = tmp_path / "out"
    out.mkdir()
    files, ignored = extract_zip(archive, out)
    assert [source for source, _ in files] == ["Song/2 Kick.wav", "Song/10 Pad.wav"]
    assert all(p.parent == out and p.is_file() for _, p in files)
    assert {s for s, _ in ignored} == {"Song/readme.txt", "__MACOSX/"}


@pytest.mark.parametrize("name", ["../evil.wav", "/etc/evil.wav", "C:/evil.wav", "a/../../evil.wav", "..\\evil.wav"])
def test_entries_outside_the_archive_refuse_it_whole(tmp_path: Path, name: str) -> None:
    archive = _zip(tmp_path / "s.zip", [("Kick.wav", _wav()), (name, _wav())])
    _refused(archive, tmp_path, "stems.zip_unsafe")
    # open_stems keeps its own, lenient behaviour (names flattened, nothing written outside).
    with open_stems(archive, workdir=tmp_path) as session:
        assert len(session.stems) == 2


def test_symlink_entry_refuses_the_archive(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("Snare.wav")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = _zip(tmp_path / "s.zip", [("Kick.wav", _wav()), (link, b"/etc/passwd")])
    _refused(archive, tmp_path, "stems.zip_unsafe", name="upload.zip")


def test_failure_while_unpacking_removes_what_was_written(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "s.zip", [("a.wav", _wav()), ("b.wav", bytes(3 * 2**20))])
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(InvalidAudioError) as info:
        extract_zip(archive, out, max_total_bytes=2 * 2**20)
    assert info.value.code == "stems.zip_too_large"
    assert [p.name for p in out.iterdir()] == ["keep.txt"]  # only what was there before


def test_damaged_archive_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "s.zip"
    bad.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InvalidAudioError) as info:
        extract_zip(bad, out)
    assert info.value.code == "stems.zip_corrupt"


@pytest.mark.parametrize(("source", "name", "skipped"), [
    ("Drums/Kick In.wav", "Kick In.wav", False),
    ("C:\\Users\\me\\Vox.flac", "Vox.flac", False),
    ("Bass\x07.wav", "Bass?.wav", False),
    ("notes.txt", "notes.txt", True),
    (".hidden.wav", ".hidden.wav", True),
    ("._Kick.wav", "._Kick.wav", True),
    ("inner.zip", "inner.zip", True),
])
def test_stem_file_name(source: str, name: str, skipped: bool) -> None:
    got, why = stem_file_name(source)
    assert got == name and (why is not None) == skipped


def test_deflated_silence_of_many_megabytes_is_refused_as_a_bomb(tmp_path: Path) -> None:
    """Regression: per entry the loose 2000:1 limit let a 64 kB archive unpack to 64 MB (a
    261 kB upload became a 256 MB track); the archive as a whole is held to 32:1."""
    archive = _zip(tmp_path / "bomb.zip", [("Kick.wav", bytes(64 * 2**20))])
    assert archive.stat().st_size < 2**20
    assert _refused(archive, tmp_path, "stems.zip_bomb", name="upload.zip").details["max_ratio"] == 32


def test_a_silent_stem_among_real_ones_is_kept(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).standard_normal((48000 * 6, 2)).astype(np.float32) * 0.1
    buf = io.BytesIO()
    sf.write(buf, noise, 48000, format="WAV", subtype="FLOAT")
    silent = io.BytesIO()
    sf.write(silent, np.zeros_like(noise), 48000, format="WAV", subtype="FLOAT")
    archive = _zip(tmp_path / "s.zip", [("Synth.wav", buf.getvalue()), ("Muted.wav", silent.getvalue())])
    out = tmp_path / "out"
    out.mkdir()
    files, _ignored = extract_zip(archive, out)
    assert [s for s, _ in files] == ["Muted.wav", "Synth.wav"]


def test_an_entry_larger_than_it_declares_is_stopped_while_unpacking(tmp_path: Path) -> None:
    """Declared sizes can lie: the sizes in both headers say 1000 bytes, the data is 3 MB."""
    archive = _zip(tmp_path / "liar.zip", [("Kick.wav", bytes(3 * 2**20))])
    data = bytearray(archive.read_bytes())
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 1000)
    struct.pack_into("<I", data, central + 24, 1000)
    archive.write_bytes(bytes(data))
    _refused(archive, tmp_path, "stems.zip_corrupt", name="liar.zip")
