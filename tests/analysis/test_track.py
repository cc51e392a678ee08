"""Known answers for the per-track features: band energy, loudness, activity, onsets, stereo,
tempo, streaming and the analysis cache."""

import dataclasses
import io
import math

import numpy as np
import pytest

from mixlab.analysis.loudness import array_blocks, integrated_loudness
from mixlab.analysis.track import (
    ANALYSIS_VERSION,
    FRAME_S,
    AnalysisCache,
    TrackAnalyzer,
    TrackFeatures,
    analyze_track,
    estimate_tempo,
)
from mixlab.errors import InvalidAudioError, InvalidParameterError
from tests.fixtures.signals import (
    band_limited_noise,
    pink_noise,
    silence,
    sine,
    sine_sequence,
    split_blocks,
    white_noise,
)


def analyze(x: np.ndarray, sample_rate: int, **kwargs) -> TrackFeatures:
    return analyze_track(array_blocks(x, 65536), sample_rate, x.shape[0], **kwargs)


def band_index(f: TrackFeatures, nominal_hz: float) -> int:
    return int(np.argmin(np.abs(np.log(f.band_centres_hz / nominal_hz))))


def click_train(sample_rate: int, duration_s: float, *, rate_hz: float, offset_s: float = 0.0123,
                amplitude: float = 0.5, num_channels: int = 1) -> np.ndarray:
    """Single-sample clicks every ``1 / rate_hz`` s."""
    x = np.zeros((num_channels, int(round(duration_s * sample_rate))), dtype=np.float32)
    times = np.arange(offset_s, duration_s, 1.0 / rate_hz)
    x[:, np.round(times * sample_rate).astype(int)] = amplitude
    return x


# ---------------------------------------------------------------------------------------------
# band energy


@pytest.mark.parametrize("num_channels", [1, 2])
@pytest.mark.parametrize("sample_rate", [44100, 48000, 96000])
def test_a_sine_puts_its_mean_square_in_its_band(sample_rate, num_channels):
    # A sine of peak A has mean square A^2 / 2 per channel; channels are summed.
    x = sine(sample_rate, 3.0, frequency_hz=997.0, level_db=-6.0, num_channels=num_channels)
    f = analyze(x, sample_rate)
    amplitude = 10 ** (-6.0 / 20)
    k = band_index(f, 1000.0)
    per_band = f.band_energy[1:-1].mean(axis=0)  # whole frames away from the ends
    # 997 Hz is not a whole number of periods per 100 ms frame: frame energies wobble by ~0.1 %
    assert per_band[k] == pytest.approx(num_channels * amplitude**2 / 2, rel=2e-3)
    # Hann sidelobes more than 11 bins (110 Hz) away: below -60 dB
    assert np.delete(per_band, k).sum() < 1e-6 * per_band[k]


def test_band_centres_run_from_25_hz_to_below_nyquist():
    f = analyze(silence(44100, 0.5), 44100)
    assert f.band_centres_hz[0] == pytest.approx(10 ** 1.4, rel=1e-9)  # nominal 25 Hz
    assert f.band_centres_hz[-1] == pytest.approx(10 ** 4.3, rel=1e-9)  # nominal 20 kHz
    assert analyze(silence(32000, 0.5), 32000).band_centres_hz[-1] < 16000.0
    assert f.band_energy.dtype == np.float32 and f.band_energy.shape == (5, 30)


def test_band_energy_sums_to_the_frame_mean_square(rng):
    x = band_limited_noise(48000, 4.0, rng=rng, low_hz=40.0, high_hz=18000.0, level_db=-20.0, num_channels=2)
    f = analyze(x, 48000)
    frames = x.astype(np.float64).reshape(2, -1, 4800)
    expected = (frames**2).mean(axis=2).sum(axis=0)  # mean square per frame, channels summed
    # only Hann leakage from 40 Hz into the bins below 22.4 Hz is left out
    np.testing.assert_allclose(f.band_energy.sum(axis=1), expected, rtol=2e-3)


def test_stereo_band_energy_is_the_sum_of_the_channels():
    mono = sine(44100, 2.0, frequency_hz=250.0, level_db=-12.0)
    one = analyze(mono, 44100)
    two = analyze(np.vstack([mono, mono]), 44100)
    np.testing.assert_allclose(two.band_energy, 2.0 * one.band_energy, rtol=1e-5, atol=1e-12)


