"""Tests for :func:`mixlab.audio.stems.extract_zip` and :func:`stem_file_name` (the service's
way to keep a ZIP's stems), in src/mixlab/audio/stems.py."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

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
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InvalidAudioError, match="s.zip") as info:
        extract_zip(archive, out)
    assert info.value.code == "stems.zip_unsafe"
    assert list(out.iterdir()) == []
    # open_stems keeps its own, lenient behaviour (names flattened, nothing written outside).
    with open_stems(archive, workdir=tmp_path) as session:
        assert len(session.stems) == 2


def test_symlink_entry_refuses_the_archive(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("Snare.wav")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = _zip(tmp_path / "s.zip", [("Kick.wav", _wav()), (link, b"/etc/passwd")])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InvalidAudioError) as info:
        extract_zip(archive, out, name="upload.zip")
    assert info.value.code == "stems.zip_unsafe" and "upload.zip" in info.value.message
    assert list(out.iterdir()) == []


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
