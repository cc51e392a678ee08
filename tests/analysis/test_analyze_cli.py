"""``mixlab analyze``: wiring from a file to the printed report (table and JSON)."""

import json

import numpy as np
import pytest
import soundfile as sf

from mixlab.cli.main import main
from tests.fixtures.signals import sine


@pytest.fixture
def case1_wav(tmp_path):
    # EBU Tech 3341 case 1 as a 24-bit WAV: stereo 1 kHz sine at -23 dBFS, 20 s
    path = tmp_path / "case1.wav"
    sf.write(path, sine(48000, 20.0, level_db=-23.0, num_channels=2).T, 48000, subtype="PCM_24")
    return path


def test_json_output(case1_wav, capsys):
    assert main(["analyze", str(case1_wav), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["file"]["sample_rate"] == 48000
    assert data["file"]["num_frames"] == 960000
    assert data["analysis"]["integrated_lufs"] == pytest.approx(-23.0, abs=0.1)
    assert data["analysis"]["true_peak_dbtp"] == pytest.approx(-23.0, abs=0.05)


def test_table_output(case1_wav, capsys):
    assert main(["analyze", str(case1_wav)]) == 0
    out = capsys.readouterr().out
    assert "-23.0 LUFS" in out
    assert "dBTP" in out and "Mono fold-down loss" in out
    assert "1k:+0" in out  # the 1 kHz octave is the loudest


def test_missing_file_is_a_clean_error(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "nope.wav")]) != 0
    assert "error" in capsys.readouterr().err


def test_table_handles_silence(tmp_path, capsys):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros((48000, 1), dtype=np.float32), 48000, subtype="PCM_16")
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert "-inf LUFS" in out and "warning" in out