def test_band_energy_of_uncorrelated_tracks_adds_up(rng):
    a = pink_noise(44100, 20.0, rng=rng, level_db=-20.0, num_channels=2)
    b = band_limited_noise(44100, 20.0, rng=rng, low_hz=200.0, high_hz=4000.0, level_db=-18.0, num_channels=2)
    fa, fb, fab = analyze(a, 44100), analyze(b, 44100), analyze(a + b, 44100)
    keep = fa.band_centres_hz >= 50.0
    summed = (fa.band_energy + fb.band_energy).mean(axis=0)[keep]
    # 200 frames: the cross terms of independent noise average to ~1 % of the band energy
    np.testing.assert_allclose(fab.band_energy.mean(axis=0)[keep], summed, rtol=0.03)


def test_band_energy_scales_with_the_square_of_the_gain(rng):
    x = pink_noise(44100, 3.0, rng=rng, level_db=-20.0, num_channels=2)
    g = 0.25
    f, fg = analyze(x, 44100), analyze(x * np.float32(g), 44100)
    np.testing.assert_allclose(fg.band_energy, g**2 * f.band_energy, rtol=1e-5, atol=1e-15)
    np.testing.assert_allclose(fg.loudness_lufs, f.loudness_lufs + 20 * np.log10(g), atol=1e-3)
    assert fg.integrated_lufs == pytest.approx(f.integrated_lufs + 20 * np.log10(g), abs=1e-6)


def test_a_burst_lands_in_its_frame():
    sr = 44100
    x = silence(sr, 3.0)
    x[0, int(1.0 * sr) : int(1.1 * sr)] = sine(sr, 0.1, frequency_hz=2000.0, level_db=-10.0)[0]
    f = analyze(x, sr)
    energy = f.band_energy.sum(axis=1)
    assert int(np.argmax(energy)) == 10
    assert energy[10] == pytest.approx(10 ** (-1.0) / 2, rel=1e-3)
    assert np.delete(energy, 10).max() == 0.0


# ---------------------------------------------------------------------------------------------
# loudness


@pytest.mark.parametrize("sample_rate", [44100, 48000, 96000])
def test_loudness_of_a_sine_reads_its_level(sample_rate):
    # BS.1770-4: -0.691 dB cancels the K-weighting gain at 1 kHz, so a 997 Hz sine of peak
    # -20 dBFS reads -20 - 3.01 + 3.01 = -20 LUFS on two channels and -23.01 LUFS on one.
    stereo = analyze(sine(sample_rate, 5.0, frequency_hz=997.0, level_db=-20.0, num_channels=2), sample_rate)
    mono = analyze(sine(sample_rate, 5.0, frequency_hz=997.0, level_db=-20.0), sample_rate)
    # 0.02 LU: the K filter's gain at 997 Hz vs 1 kHz plus bilinear warping (loudness tests)
    np.testing.assert_allclose(stereo.loudness_lufs, -20.0, atol=0.02)
    np.testing.assert_allclose(mono.loudness_lufs, -20.0 - 10 * np.log10(2), atol=0.02)
    assert stereo.integrated_lufs == pytest.approx(-20.0, abs=0.02)
    assert stereo.loudness_lufs.dtype == np.float32 and stereo.loudness_lufs.shape == (50,)


def test_ebu_3341_case_1():
    # EBU Tech 3341 case 1: stereo 1 kHz sine, peak -23 dBFS per channel, reads -23.0 +-0.1 LUFS.
    f = analyze(sine(48000, 20.0, frequency_hz=1000.0, level_db=-23.0, num_channels=2), 48000)
    assert f.integrated_lufs == pytest.approx(-23.0, abs=0.1)
    assert f.active_lufs == pytest.approx(-23.0, abs=0.1)


@pytest.mark.parametrize(
    "segments",
    [
        [(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)],  # EBU Tech 3341 case 3
        [(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)],  # case 4
        [(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)],  # case 5
    ],
)
def test_integrated_loudness_matches_the_meter_on_the_ebu_sequences(segments):
    x = sine_sequence(44100, segments)
    # the spectral K-weighting is exact for steady tones; 0.01 LU for the level steps
    assert analyze(x, 44100).integrated_lufs == pytest.approx(integrated_loudness(x, 44100), abs=0.01)


