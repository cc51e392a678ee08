"""Known answers for the recording-defect measures (clipping, DC, hum, noise, band limit) and
the alignment of two tracks; every expected value follows from how the signal is built."""

import io
import json
import math
import warnings

import numpy as np
import pytest
import scipy.signal

from mixlab.analysis.defects import (
    LEVEL_FLOOR_DB,
    DefectAnalyzer,
    PairAlignment,
    StemDefects,
    excerpt_windows,
    pair_alignment,
)
from mixlab.analysis.loudness import array_blocks
from mixlab.errors import InvalidAudioError, InvalidParameterError
from tests.fixtures.signals import (
    band_limited_noise,
    db_to_amplitude,
    pink_noise,
    silence,
    sine,
    split_blocks,
    white_noise,
)


def analyze(x: np.ndarray, sample_rate: int, *, block_size: int = 32768) -> StemDefects:
    meter = DefectAnalyzer(sample_rate, x.shape[0])
    for block in array_blocks(x, block_size):
        meter.push(block)
    return meter.result()


def runs_of_true(mask: np.ndarray) -> list[tuple[int, int]]:
    """Oracle: (start, end) of the runs of True in a 1-D mask."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def chords(sample_rate: int, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Music-like material: chords of four sine notes (MIDI 36-84) every 0.5-1.5 s, each with a
    10 ms attack and an exponential decay (time constant 0.6 s); mono ``float64``, peak 1."""
    n = int(round(duration_s * sample_rate))
    x = np.zeros(n)
    t0 = 0.0
    while t0 < duration_s:
        step = rng.uniform(0.5, 1.5)
        i0 = int(t0 * sample_rate)
        i1 = min(n, int((t0 + step + 0.5) * sample_rate))
        t = np.arange(i1 - i0) / sample_rate
        envelope = np.minimum(t / 0.01, 1.0) * np.exp(-t / 0.6)
        for note in rng.integers(36, 85, size=4):
            f = 440.0 * 2.0 ** ((note - 69) / 12)
            x[i0:i1] += rng.uniform(0.3, 1.0) * envelope * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
        t0 += step
    return x / np.max(np.abs(x))


#: Relative amplitudes of the hum harmonics k = 1..6 (a typical buzz: strong odd harmonics).
HUM_AMPLITUDES = (1.0, 0.6, 0.8, 0.3, 0.4, 0.2)


def hum(sample_rate: int, num: int, mains_hz: float, rng: np.random.Generator, *, power: float) -> np.ndarray:
    """Mains hum: harmonics of ``mains_hz`` with :data:`HUM_AMPLITUDES`, mean square ``power``."""
    t = np.arange(num) / sample_rate
    amplitudes = np.asarray(HUM_AMPLITUDES)
    # a sine of amplitude A has mean square A^2 / 2
    scale = math.sqrt(power / np.sum(amplitudes**2 / 2))
    return sum(
        scale * a * np.sin(2 * np.pi * k * mains_hz * t + rng.uniform(0, 2 * np.pi))
        for k, a in enumerate(amplitudes, start=1)
    )


def total_s(ranges: list[tuple[float, float]]) -> float:
    return sum(b - a for a, b in ranges)


# ---------------------------------------------------------------------------------------------
# clipping


@pytest.mark.parametrize("num_channels", [1, 2])
@pytest.mark.parametrize("sample_rate", [44100, 48000, 96000])
def test_a_hard_clipped_sine_counts_its_full_scale_samples(sample_rate, num_channels):
    # A 1 kHz sine of amplitude 2 through a hard clipper from 2 s to 3 s: every crest holds a
    # run of samples at |x| >= 0.999 (a third of each period, many more than 3 samples).
    t = np.arange(5 * sample_rate) / sample_rate
    driven = np.clip(2.0 * np.sin(2 * np.pi * 1000 * t), -1.0, 1.0)
    row = np.where((t >= 2.0) & (t < 3.0), driven, 0.0)
    x = np.tile(row, (num_channels, 1)).astype(np.float32)
    runs = runs_of_true(np.abs(x[0]) >= 0.999)
    expected = num_channels * sum(e - s for s, e in runs if e - s >= 3)
    assert min(e - s for s, e in runs) >= 3  # the construction has no short runs to drop
    r = analyze(x, sample_rate)
    assert r.clipped_samples == expected
    assert r.peak_dbfs == pytest.approx(0.0, abs=1e-6)
    # one range: the runs are 1 ms apart (merged), the first and last widened to 0.1 s about
    # their centres, so the range reaches at most 0.05 s beyond the burst
    assert len(r.clip_ranges) == 1
    start_s, end_s = r.clip_ranges[0]
    assert 2.0 - 0.05 <= start_s <= 2.0
    assert 3.0 <= end_s <= 3.0 + 0.05


def test_clip_ranges_merge_only_when_closer_than_half_a_second():
    sample_rate = 48000
    x = np.zeros((1, 6 * sample_rate), dtype=np.float32)
    for t_s in (1.0, 1.4, 3.0):  # 0.4 s apart (merged), then 1.6 s apart (separate)
        i = int(t_s * sample_rate)
        x[0, i : i + 10] = 1.0
    r = analyze(x, sample_rate)
    assert r.clipped_samples == 30
    assert len(r.clip_ranges) == 2
    (a0, a1), (b0, b1) = r.clip_ranges
    # each 10-sample run is widened to 0.1 s about its centre
    centre = 5 / sample_rate
    assert a0 == pytest.approx(1.0 + centre - 0.05, abs=1 / sample_rate)
    assert a1 == pytest.approx(1.4 + centre + 0.05, abs=1 / sample_rate)
    assert b1 - b0 == pytest.approx(0.1, abs=1 / sample_rate)


def test_runs_shorter_than_three_samples_are_not_clipping():
    sample_rate = 44100
    x = np.zeros((2, 3 * sample_rate), dtype=np.float32)
    x[0, 1000] = 1.0  # one full-scale sample: common in healthy masters
    x[0, 5000:5002] = -1.0  # two
    x[1, 9000:9003] = 0.9995  # three, on the other channel: the shortest clip
    r = analyze(x, sample_rate)
    assert r.clipped_samples == 3
    assert len(r.clip_ranges) == 1


