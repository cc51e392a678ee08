"""End-to-end mastering on synthesised music, checked with independent meters."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixlab.engine.master import OutputSpec, TargetJob, UserSettings, master
from mixlab.engine.targets import custom_target, get_platform, platform_names
from mixlab.errors import InvalidAudioError, InvalidParameterError
from tests.oracles import bs1770_true_peak_db, pyloudnorm_lufs

ROOT = Path(__file__).resolve().parents[2]


def _example():
    spec = importlib.util.spec_from_file_location("make_example_mix", ROOT / "examples" / "make_example_mix.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    path = tmp_path_factory.mktemp("song") / "song.wav"
    audio = _example().render(12.0, 44100)
    sf.write(path, audio.T, 44100, subtype="PCM_24")
    return path


@pytest.fixture(scope="module")
def bright_reference(tmp_path_factory):
    """A different, brighter and louder song: the example with its top boosted and hats louder."""
    import scipy.signal

    path = tmp_path_factory.mktemp("ref") / "ref.wav"
    audio = _example().render(12.0, 44100, seed=3).astype(np.float64)
    sos = scipy.signal.butter(2, 3000, btype="highpass", fs=44100, output="sos")
    audio = audio + 1.5 * scipy.signal.sosfilt(sos, audio, axis=1)
    audio = np.tanh(audio / np.max(np.abs(audio)) * 2.0) * 0.9
    sf.write(path, audio.T.astype(np.float32), 44100, subtype="FLOAT")
    return path


def _read(path):
    data, sr = sf.read(path, dtype="float64", always_2d=True)
    return data.T, sr


@pytest.mark.parametrize("target_name", ["spotify", "amazon-music", "cd"])
def test_platform_master_hits_loudness_and_ceiling(song, tmp_path, target_name):
    target = get_platform(target_name)
    out = tmp_path / f"m.{target_name}.wav"
    [result] = master(song, [TargetJob(target, (OutputSpec(out, "24"),))])
    audio, sr = _read(out)
    assert sr == 44100 and audio.shape[0] == 2
    assert pyloudnorm_lufs(audio, sr) == pytest.approx(target.target_lufs, abs=0.1)  # 0.1: meter agreement
    assert bs1770_true_peak_db(audio, sr) <= target.ceiling_dbtp + 0.05  # 0.05: 24-bit rounding, the oracle's filter
    assert np.max(np.abs(audio)) < 1.0
    reported = result.outputs[0]
    assert abs(reported["loudness_error_lu"]) <= 0.02


def test_all_targets_in_one_pass_share_the_stage(song, tmp_path):
    jobs = [TargetJob(get_platform(n), (OutputSpec(tmp_path / f"{n}.flac", "16"),)) for n in platform_names()]
    results = master(song, jobs)
    for job, result in zip(jobs, results):
        audio, sr = _read(job.outputs[0].path)
        assert pyloudnorm_lufs(audio, sr) == pytest.approx(job.target.target_lufs, abs=0.1)
        assert bs1770_true_peak_db(audio, sr) <= job.target.ceiling_dbtp + 0.05
        assert sf.info(job.outputs[0].path).subtype == "PCM_16"


def test_mp3_is_checked_after_decoding(song, tmp_path):
    out = tmp_path / "m.mp3"
    master(song, [TargetJob(get_platform("spotify"), (OutputSpec(out),))])
    audio, sr = _read(out)
    assert bs1770_true_peak_db(audio, sr) <= -1.0 + 0.05
    assert pyloudnorm_lufs(audio, sr) == pytest.approx(-14.0, abs=0.2)


def _third_octave_db(audio, sr):
    f = np.fft.rfftfreq(audio.shape[1], 1 / sr)
    p = np.mean(np.abs(np.fft.rfft(audio, axis=1)) ** 2, axis=0)
    centres = 1000 * 2.0 ** (np.arange(-14, 13) / 3)  # 62.5 Hz .. 16 kHz
    levels = np.array([p[(f >= c * 2 ** (-1 / 6)) & (f < c * 2 ** (1 / 6))].sum() for c in centres])
    db = 10 * np.log10(levels)
    return db - db.mean()


def test_reference_match_moves_tone_and_loudness_toward_the_reference(song, bright_reference, tmp_path):
    out = tmp_path / "matched.wav"
    target = get_platform("spotify")
    master(song, [TargetJob(target, (OutputSpec(out),))], reference_path=bright_reference)
    ref, sr = _read(bright_reference)
    src, _ = _read(song)
    res, _ = _read(out)
    before = np.sqrt(np.mean((_third_octave_db(src, sr) - _third_octave_db(ref, sr)) ** 2))
    after = np.sqrt(np.mean((_third_octave_db(res, sr) - _third_octave_db(ref, sr)) ** 2))
    assert after < 0.5 * before


def test_plan_decisions_have_reasons_and_user_values_are_kept(song, tmp_path):
    out = tmp_path / "m.wav"
    [result] = master(song, [TargetJob(get_platform("spotify"), (OutputSpec(out),))],
                      user=UserSettings(eq_amount=0.25, width=1.1))
    plan = result.plan
    assert plan.get("eq", "amount") == 0.25 and plan.param("eq", "amount").source == "user"
    assert plan.get("width", "mid") == 1.1
    for section, params in plan.sections.items():
        for name, p in params.items():
            assert p.reason, f"{section}.{name} has no reason"
    json.loads(plan.to_json())


def test_silent_input_is_refused_and_leaves_nothing(tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros((44100, 2)), 44100)
    out = tmp_path / "out.wav"
    with pytest.raises(InvalidAudioError) as err:
        master(silent, [TargetJob(get_platform("spotify"), (OutputSpec(out),))])
    assert err.value.code == "audio.silent" and "silent.wav" in err.value.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["silent.wav"]


def test_output_may_not_overwrite_the_input(song):
    with pytest.raises(InvalidParameterError) as err:
        master(song, [TargetJob(custom_target(-14, -1), (OutputSpec(Path(song)),))])
    assert err.value.code == "master.overwrite_input"


def _flat_plan(widths, sample_rate):
    from mixlab.engine.master import BAND_NAMES, CROSSOVERS_HZ, MASTER_SCHEMA
    from mixlab.engine.plan import Plan

    plan = Plan(schema=MASTER_SCHEMA)
    plan.set_user("eq", "curve", {"freqs_hz": [100.0, 1000.0], "gains_db": [0.0, 0.0]})
    plan.set_user("eq", "ultrasonic_cut_hz", None)
    plan.set_user("dynamics", "enabled", False)
    plan.set_user("dynamics", "crossovers_hz", list(CROSSOVERS_HZ))
    for name, w in zip(BAND_NAMES, widths):
        plan.set_user("width", name, w)
    return plan


def _run_stage_chain(plan, x, sample_rate):
    from mixlab.dsp.stream import run_compensated
    from mixlab.engine.master import _stage_processor

    chain, latency = _stage_processor(plan, sample_rate, x.shape[0])
    return np.concatenate(list(run_compensated([x.astype(np.float32)], chain, latency_samples=latency, block_multiple=32)), axis=1)


def test_band_width_folds_the_low_end_to_mono_and_keeps_the_rest():
    sr = 48000
    t = np.arange(sr * 2) / sr
    low_side = 0.3 * np.sin(2 * np.pi * 50 * t)
    high_side = 0.3 * np.sin(2 * np.pi * 5000 * t)
    mid = 0.3 * np.sin(2 * np.pi * 1000 * t)
    x = np.stack([mid + low_side + high_side, mid - low_side - high_side])
    y = _run_stage_chain(_flat_plan((0.0, 1.0, 1.0), sr), x, sr)[:, sr // 2 : -sr // 2]
    side = (y[0] - y[1]) / 2
    mid_out = (y[0] + y[1]) / 2

    def level_db(sig, f):
        n = sig.size
        spec = np.abs(np.fft.rfft(sig * np.hanning(n)))
        k = int(round(f * n / sr))
        return 20 * np.log10(spec[k - 2 : k + 3].max() / (np.hanning(n).sum() / 2))

    assert level_db(side, 50) < 20 * np.log10(0.3) - 40  # width 0: the low side is gone
    assert level_db(side, 5000) == pytest.approx(20 * np.log10(0.3), abs=0.1)  # width 1: untouched
    assert level_db(mid_out, 1000) == pytest.approx(20 * np.log10(0.3), abs=0.1)  # the mid never changes


def test_amount_scales_every_ai_change_toward_none(song):
    from mixlab.engine.master import analyze_source, decide_master, scale_by_amount

    source = analyze_source(song)
    plan = decide_master(source, get_platform("spotify"), genre="hip-hop")
    full = np.asarray(plan.get("eq", "curve")["gains_db"])
    scale_by_amount(plan, 0.5)
    np.testing.assert_allclose(plan.get("eq", "curve")["gains_db"], full * 0.5, atol=0.0051)  # 0.01 dB rounding
    scale_by_amount(plan, 0.0)
    assert not np.any(plan.get("eq", "curve")["gains_db"])


def test_hi_res_mp3_is_resampled_explicitly_and_checked(tmp_path):
    src = tmp_path / "hires.wav"
    sf.write(src, _example().render(6.0, 96000).T, 96000, subtype="PCM_24")
    out = tmp_path / "m.mp3"
    [result] = master(src, [TargetJob(get_platform("spotify"), (OutputSpec(out),))])
    record = result.outputs[0]
    assert record["sample_rate"] == 48000 and record["resampled_from"] == 96000
    audio, sr = _read(out)
    assert sr == 48000
    assert bs1770_true_peak_db(audio, sr) <= -1.0 + 0.05
    assert pyloudnorm_lufs(audio, sr) == pytest.approx(-14.0, abs=0.2)


def test_reference_with_several_targets_shares_the_refined_eq(song, bright_reference, tmp_path):
    jobs = [TargetJob(get_platform(n), (OutputSpec(tmp_path / f"{n}.wav"),)) for n in ("spotify", "apple-music", "youtube")]
    results = master(song, jobs, reference_path=bright_reference)
    curves = [r.plan.get("eq", "curve") for r in results]
    assert curves[0] == curves[1] == curves[2]
    assert results[2].outputs[0]["same_as"] == "spotify"  # same loudness and ceiling: one render, copied
    for job in jobs:
        audio, sr = _read(job.outputs[0].path)
        assert pyloudnorm_lufs(audio, sr) == pytest.approx(job.target.target_lufs, abs=0.1)