def test_integrated_loudness_matches_the_meter_on_gated_noise(rng):
    x = pink_noise(44100, 30.0, rng=rng, level_db=-18.0, num_channels=2)
    gate = np.repeat(rng.random(60) < 0.6, 22050).astype(np.float32) * 0.9 + 0.02
    x = x * gate
    # spectral K-weighting: the K filter's memory across frame edges is left out (module docstring)
    assert analyze(x, 44100).integrated_lufs == pytest.approx(integrated_loudness(x, 44100), abs=0.05)


def drum_hits(sample_rate: int, duration_s: float, *, period_s: float, rng) -> np.ndarray:
    t = np.arange(int(0.6 * sample_rate)) / sample_rate
    body = np.sin(2 * np.pi * (50 * t + 1.4 * (1 - np.exp(-t / 0.02)))) * np.exp(-t / 0.12)
    hit = body + 0.3 * rng.standard_normal(t.size) * np.exp(-t / 0.004)
    x = np.zeros(int(duration_s * sample_rate))
    for start in np.arange(0.0, duration_s - 0.6, period_s):
        i = int(start * sample_rate)
        x[i : i + hit.size] += 0.5 * hit
    return x[np.newaxis].astype(np.float32)


def test_exact_loudness_equals_the_meter(rng):
    x = drum_hits(44100, 12.0, period_s=0.5, rng=rng)
    exact = analyze(x, 44100, exact_loudness=True)
    assert exact.exact_loudness
    assert exact.integrated_lufs == pytest.approx(integrated_loudness(x, 44100), abs=1e-9)
    # the spectral estimate of the same kick (a fast pitch drop, hits on the frame grid) is the
    # documented worst case: the window under-weights the bright start of each hit (0.64 LU low)
    assert analyze(x, 44100).integrated_lufs == pytest.approx(exact.integrated_lufs, abs=0.8)


def test_silence_reads_the_floor():
    f = analyze(silence(44100, 2.0, num_channels=2), 44100)
    np.testing.assert_array_equal(f.loudness_lufs, np.float32(-120.0))
    assert f.integrated_lufs == -math.inf and f.active_lufs == -math.inf
    assert f.sample_peak_dbfs == -math.inf
    assert f.silent and not f.active.any() and f.active_fraction == 0.0
    assert f.crest_db == 0.0 and f.transient_density_per_s == 0.0 and f.centroid_hz == 0.0
    assert f.stereo_width == 0.0 and f.correlation == 1.0


def test_audio_shorter_than_a_gating_block():
    f = analyze(sine(44100, 0.25, level_db=-20.0), 44100)
    assert f.num_feature_frames == 3  # two whole frames and a partial one
    assert f.integrated_lufs == -math.inf  # BS.1770: no 400 ms block
    assert np.all(np.isfinite(f.loudness_lufs)) and f.active.all()


def test_frame_count_covers_every_sample():
    for sr, seconds in [(44100, 1.0), (44100, 1.00001), (11025, 0.73), (8000, 2.05)]:
        n = int(round(sr * seconds))
        f = analyze(np.zeros((1, n), dtype=np.float32), sr)
        assert f.num_feature_frames == math.ceil(n * 10 / sr)
        assert f.num_frames == n and f.duration_s == pytest.approx(n / sr)
        assert f.frame_s == FRAME_S


# ---------------------------------------------------------------------------------------------
# activity, level and dynamics


def test_active_regions_follow_the_music():
    sr = 44100
    on = sine(sr, 2.0, frequency_hz=997.0, level_db=-20.0)
    x = np.concatenate([on, silence(sr, 2.0), on, 1e-4 * on], axis=1)  # last part 80 dB down
    f = analyze(x, sr)
    t = (np.arange(f.num_feature_frames) + 0.5) * FRAME_S
    assert f.active[t < 2.0].all()
    assert not f.active[(t > 2.6) & (t < 3.8)].any()  # the gap, past the window and hangover
    assert f.active[(t > 4.0) & (t < 6.0)].all()
    assert not f.active[t > 6.6].any()  # below -60 LUFS (and 30 LU under the loudest)
    assert f.active_fraction == pytest.approx(f.active.mean())
    # power mean over the active frames: the 40 frames of tone (-23.01 LUFS, mono) and the
    # silent frames the window and hangover keep active
    assert f.active_lufs == pytest.approx(-23.01 + 10 * np.log10(40 / f.active.sum()), abs=0.02)