def test_flat_tops_of_audio_clipped_then_turned_down():
    # Clipped at +-0.7, then turned down so the flat tops sit at +-0.8: every sample the
    # clipper held is one of >= 4 identical samples at the track peak.
    sample_rate = 44100
    t = np.arange(3 * sample_rate) / sample_rate
    source = np.sin(2 * np.pi * 1000 * t)
    x = np.tile(np.clip(source, -0.7, 0.7) * (0.8 / 0.7), (2, 1)).astype(np.float32)
    r = analyze(x, sample_rate)
    assert r.clipped_samples == 2 * int(np.sum(np.abs(source) >= 0.7))
    assert r.peak_dbfs == pytest.approx(20 * math.log10(0.8), abs=1e-5)
    assert r.clip_ranges == [(0.0, 3.0)]


def test_smooth_crests_of_a_16_bit_sub_bass_are_not_flat_tops():
    # A 10 Hz sine at 0.8 stored at 16 bits holds one value for four samples at some crests
    # (it moves by less than one step there), but it glides in and out of it.
    sample_rate = 44100
    t = np.arange(3 * sample_rate) / sample_rate
    x = (np.round(0.8 * np.sin(2 * np.pi * 10 * t) * 32767) / 32767)[np.newaxis].astype(np.float32)
    near_peak = np.abs(x[0]) >= np.max(np.abs(x)) * 10 ** (-0.0087 / 20)
    repeats = np.concatenate(([False], x[0, 1:] == x[0, :-1])) & near_peak
    # the construction does hold >= 4 identical samples near the peak (3 repeats in a row)
    assert max(e - s for s, e in runs_of_true(repeats)) >= 3
    r = analyze(x, sample_rate)
    assert r.clipped_samples == 0
    assert r.clip_ranges == []


