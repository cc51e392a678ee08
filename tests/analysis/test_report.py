"""The analysis report: known answers end to end, streaming, JSON and warnings."""

import json
import math

import numpy as np
import pytest

from mixlab.analysis.report import AnalysisReport, ReportBuilder, analyze, analyze_blocks
from mixlab.audio.buffer import AudioBuffer
from mixlab.errors import InvalidAudioError
from tests.fixtures.signals import dc, silence, sine, split_blocks, white_noise


@pytest.fixture(scope="module")
def case1_report() -> AnalysisReport:
    # EBU Tech 3341 case 1: stereo 1 kHz sine, -23 dBFS peak, 20 s.
    return analyze(AudioBuffer(sine(48000, 20.0, level_db=-23.0, num_channels=2), 48000))


def test_known_answers_for_a_steady_sine(case1_report):
    r = case1_report
    assert r.sample_rate == 48000 and r.num_channels == 2 and r.num_samples == 960000
    assert r.duration_s == 20.0
    assert r.integrated_lufs == pytest.approx(-23.0, abs=0.1)  # EBU Tech 3341, +-0.1 LU
    assert r.lra_lu == pytest.approx(0.0, abs=0.1)
    assert r.true_peak_dbtp == pytest.approx(-23.0, abs=0.05)
    assert r.sample_peak_dbfs == pytest.approx(-23.0, abs=1e-4)
    assert r.plr_db == pytest.approx(0.0, abs=0.15)
    # sine: RMS = peak / sqrt(2), so the crest factor is 3.01 dB
    assert r.rms_dbfs == pytest.approx(-23.0 - 10 * np.log10(2), abs=1e-4)
    assert r.crest_factor_db == pytest.approx(10 * np.log10(2), abs=1e-4)
    assert r.correlation == pytest.approx(1.0, abs=1e-9)
    assert r.mono_loss_lu == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(r.dc_offset_per_channel, 0.0, atol=1e-6)
    i = r.third_octave_hz.index(1000.0)
    assert r.third_octave_db[i] == pytest.approx(-23.0 - 10 * np.log10(2), abs=0.05)
    assert r.clipped_samples == 0 and r.clip_events == 0
    assert r.warnings == ()


def test_series_are_one_per_second(case1_report):
    r = case1_report
    assert r.series_hop_s == 1.0
    # 10 Hz series of 197 momentary and 171 short-term values, every tenth kept
    assert len(r.momentary_lufs) == 20
    assert len(r.short_term_lufs) == 18
    np.testing.assert_allclose(r.short_term_lufs, -23.0, atol=0.1)
    assert r.loudness is not None and r.loudness.momentary_lufs.size == 197
    assert r.spectrum is not None


def test_to_dict_is_plain_json(case1_report):
    d = case1_report.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text)["integrated_lufs"] == pytest.approx(-23.0, abs=0.1)
    assert "loudness" not in d and "spectrum" not in d
    assert d["stereo_bands"][0]["name"] == "low"


def test_silence_reports_none_in_json_and_warns():
    r = analyze(AudioBuffer(silence(44100, 2.0, num_channels=2), 44100))
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["integrated_lufs"] is None
    assert d["true_peak_dbtp"] is None
    assert d["correlation"] is None
    assert [w["code"] for w in d["warnings"]] == ["analysis.silent"]


def test_analyze_blocks_equals_analyze(rng):
    x = white_noise(44100, 5.0, rng=rng, level_db=-18.0, num_channels=2)
    x[1] = 0.7 * x[1] + 0.3 * x[0]
    whole = analyze(AudioBuffer(x, 44100))
    chunked = analyze_blocks(split_blocks(x, rng, max_block=30000), 44100, 2)
    a, b = whole.to_dict(), chunked.to_dict()
    assert a.keys() == b.keys()
    for key in ("integrated_lufs", "lra_lu", "true_peak_dbtp", "sample_peak_dbfs", "correlation", "mono_loss_lu", "rms_dbfs"):
        assert b[key] == pytest.approx(a[key], abs=1e-6), key
    np.testing.assert_allclose(b["third_octave_db"], a["third_octave_db"], atol=1e-6)


def test_mono_buffer(rng):
    r = analyze(AudioBuffer(white_noise(48000, 3.0, rng=rng, level_db=-20.0), 48000))
    assert r.num_channels == 1
    assert math.isnan(r.correlation)
    assert r.mono_loss_lu == 0.0
    assert r.stereo_bands == ()
    json.dumps(r.to_dict(), allow_nan=False)


def test_warnings_for_clipping_dc_and_overs():
    x = sine(44100, 3.0, frequency_hz=997.0, level_db=3.0, num_channels=2)
    clipped = np.clip(x, -1.0, 1.0) + dc(44100, 3.0, level_db=-30.0, num_channels=2)
    r = analyze(AudioBuffer(clipped.astype(np.float32), 44100))
    codes = {w.code for w in r.warnings}
    assert {"analysis.clipping", "analysis.true_peak_over", "analysis.dc_offset"} <= codes
    assert r.clip_events > 0
    assert r.dc_offset_per_channel[0] == pytest.approx(10 ** (-30 / 20), rel=1e-3)


def test_warns_when_the_mix_cancels_in_mono(rng):
    x = white_noise(44100, 3.0, rng=rng, level_db=-20.0)
    r = analyze(AudioBuffer(np.vstack([x, -0.9 * x]), 44100))
    assert "analysis.mono_compatibility" in {w.code for w in r.warnings}


def test_builder_rejects_non_finite_audio():
    builder = ReportBuilder(48000, 2)
    bad = np.zeros((2, 10), dtype=np.float32)
    bad[0, 3] = np.nan
    with pytest.raises(InvalidAudioError) as err:
        builder.push(bad)
    assert err.value.code == "audio.non_finite"