def test_hangover_keeps_note_tails_active():
    sr = 44100
    x = np.concatenate([sine(sr, 1.0, level_db=-20.0), silence(sr, 1.0)], axis=1)
    f = analyze(x, sr)
    # the last frame whose 400 ms window reaches the tone is 11 (window 0.95..1.35 s); +300 ms
    assert f.active[:15].all() and not f.active[15:].any()


def test_crest_factor_of_a_sine_is_3_db():
    f = analyze(sine(48000, 3.0, frequency_hz=1000.0, level_db=-6.0, num_channels=2), 48000)
    assert f.crest_db == pytest.approx(20 * np.log10(np.sqrt(2)), abs=0.01)
    assert f.sample_peak_dbfs == pytest.approx(-6.0, abs=0.01)


def test_a_quiet_track_is_silent():
    f = analyze(sine(44100, 2.0, level_db=-95.0), 44100)
    assert f.silent and f.sample_peak_dbfs == pytest.approx(-95.0, abs=0.01)


# ---------------------------------------------------------------------------------------------
# onsets and tempo


@pytest.mark.parametrize("rate_hz", [2.0, 4.0, 8.0])
def test_transient_density_of_a_click_train(rate_hz):
    x = click_train(44100, 20.0, rate_hz=rate_hz)
    f = analyze(x, 44100)
    assert f.active.all()
    assert f.transient_density_per_s == pytest.approx(rate_hz, rel=0.02)


def test_steady_sounds_have_no_onsets_after_the_first(rng):
    sr = 44100
    for x in (white_noise(sr, 20.0, rng=rng, level_db=-20.0), sine(sr, 20.0, frequency_hz=110.0, level_db=-10.0)):
        f = analyze(x, sr)
        assert f.transient_density_per_s <= 0.1  # the start is one onset in 20 s


def test_onset_envelope_layout():
    f = analyze(click_train(44100, 2.0, rate_hz=2.0), 44100)
    assert f.onset_hop_s == pytest.approx(512 / 44100)
    assert f.onset_envelope.dtype == np.float32
    assert f.onset_envelope.shape[0] == pytest.approx(2.0 / f.onset_hop_s, abs=2)
    assert (f.onset_envelope >= 0).all()


@pytest.mark.parametrize("bpm", [90.0, 120.0, 75.0, 140.0])
def test_tempo_of_a_click_train(bpm):
    f = analyze(click_train(44100, 30.0, rate_hz=bpm / 60.0), 44100)
    estimate, confidence = estimate_tempo(f.onset_envelope, f.onset_hop_s)
    assert estimate == pytest.approx(bpm, abs=0.3)  # not double or half
    assert confidence > 0.5


def test_tempo_of_summed_envelopes(rng):
    sr = 44100
    beat = 60.0 / 100.0
    kick = drum_hits(sr, 30.0, period_s=beat, rng=rng)
    hats = 0.2 * click_train(sr, 30.0, rate_hz=2 / beat, offset_s=0.0)
    envs = [analyze(x, sr).onset_envelope for x in (kick, hats)]
    n = min(e.size for e in envs)
    bpm, confidence = estimate_tempo(sum(e[:n] for e in envs), 512 / sr)
    assert bpm == pytest.approx(100.0, abs=0.3)
    assert 0.0 < confidence <= 1.0


def test_tempo_without_a_pulse(rng):
    assert estimate_tempo(np.zeros(10), 0.01) == (0.0, 0.0)  # too short
    assert estimate_tempo(np.ones(5000), 0.01) == (0.0, 0.0)  # no variation
    _, confidence = estimate_tempo(rng.random(5000), 0.01)
    assert confidence < 0.2
    with pytest.raises(InvalidParameterError):
        estimate_tempo(np.zeros(100), 0.0)
    with pytest.raises(InvalidParameterError):
        estimate_tempo(np.zeros(100), 0.01, min_bpm=120, max_bpm=60)


# ---------------------------------------------------------------------------------------------
# stereo, spectrum shape


