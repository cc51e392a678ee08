"""Every bad input to `mixlab master` gives a clear error naming the file, and leaves nothing behind."""

import numpy as np
import pytest
import soundfile as sf

from mixlab.cli.main import main

SR = 44100


def _tone(seconds=1.0, channels=2):
    t = np.arange(int(SR * seconds)) / SR
    return np.tile(0.3 * np.sin(2 * np.pi * 440 * t), (channels, 1)).T


def _missing(d):
    return d / "gone.wav"


def _empty(d):
    p = d / "empty.wav"
    p.write_bytes(b"")
    return p


def _truncated(d):
    p = d / "cut.wav"
    sf.write(p, _tone(2.0), SR, subtype="PCM_16")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    return p


def _text(d):
    p = d / "lyrics.wav"
    p.write_text("verse one\n" * 200)
    return p


def _unsupported(d):
    p = d / "song.m4a"
    p.write_bytes(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 200)
    return p


def _silent(d):
    p = d / "quiet.wav"
    sf.write(p, np.zeros((SR, 2)), SR)
    return p


def _nan(d):
    p = d / "broken.wav"
    x = _tone(1.0).astype(np.float32)
    x[SR // 2, 0] = np.nan
    sf.write(p, x, SR, subtype="FLOAT")
    return p


def _surround(d):
    p = d / "surround.wav"
    sf.write(p, _tone(1.0, channels=6), SR)
    return p


def _long(d):
    p = d / "long.wav"
    sf.write(p, _tone(3.0), SR)
    return p


CASES = [
    (_missing, "gone.wav", []),
    (_empty, "empty.wav", []),
    (_truncated, "cut.wav", []),
    (_text, "lyrics.wav", []),
    (_unsupported, "song.m4a", []),
    (_silent, "quiet.wav", []),
    (_nan, "broken.wav", []),
    (_surround, "surround.wav", []),
    (_long, "long.wav", ["--max-duration-s", "2"]),
]


@pytest.mark.parametrize("make, name, extra", CASES, ids=[c[1] for c in CASES])
@pytest.mark.parametrize("out_name", ["master.wav", "master.mp3"])
def test_bad_input_is_refused_cleanly(tmp_path, capsys, make, name, extra, out_name):
    src_dir = tmp_path / "in"
    out_dir = tmp_path / "out"
    src_dir.mkdir()
    out_dir.mkdir()
    path = make(src_dir)
    before = sorted(p.name for p in src_dir.iterdir())
    code = main(["master", str(path), "-o", str(out_dir / out_name), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert name in err
    assert list(out_dir.iterdir()) == []  # nothing half-written
    assert sorted(p.name for p in src_dir.iterdir()) == before  # the original is untouched


def test_all_targets_refused_input_leaves_the_folder_empty(tmp_path, capsys):
    path = _silent(tmp_path)
    out_dir = tmp_path / "masters"
    assert main(["master", str(path), "--all-targets", "-o", str(out_dir)]) == 2
    assert "quiet.wav" in capsys.readouterr().err
    assert not out_dir.exists()  # the folder it made for the masters is gone too