@pytest.mark.parametrize("case", ["quiet", "under a louder click"])
def test_plateaus_below_the_track_peak_are_clips(case):
    # A passage clipped at +-0.7 and turned down, in a quiet stem (peak 0.45) or under a louder
    # click elsewhere: each crest the clipper held repeats one exact level, entered by a jump.
    sample_rate = 44100
    t = np.arange(2 * sample_rate) / sample_rate
    source = np.sin(2 * np.pi * 1000 * t)
    flat = np.clip(source, -0.7, 0.7)
    x = (flat * (0.45 / 0.7))[np.newaxis].astype(np.float32)
    if case == "under a louder click":  # in a quiet tail of its own (a plateau is its frame's peak)
        tail = np.zeros((1, sample_rate // 5), dtype=np.float32)
        tail[0, 1234] = 0.95
        x = np.concatenate((x, tail), axis=1)
    r = analyze(x, sample_rate)
    # the held runs (11 samples per crest) entered and left by more than four 16-bit steps
    # (runs under 8 samples need 1 % of the level): the sampling phase puts a few crests'
    # neighbours closer than that
    y = np.abs(flat * (0.45 / 0.7))
    level = np.abs(flat) >= 0.7

    def entered_by_a_step(s, e):
        step = 4 / 32768 if e - s >= 8 else max(0.01 * 0.45, 4 / 32768)
        return 0.45 - y[s - 1] >= step and 0.45 - y[e] >= step

    expected = sum(e - s for s, e in runs_of_true(level) if e - s >= 4 and entered_by_a_step(s, e))
    assert 0.95 * int(level.sum()) < expected
    assert r.clipped_samples == expected
    # ranges are widened to 0.1 s around their runs, and end at the end of the file
    [(start, end)] = r.clip_ranges
    assert start == 0.0 and end == pytest.approx(2.0 if case == "quiet" else 2.05, abs=1e-3)


@pytest.mark.parametrize("level_db", [-20.0, -40.0])
def test_quiet_smooth_16_bit_crests_are_not_plateaus(level_db):
    # A 50 Hz sine stored at 16 bits repeats values at its crests, but moves in and out of
    # them by one step, not by a jump.
    sample_rate = 44100
    t = np.arange(4 * sample_rate) / sample_rate
    a = 10 ** (level_db / 20)
    x = (np.round(a * np.sin(2 * np.pi * 50 * t) * 32767) / 32767)[np.newaxis].astype(np.float32)
    assert analyze(x, sample_rate).clipped_samples == 0


def test_runs_cut_by_the_internal_batches_are_joined():
    """Regression guard: runs that straddle the analyser's internal batch edges (the batch
    length is private; it is read here only to place the runs on the edges)."""
    sample_rate = 44100
    edge = DefectAnalyzer(sample_rate, 1)._batch_len
    n = 2 * edge + sample_rate
    digital = np.zeros((1, n), dtype=np.float32)
    for s, e in [(edge - 1, edge + 2), (2 * edge - 3, 2 * edge), (2 * edge, 2 * edge + 3)]:
        digital[0, s:e] = 1.0  # three samples each: clips
    digital[0, edge + 5000 : edge + 5002] = 1.0  # two: not a clip
    flat = np.zeros((1, n), dtype=np.float32)
    for s, e in [(edge - 2, edge + 2), (2 * edge - 4, 2 * edge), (2 * edge, 2 * edge + 4)]:
        flat[0, s:e] = 0.7  # four identical samples at the peak, entered and left steeply
    flat[0, edge + 5000 : edge + 5003] = -0.7  # three: not a flat top
    for x, expected in [(digital, 9), (flat, 12)]:
        for block in (32768, 4096, 1):
            if block == 1:
                meter = DefectAnalyzer(sample_rate, 1)
                for b in split_blocks(x, np.random.default_rng(3), max_block=500):
                    meter.push(b)
                r = meter.result()
            else:
                r = analyze(x, sample_rate, block_size=block)
            assert r.clipped_samples == expected


# ---------------------------------------------------------------------------------------------
# DC offset


@pytest.mark.parametrize("num_channels", [1, 2])
def test_dc_offset_of_the_channel_furthest_from_zero(num_channels):
    # 5 s of a 1 kHz sine at 48 kHz is a whole number of periods: its mean is 0.
    sample_rate = 48000
    x = sine(sample_rate, 5.0, frequency_hz=1000.0, level_db=-6.0, num_channels=num_channels)
    x[-1] += np.float32(-0.01)  # -40 dBFS on the last channel
    if num_channels == 2:
        x[0] += np.float32(0.001)  # -60 dBFS on the other
    r = analyze(x, sample_rate)
    assert r.dc_offset_db == pytest.approx(-40.0, abs=0.01)  # float32 round-off of the samples


# ---------------------------------------------------------------------------------------------
# mains hum


def test_steady_hum_in_faint_noise():
    sample_rate = 44100
    rng = np.random.default_rng(11)
    n = 10 * sample_rate
    hum_power = db_to_amplitude(-40.0) ** 2
    noise = white_noise(sample_rate, 10.0, rng=rng, level_db=-60.0)[0].astype(np.float64)
    x = (hum(sample_rate, n, 50.0, rng, power=hum_power) + noise)[np.newaxis].astype(np.float32)
    r = analyze(x, sample_rate)
    assert r.hum_hz == 50.0
    assert r.hum_ranges == [(0.0, 10.0)]
    expected = 10 * math.log10(hum_power / float(np.mean(x.astype(np.float64) ** 2)))
    # the harmonics' power less the neighbouring noise: within 0.3 dB
    assert r.hum_level_db == pytest.approx(expected, abs=0.3)


@pytest.mark.parametrize("mains_hz", [50.0, 60.0])
@pytest.mark.parametrize("sample_rate", [44100, 48000, 96000])
def test_hum_40_db_under_music(mains_hz, sample_rate):
    rng = np.random.default_rng(int(mains_hz) + sample_rate)
    music = 0.3 * chords(sample_rate, 20.0, rng)
    buzz = hum(sample_rate, music.size, mains_hz, rng, power=1e-4 * float(np.mean(music**2)))
    x = (music + buzz)[np.newaxis].astype(np.float32)
    r = analyze(x, sample_rate)
    assert r.hum_hz == mains_hz
    # Loud chords with a note a few Hz from a harmonic can hide the hum for a few seconds,
    # but it is there all along.
    assert total_s(r.hum_ranges) >= 10.0
    power = x[0].astype(np.float64) ** 2
    in_ranges = np.concatenate([power[int(a * sample_rate) : int(b * sample_rate)] for a, b in r.hum_ranges])
    expected = 10 * math.log10(float(np.mean(buzz**2)) / float(np.mean(in_ranges)))
    # music inside the +-2 Hz around each harmonic adds to its estimate: within 1 dB
    assert r.hum_level_db == pytest.approx(expected, abs=1.0)


def test_hum_under_dense_music_is_placed_over_the_whole_track():
    # A minute of chords with a noise floor at -60 dBFS: the skirts of the low notes hide the
    # hum in most seconds, but hum that loud would not stand out there, so those seconds do
    # not interrupt it (it is steady): one range, from the first second it is seen to the last.
    sample_rate = 44100
    rng = np.random.default_rng(15)
    music = 0.3 * chords(sample_rate, 60.0, rng)
    noise = pink_noise(sample_rate, 60.0, rng=rng, level_db=-60.0)[0]
    buzz = hum(sample_rate, music.size, 50.0, rng, power=1e-4 * float(np.mean(music**2)))
    x = (music + noise + buzz)[np.newaxis].astype(np.float32)
    r = analyze(x, sample_rate)
    assert r.hum_hz == 50.0
    assert len(r.hum_ranges) == 1
    assert total_s(r.hum_ranges) >= 45.0  # the first and last few seconds may stay hidden
    expected = 10 * math.log10(float(np.mean(buzz**2)) / float(np.mean(x.astype(np.float64) ** 2)))
    assert r.hum_level_db == pytest.approx(expected, abs=1.0)


def test_bass_notes_next_to_the_mains_frequency_are_not_hum():
    # G1 (49.0 Hz) and B1 (61.7 Hz) with five harmonics, held for 5 s each over the chords:
    # steady, loud, and 1 Hz away from 50 / 60 Hz.
    sample_rate = 44100
    rng = np.random.default_rng(5)
    music = chords(sample_rate, 20.0, rng)
    t = np.arange(music.size) / sample_rate
    bass_hz = np.where((t // 5.0) % 2 == 0, 440.0 * 2 ** (-38 / 12), 440.0 * 2 ** (-34 / 12))
    phase = 2 * np.pi * np.cumsum(bass_hz) / sample_rate
    bass = sum(np.sin(k * phase) / k for k in range(1, 7))
    x = (0.3 * (music + bass) / np.max(np.abs(music + bass)))[np.newaxis].astype(np.float32)
    r = analyze(x, sample_rate)
    assert r.hum_hz is None
    assert r.hum_ranges == []
    assert r.hum_level_db == LEVEL_FLOOR_DB


def kick_train(sample_rate: int, duration_s: float, *, end_hz: float, beat_s: float) -> np.ndarray:
    """A kick drum every ``beat_s``: a sine gliding from ``end_hz + 100`` Hz down to
    ``end_hz`` (time constant 30 ms), decaying with a time constant of 0.25 s."""
    n = int(round(duration_s * sample_rate))
    t = np.arange(int(0.45 * sample_rate)) / sample_rate
    phase = 2 * np.pi * np.cumsum(end_hz + 100.0 * np.exp(-t / 0.03)) / sample_rate
    hit = np.sin(phase) * np.exp(-t / 0.25)
    x = np.zeros(n)
    step = int(round(beat_s * sample_rate))
    for start in range(0, n - hit.size, step):
        x[start : start + hit.size] += hit
    return x


@pytest.mark.parametrize("beat_s", [0.5, 0.6])  # 120 and 100 BPM
def test_a_kick_drum_repeated_every_beat_is_not_hum(beat_s):
    # A sound repeated every beat has spectral lines 1 / beat apart: at 120 and 100 BPM one of
    # them sits exactly on 50 Hz, and a kick gliding down to G1 (49 Hz) passes right through
    # it. But it dies away between hits, which hum never does.
    sample_rate = 44100
    kicks = kick_train(sample_rate, 20.0, end_hz=49.0, beat_s=beat_s)
    x = (0.5 * kicks + 0.1 * chords(sample_rate, 20.0, np.random.default_rng(16)))[np.newaxis].astype(np.float32)
    # the construction does hold a line at 50 Hz standing out from its neighbourhood
    spectrum = np.abs(np.fft.rfft(kicks)) ** 2
    freqs = np.fft.rfftfreq(kicks.size, 1 / sample_rate)
    line = int(np.argmin(np.abs(freqs - 50.0)))
    near = (freqs > 45.0) & (freqs < 55.0)
    assert spectrum[line] == spectrum[line - 3 : line + 4].max()
    assert spectrum[line] > 100 * np.median(spectrum[near])
    r = analyze(x, sample_rate)
    assert r.hum_hz is None
    assert r.hum_ranges == []


def snare_train(sample_rate: int, duration_s: float, *, period_s: float, rng: np.random.Generator) -> np.ndarray:
    """A snare hit every ``period_s``: a noise burst (time constant 40 ms), a tuned body at 185 Hz
    and its mode at 1.59 x (time constant 0.15 s), and a low partial exactly on 50 Hz that rings
    down at 9 dB/s, 48 dB under the body (as the LMMS sample ``snare01`` does at 49.97 Hz)."""
    n = int(round(duration_s * sample_rate))
    t = np.arange(int(period_s * sample_rate)) / sample_rate
    body = np.sin(2 * np.pi * 185.0 * t) + 0.5 * np.sin(2 * np.pi * 185.0 * 1.59 * t)
    ring = 0.002 * np.sin(2 * np.pi * 50.0 * t) * 10 ** (-9.0 * t / 20.0)
    x = np.zeros(n)
    step = int(round(period_s * sample_rate))
    for start in range(0, n - t.size, step):
        burst = rng.standard_normal(t.size) * np.exp(-t / 0.04)
        x[start : start + t.size] += 0.4 * burst + 0.5 * body * np.exp(-t / 0.15) + ring
    return x


@pytest.mark.parametrize("period_s", [0.6, 1.176])  # 100 BPM on every beat; every other beat at 102 BPM
def test_a_snare_ringing_on_50_hz_is_not_hum(period_s):
    """Regression (issue 13 item 9): "50 Hz hum on 02_snare" on a clean LMMS snare. Its sample
    rings at 49.97 Hz, 30 dB under the body, and decays 9 dB/s: slowly enough to pass the
    continuity test, but it jumps at every hit and rings down, which hum never does."""
    sample_rate = 44100
    rng = np.random.default_rng(21)
    snare = snare_train(sample_rate, 30.0, period_s=period_s, rng=rng)
    x = (0.5 * snare + white_noise(sample_rate, 30.0, rng=rng, level_db=-90.0)[0])[np.newaxis].astype(np.float32)
    assert analyze(x, sample_rate).hum_hz is None
    # real hum under the same snare is still hum
    buzz = hum(sample_rate, x.shape[1], 50.0, rng, power=1e-4)  # -40 dBFS: plainly audible
    r = analyze((x[0] + buzz)[np.newaxis].astype(np.float32), sample_rate)
    assert r.hum_hz == 50.0 and total_s(r.hum_ranges) >= 20.0


def test_harmonics_folded_by_the_decimation_are_not_hum():
    """Regression (issue 13, found with item 1's dark voice): 220 Hz and its harmonics up to
    2.9 kHz read as 50 Hz hum 35 dB under the voice: the hum analysis decimates by group means,
    and at 44.1 kHz (30 samples a group) the 7th and 12th harmonics fold onto 150 and 300 Hz.
    Folded components are now 60 dB down: far under any note."""
    sample_rate = 44100
    t = np.arange(10 * sample_rate) / sample_rate
    voice = 0.05 * sum(np.sin(2 * np.pi * 220.0 * k * t) / k for k in range(1, 14))
    r = analyze(voice[np.newaxis].astype(np.float32), sample_rate)
    assert r.hum_hz is None or r.hum_level_db < -60.0


def test_a_note_on_50_hz_that_stops_with_the_music_is_not_hum():
    # A buzzy 50 Hz note only while the chords play; in the quiet passages between (noise at
    # -70 dBFS) it is gone, which mains hum never is.
    sample_rate = 44100
    rng = np.random.default_rng(6)
    music = 0.3 * chords(sample_rate, 24.0, rng)
    gate = np.ones(music.size)
    for a, b in [(6, 10), (16, 20)]:
        gate[a * sample_rate : b * sample_rate] = 0.0
    note = hum(sample_rate, music.size, 50.0, rng, power=1e-2 * float(np.mean(music**2)))
    noise = white_noise(sample_rate, 24.0, rng=rng, level_db=-70.0)[0]
    x = ((music + note) * gate + noise)[np.newaxis].astype(np.float32)
    assert analyze(x, sample_rate).hum_hz is None
    # the same hum left on through the quiet passages is hum, there too
    x = (music * gate + note + noise)[np.newaxis].astype(np.float32)
    r = analyze(x, sample_rate)
    assert r.hum_hz == 50.0
    for a, b in [(6, 10), (16, 20)]:
        assert any(lo <= a and b <= hi for lo, hi in r.hum_ranges)


# ---------------------------------------------------------------------------------------------
# noise


@pytest.mark.parametrize("num_channels", [1, 2])
def test_noise_floor_is_the_quietest_tenth_of_the_frames(num_channels):
    # 4 s of a sine, 1 s of digital silence (ignored) and 1 s of noise at -60 dBFS RMS: the
    # quietest 10 % of the 50 audible frames are 5 noise frames.
    sample_rate = 44100
    rng = np.random.default_rng(7)
    x = np.concatenate(
        [
            sine(sample_rate, 4.0, level_db=-10.0, num_channels=num_channels),
            silence(sample_rate, 1.0, num_channels=num_channels),
            white_noise(sample_rate, 1.0, rng=rng, level_db=-60.0, num_channels=num_channels),
        ],
        axis=1,
    )
    r = analyze(x, sample_rate)
    noise = x[:, 5 * sample_rate :].astype(np.float64)
    # the five quietest noise frames are a little below the noise's mean (each 100 ms frame's
    # mean square scatters by sqrt(2 / 4410) = 2 %, i.e. 0.1 dB)
    assert r.noise_floor_dbfs == pytest.approx(10 * math.log10(np.mean(noise**2)), abs=0.2)


@pytest.mark.parametrize(
    ("fill", "expected"),
    [
        ("silence", False),
        ("white -60", True),
        ("pink -60", True),
        ("white -80", True),  # hiss under a quiet stem still comes up with the fader
        ("white -100", False),  # under -85 dBFS: a 16-bit dither floor is flat noise too
        ("chord -50", False),  # steady, but a few notes, not noise
        ("reverb tail", False),  # noise, but decaying at 58 dB/s, not steady
    ],
)
def test_noise_in_gaps(fill, expected):
    sample_rate = 44100
    rng = np.random.default_rng(8)
    loud = white_noise(sample_rate, 3.0, rng=rng, level_db=-20.0)[0]
    t = np.arange(2 * sample_rate) / sample_rate
    gap = {
        "silence": lambda: np.zeros(t.size),
        "white -60": lambda: white_noise(sample_rate, 2.0, rng=rng, level_db=-60.0)[0],
        "pink -60": lambda: pink_noise(sample_rate, 2.0, rng=rng, level_db=-60.0)[0],
        "white -80": lambda: white_noise(sample_rate, 2.0, rng=rng, level_db=-80.0)[0],
        "white -100": lambda: white_noise(sample_rate, 2.0, rng=rng, level_db=-100.0)[0],
        "chord -50": lambda: sum(0.003 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6, 440.0)),
        "reverb tail": lambda: white_noise(sample_rate, 2.0, rng=rng, level_db=-30.0)[0] * np.exp(-t / 0.15),
    }[fill]()
    x = np.concatenate([loud, gap, loud])[np.newaxis].astype(np.float32)
    assert analyze(x, sample_rate).noise_in_gaps is expected


# ---------------------------------------------------------------------------------------------
# bandwidth


def elliptic_lowpass(cutoff_hz: float, sample_rate: int) -> np.ndarray:
    """A steep (order 12, 0.1 dB ripple, 100 dB stop band) elliptic low-pass, like an MP3
    encoder's band limit."""
    return scipy.signal.ellip(12, 0.1, 100.0, cutoff_hz, fs=sample_rate, output="sos")


def frequency_at_db(sos: np.ndarray, sample_rate: int, level_db: float, start_hz: float) -> float:
    """Oracle: the first frequency above ``start_hz`` where the filter is ``level_db`` down."""
    freqs = np.arange(start_hz, sample_rate / 2, 0.5)
    _, h = scipy.signal.sosfreqz(sos, worN=freqs, fs=sample_rate)
    return float(freqs[np.argmax(20 * np.log10(np.abs(h)) < level_db)])


@pytest.mark.parametrize("cutoff_hz", [11000.0, 16000.0])
@pytest.mark.parametrize("noise", ["white", "pink"])
def test_a_brick_wall_band_limit_is_found(noise, cutoff_hz):
    sample_rate = 44100
    rng = np.random.default_rng(int(cutoff_hz))
    source = {"white": white_noise, "pink": pink_noise}[noise](sample_rate, 10.0, rng=rng)
    sos = elliptic_lowpass(cutoff_hz, sample_rate)
    x = scipy.signal.sosfilt(sos, source.astype(np.float64)).astype(np.float32)
    r = analyze(x, sample_rate)
    # the cliff is reported where it is 10 dB down (0.7-1.4 % above the pass band's edge for
    # this filter); the 1024-point Hann window blurs it by up to 2 bins of 43 Hz
    two_bins = 2 * sample_rate / 1024
    assert r.lowpass_hz == pytest.approx(frequency_at_db(sos, sample_rate, -10.0, cutoff_hz), abs=two_bins)
    if noise == "white":
        # flat up to the cliff: the bandwidth ends where the filter is 60 dB down
        assert r.bandwidth_hz == pytest.approx(frequency_at_db(sos, sample_rate, -60.0, cutoff_hz), abs=two_bins)


@pytest.mark.parametrize(("bit_rate_kbps", "lowpass_hz"), [(128, 17000.0), (192, 18600.0)])
def test_the_band_limit_of_a_real_mp3(bit_rate_kbps, lowpass_hz):
    # LAME low-passes at 17 kHz for 128 kbps and 18.6 kHz for 192 kbps (lame.c,
    # optimum_bandwidth), by zeroing whole polyphase sub-bands of fs / 64 = 689 Hz from the
    # first whose edge k / 31 of Nyquist reaches that frequency (lame_init_params_ppflt):
    # the audio stops at the lower edge of that sub-band.
    lameenc = pytest.importorskip("lameenc")
    soundfile = pytest.importorskip("soundfile")
    sample_rate = 44100
    x = pink_noise(sample_rate, 5.0, rng=np.random.default_rng(14), level_db=-20.0, num_channels=2)
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(bit_rate_kbps)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_channels(2)
    encoder.set_quality(2)
    mp3 = encoder.encode(np.round(x.T * 32767).astype(np.int16).tobytes()) + encoder.flush()
    try:
        decoded, rate = soundfile.read(io.BytesIO(bytes(mp3)), dtype="float32")
    except (RuntimeError, soundfile.LibsndfileError):
        pytest.skip("this libsndfile cannot decode MP3")
    assert rate == sample_rate
    first_zeroed = math.ceil(lowpass_hz / (sample_rate / 2) * 31)
    expected = first_zeroed * sample_rate / 64
    r = analyze(np.ascontiguousarray(decoded.T), sample_rate)
    # the sub-band filter bank's own transition is narrower than the 2-bin Hann blur
    assert r.lowpass_hz == pytest.approx(expected, abs=2 * sample_rate / 1024)


@pytest.mark.parametrize(
    "case", ["pink", "white", "first-order 3 kHz", "fourth-order 5 kHz", "sine", "chords"]
)
def test_natural_roll_off_and_tones_are_not_a_band_limit(case):
    sample_rate = 44100
    rng = np.random.default_rng(9)
    pink = pink_noise(sample_rate, 10.0, rng=rng).astype(np.float64)
    x = {
        "pink": lambda: pink,
        "white": lambda: white_noise(sample_rate, 10.0, rng=rng),
        # a dull source: 6 dB/octave above 3 kHz (9 dB/octave with the pink slope)
        "first-order 3 kHz": lambda: scipy.signal.sosfilt(
            scipy.signal.butter(1, 3000.0, fs=sample_rate, output="sos"), pink
        ),
        # a synth filter at 24 dB/octave loses 8 dB in 1/3 octave, far from 30 (its digital
        # version plunges towards Nyquist, but 60 dB down)
        "fourth-order 5 kHz": lambda: scipy.signal.sosfilt(
            scipy.signal.butter(4, 5000.0, fs=sample_rate, output="sos"), pink
        ),
        # nothing above the tone, but nothing broadband below it either
        "sine": lambda: sine(sample_rate, 5.0, frequency_hz=3000.0),
        "chords": lambda: 0.3 * chords(sample_rate, 10.0, rng),
    }[case]()
    r = analyze(np.atleast_2d(x).astype(np.float32), sample_rate)
    assert r.lowpass_hz is None


def test_white_noise_fills_the_band_and_a_tone_does_not():
    sample_rate = 48000
    rng = np.random.default_rng(10)
    r = analyze(white_noise(sample_rate, 5.0, rng=rng), sample_rate)
    assert r.bandwidth_hz == sample_rate / 2  # the Nyquist bin is within 60 dB too
    r = analyze(sine(sample_rate, 5.0, frequency_hz=1000.0), sample_rate)
    # the Hann window's side lobes fall below -60 dB within a few bins of 47 Hz
    assert 1000.0 < r.bandwidth_hz < 1500.0


# ---------------------------------------------------------------------------------------------
# silence, empty streams, streaming, serialisation, errors


def numbers(r: StemDefects) -> list[float]:
    d = r.to_dict()
    values = [v for k, v in d.items() if isinstance(v, float | int) and not isinstance(v, bool)]
    values += [t for k in ("clip_ranges", "hum_ranges") for pair in d[k] for t in pair]
    return [float(v) for v in values]


def test_silence_gives_defined_values_without_warnings():
    sample_rate = 44100
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        r = analyze(silence(sample_rate, 5.0, num_channels=2), sample_rate)
    assert r == StemDefects(
        duration_s=5.0,
        peak_dbfs=LEVEL_FLOOR_DB,
        clipped_samples=0,
        clip_ranges=[],
        dc_offset_db=LEVEL_FLOOR_DB,
        hum_hz=None,
        hum_level_db=LEVEL_FLOOR_DB,
        hum_ranges=[],
        noise_floor_dbfs=LEVEL_FLOOR_DB,
        noise_in_gaps=False,
        loud_dbfs=LEVEL_FLOOR_DB,
        bandwidth_hz=0.0,
        lowpass_hz=None,
    )


@pytest.mark.parametrize("pushes", [[], [np.zeros((2, 0), dtype=np.float32)], [np.full((2, 1), 0.5, np.float32)]])
def test_empty_and_tiny_streams(pushes):
    meter = DefectAnalyzer(48000, 2)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        for block in pushes:
            meter.push(block)
        r = meter.result()
    num = sum(b.shape[1] for b in pushes)
    assert r.duration_s == num / 48000
    assert r.clipped_samples == 0
    assert r.peak_dbfs == (20 * math.log10(0.5) if num else LEVEL_FLOOR_DB)
    assert all(math.isfinite(v) for v in numbers(r))


def rich_signal(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """15 s of stereo with a bit of everything: chords over a pink-noise bed, 60 Hz hum, a DC
    offset, a band limit at 16 kHz, a gap of hiss, and a clipped burst."""
    music = 0.3 * chords(sample_rate, 15.0, rng)
    x = np.tile(music, (2, 1)) + pink_noise(sample_rate, 15.0, rng=rng, level_db=-40.0, num_channels=2)
    t = np.arange(music.size) / sample_rate
    x[:, (t >= 9.0) & (t < 11.0)] = 0.001 * rng.standard_normal((2, 2 * sample_rate))
    x += hum(sample_rate, music.size, 60.0, rng, power=1e-2 * float(np.mean(music**2)))
    x[1] += 0.002
    x = scipy.signal.sosfilt(elliptic_lowpass(16000.0, sample_rate), x, axis=1)
    burst = (t >= 3.0) & (t < 3.5)
    x[:, burst] = np.clip(1.2 * x[:, burst] / np.max(np.abs(x[:, burst])), -1.0, 1.0)
    return x.astype(np.float32)


def test_the_result_does_not_depend_on_the_block_sizes():
    sample_rate = 44100
    rng = np.random.default_rng(12)
    x = rich_signal(sample_rate, rng)
    reference = analyze(x, sample_rate, block_size=x.shape[1]).to_dict()
    # a rich case
    assert reference["clipped_samples"] > 0 and reference["hum_hz"] == 60.0
    assert reference["lowpass_hz"] is not None
    assert analyze(x, sample_rate, block_size=32768).to_dict() == reference
    meter = DefectAnalyzer(sample_rate, 2)
    for i, block in enumerate(split_blocks(x, rng, max_block=20000)):
        meter.push(block)
        if i % 50 == 0:
            meter.result()  # looking at the result midway changes nothing
    assert meter.result().to_dict() == reference
    assert all(math.isfinite(v) for v in numbers(meter.result()))


def test_to_dict_round_trips_through_json_exactly():
    sample_rate = 44100
    r = analyze(rich_signal(sample_rate, np.random.default_rng(13)), sample_rate)
    assert r.lowpass_hz is not None and r.hum_hz is not None and r.clip_ranges  # nothing left out
    # plain Python values, not NumPy scalars
    assert all(type(getattr(r, f)) in (int, float, bool, list, type(None)) for f in r.__dataclass_fields__)
    text = json.dumps(r.to_dict(), allow_nan=False)
    assert StemDefects.from_dict(json.loads(text)) == r
    alignment = pair_alignment(np.arange(100.0), np.arange(100.0) ** 2, sample_rate)
    assert PairAlignment.from_dict(json.loads(json.dumps(alignment.to_dict(), allow_nan=False))) == alignment


def test_from_dict_refuses_other_versions_and_missing_fields():
    d = analyze(silence(8000, 1.0), 8000).to_dict()
    with pytest.raises(InvalidParameterError) as excinfo:
        StemDefects.from_dict({**d, "version": 999})
    assert excinfo.value.code == "analysis.version"
    del d["hum_ranges"]
    with pytest.raises(InvalidParameterError) as excinfo:
        StemDefects.from_dict(d)
    assert excinfo.value.code == "analysis.bad_defects"


def test_bad_blocks_and_parameters_raise():
    meter = DefectAnalyzer(44100, 2)
    with pytest.raises(InvalidParameterError, match="shape"):
        meter.push(np.zeros((1, 100), dtype=np.float32))
    block = np.zeros((2, 100), dtype=np.float32)
    block[1, 50] = np.nan
    with pytest.raises(InvalidAudioError) as excinfo:
        meter.push(block)
    assert excinfo.value.code == "audio.non_finite"
    with pytest.raises(InvalidParameterError) as excinfo:
        DefectAnalyzer(1000, 1)
    assert excinfo.value.code == "parameter.sample_rate"


# ---------------------------------------------------------------------------------------------
# pairs of tracks


def delayed_pair(source: np.ndarray, delay: int, num: int, offset: int = 2400) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` cut from one signal, ``b[n] = a[n - delay]`` (``b`` late)."""
    return source[offset : offset + num], source[offset - delay : offset - delay + num]


def test_opposite_polarity():
    sample_rate = 48000
    a = white_noise(sample_rate, 5.0, rng=np.random.default_rng(20))[0]
    r = pair_alignment(a, -a, sample_rate)
    assert r.peak_correlation == pytest.approx(-1.0, abs=1e-9)
    assert r.correlation_at_zero == pytest.approx(-1.0, abs=1e-9)
    assert r.lag_ms == 0.0
    assert r.polarity_inverted
    assert r.cancellation_db == -60.0  # a + b = 0: total cancellation, clamped
    assert r.low_cancellation_db == -60.0


@pytest.mark.parametrize("delay", [240, -240, 24])
@pytest.mark.parametrize("band_limit_hz", [4000.0, None])
def test_the_lag_of_a_delayed_copy(delay, band_limit_hz):
    sample_rate = 48000  # 5 ms = 240 samples, 0.5 ms = 24
    source = white_noise(sample_rate, 10.2, rng=np.random.default_rng(21))[0].astype(np.float64)
    a, b = delayed_pair(source, delay, 10 * sample_rate)
    r = pair_alignment(a, b, sample_rate, band_limit_hz=band_limit_hz)
    assert r.lag_ms == pytest.approx(delay / sample_rate * 1000, abs=1000 / sample_rate)
    # the overlap of the two excerpts is all but |delay| samples of the energy
    assert r.peak_correlation == pytest.approx(1 - abs(delay) / a.size, abs=0.005)
    assert not r.polarity_inverted


def test_comb_filter_of_white_noise_and_its_delayed_copy():
    # E(a + b) / (E(a) + E(b)) = 1 + r(d): white noise is uncorrelated with itself 24 samples
    # later (0 dB), but below 250 Hz the phase shift 2 pi f d stays under 45 degrees:
    # 1 + mean(cos 2 pi f d) over 0..250 Hz = 1 + sin(x) / x with x = 2 pi 250 d.
    sample_rate = 48000
    d = 24
    source = white_noise(sample_rate, 10.2, rng=np.random.default_rng(22))[0].astype(np.float64)
    a, b = delayed_pair(source, d, 10 * sample_rate)
    r = pair_alignment(a, b, sample_rate)
    x = 2 * math.pi * 250.0 * d / sample_rate
    # random spectral weights of 2500 bins below 250 Hz: +-0.1 dB; r(24) of white noise is
    # within 4 / sqrt(N) = 0.006 of 0
    assert r.cancellation_db == pytest.approx(0.0, abs=0.03)
    assert r.low_cancellation_db == pytest.approx(10 * math.log10(1 + math.sin(x) / x), abs=0.1)


def test_comb_filter_of_low_noise_and_its_delayed_copy_adds_almost_3_db():
    # noise flat from 20 to 200 Hz: 1 + (sin(2 pi f2 d) - sin(2 pi f1 d)) / (2 pi d (f2 - f1))
    sample_rate = 48000
    d_s = 0.0005
    source = band_limited_noise(sample_rate, 10.2, rng=np.random.default_rng(23), low_hz=20.0, high_hz=200.0)
    a, b = delayed_pair(source[0].astype(np.float64), 24, 10 * sample_rate)
    r = pair_alignment(a, b, sample_rate)
    mean_cos = (math.sin(2 * math.pi * 200 * d_s) - math.sin(2 * math.pi * 20 * d_s)) / (2 * math.pi * d_s * 180)
    expected = 10 * math.log10(1 + mean_cos)
    assert r.cancellation_db == pytest.approx(expected, abs=0.05)
    assert r.low_cancellation_db == pytest.approx(expected, abs=0.05)  # all of it is below 250 Hz
    assert r.correlation_at_zero == pytest.approx(mean_cos, abs=0.02)


def test_identical_tracks_add_3_db():
    a = white_noise(44100, 3.0, rng=np.random.default_rng(24))[0]
    r = pair_alignment(a, a, 44100)
    assert r.cancellation_db == pytest.approx(10 * math.log10(2), abs=1e-9)
    assert r.peak_correlation == pytest.approx(1.0, abs=1e-9)
    assert r.lag_ms == 0.0


def test_independent_noises_do_not_correlate():
    rng = np.random.default_rng(25)
    a = white_noise(48000, 10.0, rng=rng)[0]
    b = white_noise(48000, 10.0, rng=rng)[0]
    for band_limit_hz in (4000.0, None):
        r = pair_alignment(a, b, 48000, band_limit_hz=band_limit_hz)
        assert abs(r.peak_correlation) < 0.1
        assert abs(r.correlation_at_zero) < 0.1
        assert not r.polarity_inverted
        assert r.cancellation_db == pytest.approx(0.0, abs=0.1)


def test_two_microphones_correlate_better_below_4_khz():
    # Each "microphone" hears the same pink source (2 ms apart) plus its own white hiss of the
    # same power. Full band, r = 1/2. Below 4 kHz the source keeps ln(4000/10) / ln(24000/10) =
    # 77 % of its power and the hiss 4000 / 24000, so r = 0.770 / (0.770 + 0.167) = 0.822.
    sample_rate = 48000
    rng = np.random.default_rng(26)
    num = 10 * sample_rate
    source = pink_noise(sample_rate, 10.2, rng=rng).astype(np.float64)[0]
    a, b = delayed_pair(source, 96, num)
    level = float(np.std(source))
    a = a + level * rng.standard_normal(num)
    b = b + level * rng.standard_normal(num)
    in_band = math.log(4000 / 10) / math.log(24000 / 10)
    expected = in_band / (in_band + 4000 / 24000)
    r = pair_alignment(a, b, sample_rate)
    assert r.peak_correlation == pytest.approx(expected, abs=0.02)
    assert r.lag_ms == pytest.approx(2.0, abs=1000 / sample_rate)
    assert pair_alignment(a, b, sample_rate, band_limit_hz=None).peak_correlation == pytest.approx(0.5, abs=0.02)


def test_pair_alignment_checks_its_input():
    a = np.zeros(100)
    assert pair_alignment(a, np.ones(100), 44100) == PairAlignment(0.0, 0.0, 0.0, False, 0.0, 0.0)
    assert pair_alignment(np.zeros(0), np.zeros(0), 44100).lag_ms == 0.0
    with pytest.raises(InvalidParameterError) as excinfo:
        pair_alignment(a, np.zeros(99), 44100)
    assert excinfo.value.code == "audio.length_mismatch"
    with pytest.raises(InvalidParameterError):
        pair_alignment(np.zeros((2, 100)), np.zeros((2, 100)), 44100)
    with pytest.raises(InvalidParameterError):
        pair_alignment(a, a, 44100, max_lag_ms=0.0)
    bad = np.ones(100)
    bad[3] = np.inf
    with pytest.raises(InvalidAudioError):
        pair_alignment(bad, a, 44100)


def test_excerpt_windows_take_the_longest_runs_first():
    a = np.array([1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0], dtype=bool)
    b = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0], dtype=bool)  # shorter: the rest is off
    # both play in frames 0-2, 4-8 and 10; with 0.5 s frames that is 1.5 s, 2.5 s and 0.5 s
    assert excerpt_windows(a, b, 0.5, seconds=10.0) == [(2.0, 4.5), (0.0, 1.5), (5.0, 5.5)]
    # 3 s: all of the longest run, then the middle 0.5 s of the next
    assert excerpt_windows(a, b, 0.5, seconds=3.0) == [(2.0, 4.5), (0.5, 1.0)]
    # 1 s: the middle of the longest run
    assert excerpt_windows(a, b, 0.5, seconds=1.0) == [(2.5, 3.5)]
    assert excerpt_windows(a, ~a, 0.5) == []
    with pytest.raises(InvalidParameterError):
        excerpt_windows(a, b, 0.0)


def test_float_overs_are_not_clipping_but_a_clip_at_full_scale_is():
    """A float stem peaking at +6 dBFS was not cut: nothing is flat. The same sine hard-clipped
    at 1.0 is flat at full scale on every half cycle."""
    sr = 44100
    t = np.arange(2 * sr) / sr
    over = (2.0 * np.sin(2 * np.pi * 440.0 * t))[np.newaxis].astype(np.float32)
    assert analyze(over, sr).clipped_samples == 0
    clipped = np.clip(over, -1.0, 1.0)
    # 440 Hz at amplitude 2: |sin| >= 0.5 for 2/3 of each cycle, every sample of that at 1.0
    expected = np.count_nonzero(np.abs(clipped) >= 0.999)
    assert analyze(clipped, sr).clipped_samples == pytest.approx(expected, rel=0.01)


@pytest.mark.parametrize(("gain", "delay"), [(0.5, 18), (0.25, 18), (0.5, 3)])
def test_comb_notch_of_a_delayed_copy(gain, delay):
    # x + g x(t - d) notches at 1 / (2 d) by 10 log10((1 - g)^2 / (1 + g^2)) against the power sum.
    sample_rate = 44100
    x = np.random.default_rng(3).standard_normal(5 * sample_rate)
    y = np.concatenate((np.zeros(delay), x[:-delay])) * gain
    r = pair_alignment(x, y, sample_rate)
    assert r.notch_db == pytest.approx(10 * math.log10((1 - gain) ** 2 / (1 + gain**2)), abs=0.5)
    assert r.notch_hz == pytest.approx(sample_rate / (2 * delay), rel=2 ** (1 / 12) - 1)


def test_unrelated_tracks_have_no_comb_notch():
    rng = np.random.default_rng(4)
    r = pair_alignment(rng.standard_normal(5 * 44100), rng.standard_normal(5 * 44100), 44100)
    assert r.notch_db > -1.5


def hum_in_white_noise(prominence_db: float, harmonics: range, seed: int) -> np.ndarray:
    """20 s of white noise (sigma 0.05) with harmonics of 50 Hz that stand out by
    ``prominence_db`` in the hum analysis. In its 1 s Hann spectrum padded to 2 s (bins 0.5 Hz,
    equivalent noise bandwidth 3 bins) a harmonic of amplitude A peaks at (A^2 / 2) / 3 per bin
    over a floor whose median is ln 2 sigma^2 0.5 / 22050: it stands out by
    (A / sigma)^2 * 10606."""
    sample_rate = 44100
    rng = np.random.default_rng(seed)
    sigma = 0.05
    amplitude = sigma * math.sqrt(10 ** (prominence_db / 10) / (22050 / (2 * 3 * math.log(2) * 0.5)))
    t = np.arange(20 * sample_rate) / sample_rate
    buzz = sum(amplitude * np.sin(2 * np.pi * 50.0 * k * t + k) for k in harmonics)
    return (rng.standard_normal(t.size) * sigma + buzz)[np.newaxis].astype(np.float32)


@pytest.mark.parametrize(
    ("harmonics", "prominence_db", "found"),
    [
        # at 11 dB none of the six reaches 15 dB, but all pass 8 dB
        (range(1, 7), 11.0, True),
        (range(1, 7), 5.0, False),
        # at 12 dB a lone fundamental seldom reaches 15 dB, but holds 8 dB in seven of every eight seconds
        (range(1, 2), 12.0, True),
        (range(1, 2), 5.0, False),
    ],
)
def test_hum_that_stands_out_a_little_on_many_harmonics_or_for_long_is_hum(harmonics, prominence_db, found):
    r = analyze(hum_in_white_noise(prominence_db, harmonics, seed=21 if len(harmonics) > 1 else 22), 44100)
    if found:
        assert r.hum_hz == 50.0 and total_s(r.hum_ranges) >= 10.0
    else:
        assert r.hum_hz is None