def test_stereo_width_and_correlation(rng):
    sr = 44100
    x = white_noise(sr, 10.0, rng=rng, level_db=-20.0)
    dual = analyze(np.vstack([x, x]), sr)
    assert dual.stereo_width == pytest.approx(0.0, abs=1e-6) and dual.correlation == pytest.approx(1.0, abs=1e-6)
    inverted = analyze(np.vstack([x, -x]), sr)
    assert inverted.stereo_width == pytest.approx(1.0, abs=1e-6)
    assert inverted.correlation == pytest.approx(-1.0, abs=1e-6)
    # independent channels: E[S^2] = E[M^2]; 441 000 samples, standard deviation ~0.0015
    independent = analyze(white_noise(sr, 10.0, rng=rng, level_db=-20.0, num_channels=2), sr)
    assert independent.stereo_width == pytest.approx(0.5, abs=0.01)
    assert independent.correlation == pytest.approx(0.0, abs=0.01)
    left_only = analyze(np.vstack([x, np.zeros_like(x)]), sr)
    assert left_only.correlation == 0.0 and left_only.stereo_width == pytest.approx(0.5, abs=1e-6)
    mono = analyze(x, sr)
    assert mono.stereo_width == 0.0 and mono.correlation == 1.0


@pytest.mark.parametrize("frequency_hz", [110.0, 440.0, 1000.0, 3150.0])
def test_centroid_of_a_tone_is_its_frequency(frequency_hz):
    f = analyze(sine(44100, 3.0, frequency_hz=frequency_hz, level_db=-10.0, num_channels=2), 44100)
    assert f.centroid_hz == pytest.approx(frequency_hz, rel=0.005)


def test_flatness_tells_tone_from_noise(rng):
    tone = analyze(sine(44100, 3.0, frequency_hz=440.0), 44100)
    noise = analyze(white_noise(44100, 3.0, rng=rng), 44100)
    assert tone.flatness < 0.01
    # white noise through a window: exponential bin powers, flatness exp(-gamma) = 0.561
    assert noise.flatness == pytest.approx(np.exp(-np.euler_gamma), abs=0.02)


# ---------------------------------------------------------------------------------------------
# streaming


def assert_same_features(a: TrackFeatures, b: TrackFeatures, *, rtol: float = 1e-5) -> None:
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, np.ndarray):
            assert x.shape == y.shape, field.name
            np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-9, err_msg=field.name)
        elif isinstance(x, float) and math.isinf(x):
            assert x == y, field.name
        else:
            assert x == pytest.approx(y, rel=1e-9, abs=1e-12), field.name


@pytest.mark.parametrize("exact_loudness", [False, True])
@pytest.mark.parametrize("sample_rate", [44100, 22050, 11025])
def test_result_does_not_depend_on_block_sizes(rng, sample_rate, exact_loudness):
    # 11 025 Hz: 100 ms frames alternate 1102 and 1103 samples; 22 050 Hz: 50 ms halves do
    x = pink_noise(sample_rate, 6.37, rng=rng, level_db=-20.0, num_channels=2)
    x[:, sample_rate : 2 * sample_rate] *= 0.01
    x[:, 3 * sample_rate : int(3.4 * sample_rate)] = 0.0
    one = analyze_track([x], sample_rate, 2, exact_loudness=exact_loudness)
    # float32 sums over other groupings: rtol 1e-5
    assert_same_features(one, analyze_track(split_blocks(x, rng, max_block=7000), sample_rate, 2,
                                            exact_loudness=exact_loudness))
    tiny = [x[:, i : i + 1] for i in range(3000)] + [x[:, 3000:]]
    assert_same_features(one, analyze_track(tiny, sample_rate, 2, exact_loudness=exact_loudness))


def test_the_analyser_keeps_going_after_a_result(rng):
    x = pink_noise(44100, 3.0, rng=rng, num_channels=2)
    analyser = TrackAnalyzer(44100, 2)
    analyser.push(x[:, :50000])
    early = analyser.result()
    assert early.num_frames == 50000 and early.num_feature_frames == 12
    analyser.push(x[:, 50000:])
    assert_same_features(analyser.result(), analyze(x, 44100))


def test_a_reused_input_buffer_does_not_change_the_result(rng):
    x = pink_noise(44100, 2.0, rng=rng, num_channels=2)
    buffer = np.empty((2, 1000), dtype=np.float32)

    def blocks():
        for start in range(0, x.shape[1], 1000):
            piece = x[:, start : start + 1000]
            buffer[:, : piece.shape[1]] = piece
            yield buffer[:, : piece.shape[1]]

    assert_same_features(analyze_track(blocks(), 44100, 2), analyze(x, 44100))


def test_no_audio_at_all():
    f = TrackAnalyzer(44100, 2).result()
    assert f.num_feature_frames == 0 and f.band_energy.shape == (0, 30)
    assert f.silent and f.integrated_lufs == -math.inf and f.onset_envelope.size == 0


def test_bad_input_is_refused():
    with pytest.raises(InvalidParameterError):
        TrackAnalyzer(44100, 3)
    with pytest.raises(InvalidParameterError):
        TrackAnalyzer(1000, 1)
    analyser = TrackAnalyzer(44100, 2)
    with pytest.raises(InvalidParameterError):
        analyser.push(np.zeros((1, 100), dtype=np.float32))
    bad = np.zeros((2, 100), dtype=np.float32)
    bad[1, 50] = np.nan
    with pytest.raises(InvalidAudioError) as excinfo:
        analyser.push(bad)
    assert excinfo.value.code == "audio.non_finite"


def test_features_are_read_only():
    f = analyze(sine(44100, 1.0), 44100)
    with pytest.raises(ValueError):
        f.band_energy[0, 0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.silent = True


# ---------------------------------------------------------------------------------------------
# persistence and the cache


def test_npz_round_trip(rng):
    f = analyze(pink_noise(44100, 2.0, rng=rng, num_channels=2), 44100)
    buffer = io.BytesIO()
    f.to_npz(buffer)
    buffer.seek(0)
    assert_same_features(f, TrackFeatures.from_npz(buffer), rtol=0)


def test_features_of_another_version_are_refused(rng):
    arrays = analyze(sine(44100, 1.0), 44100).to_arrays()
    arrays["analysis_version"] = np.array(ANALYSIS_VERSION + 1)
    with pytest.raises(InvalidParameterError):
        TrackFeatures.from_arrays(arrays)
    arrays = analyze(sine(44100, 1.0), 44100).to_arrays()
    del arrays["band_energy"]
    with pytest.raises(InvalidParameterError):
        TrackFeatures.from_arrays(arrays)


def write_bytes(path, content: bytes):
    path.write_bytes(content)
    return path


def test_cache_round_trip(tmp_path):
    cache = AnalysisCache(tmp_path / "cache")
    audio = write_bytes(tmp_path / "kick.wav", b"RIFF fake audio bytes")
    key = cache.key(audio, sample_rate=44100)
    assert cache.get(key) is None
    f = analyze(sine(44100, 1.0, num_channels=2), 44100)
    cache.put(key, f)
    assert_same_features(f, cache.get(key), rtol=0)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f"{key}.npz"]  # no temporary left


def test_cache_key_follows_the_content(tmp_path):
    cache = AnalysisCache(tmp_path)
    a = write_bytes(tmp_path / "a.wav", b"some audio" * 1000)
    same = write_bytes(tmp_path / "renamed copy.wav", b"some audio" * 1000)
    changed = write_bytes(tmp_path / "b.wav", b"some audio" * 999 + b"Some audio")
    key = cache.key(a, sample_rate=44100)
    assert cache.key(same, sample_rate=44100) == key
    assert cache.key(changed, sample_rate=44100) != key
    assert cache.key(a, sample_rate=48000) != key
    assert f"v{ANALYSIS_VERSION}" in key


def test_a_corrupt_cache_file_is_a_miss(tmp_path):
    cache = AnalysisCache(tmp_path)
    key = cache.key(write_bytes(tmp_path / "a.wav", b"x"), sample_rate=44100)
    path = tmp_path / f"{key}.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    assert cache.get(key) is None
    assert not path.exists()  # deleted, so the next put starts clean
    f = analyze(sine(44100, 1.0), 44100)
    cache.put(key, f)
    truncated = path.read_bytes()[:-100]
    path.write_bytes(truncated)
    assert cache.get(key) is None


def test_cache_folder_defaults_to_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MIXLAB_CACHE_DIR", str(tmp_path / "env-cache"))
    assert AnalysisCache().folder == tmp_path / "env-cache"
    monkeypatch.delenv("MIXLAB_CACHE_DIR")
    assert AnalysisCache().folder.parts[-3:] == (".cache", "mixlab", "analysis")


def test_cache_refuses_keys_that_are_paths(tmp_path):
    cache = AnalysisCache(tmp_path)
    with pytest.raises(InvalidParameterError):
        cache.get("../outside")


def test_a_failed_cache_write_is_not_an_error(tmp_path):
    blocker = write_bytes(tmp_path / "not-a-folder", b"")
    cache = AnalysisCache(blocker / "cache")
    cache.put("abc", analyze(sine(44100, 1.0), 44100))  # logged, not raised
    assert cache.get("abc") is None
