"""Role recognition: name rules (table-driven) and audio rules on synthetic instruments."""

import numpy as np
import pytest

from mixlab.analysis.loudness import array_blocks
from mixlab.analysis.roles import ROLE_LABELS, ROLES, RoleGuess, classify_role, role_from_name
from mixlab.analysis.track import TrackFeatures, analyze_track
from tests.fixtures.signals import silence

SR = 44100

# ---------------------------------------------------------------------------------------------
# names

NAME_CASES = [
    # drums
    ("Kick In", "kick"), ("03 - Kick In.wav", "kick"), ("01_Kick", "kick"), ("KickOut", "kick"),
    ("BD", "kick"), ("Kck 2", "kick"), ("Bass Drum", "kick"), ("808 Kick", "kick"), ("Sub Kick", "kick"),
    ("Snare Top", "snare"), ("Snr", "snare"), ("SD", "snare"), ("Clap", "snare"), ("808 Clap", "snare"),
    ("HH", "hats"), ("Hi-Hat", "hats"), ("HiHat", "hats"), ("hihat_closed01", "hats"), ("OH L", "hats"),
    ("Overheads", "hats"), ("Ride", "hats"), ("Crash", "hats"),
    ("Tom 1", "percussion"), ("Floor Tom", "percussion"), ("Perc Loop", "percussion"),
    ("Shaker", "percussion"), ("Congas", "percussion"), ("Tambourine", "percussion"),
    ("Drums", "drums"), ("Drum Kit", "drums"), ("drum_bus", "drums"), ("Room Mics", "drums"),
    ("Schlagzeug", "drums"), ("Batería", "drums"),
    # bass
    ("Bass", "bass"), ("Bass DI", "bass"), ("Sub", "bass"), ("808", "bass"), ("Synth Bass", "bass"),
    ("bassslap01", "bass"), ("Double Bass", "bass"), ("Basse", "bass"), ("Bajo", "bass"),
    # vocals
    ("Vox Lead", "lead_vocal"), ("Lead Vocal", "lead_vocal"), ("LeadVox", "lead_vocal"), ("Vocal", "lead_vocal"),
    ("Vox", "lead_vocal"), ("Gesang", "lead_vocal"), ("Voix", "lead_vocal"),
    ("BGV", "backing_vocals"), ("BVs", "backing_vocals"), ("Backing Vocals", "backing_vocals"),
    ("Vocal Harmony", "backing_vocals"), ("Choir", "backing_vocals"), ("Vox Double", "backing_vocals"),
    ("Chœur", "backing_vocals"),
    # instruments
    ("Gtr", "guitar"), ("Electric Guitar L", "guitar"), ("Lead Gtr", "guitar"), ("Acoustic", "guitar"),
    ("Gitarre", "guitar"),
    ("Piano", "keys"), ("Keys", "keys"), ("Rhodes", "keys"), ("Organ", "keys"), ("E-Piano", "keys"),
    ("EPiano", "keys"), ("FM-Rhodes", "keys"), ("Acoustic Piano", "keys"),
    ("Pad", "pads"), ("Strings", "pads"), ("Violins", "pads"), ("Synth Pad", "pads"), ("Soft-Saw-Pad", "pads"),
    ("Brass", "brass"), ("Sax", "brass"), ("Trumpet", "brass"), ("Flute", "brass"), ("Bassoon", "brass"),
    ("Bass Clarinet", "brass"), ("Horns", "brass"),
    ("Lead", "synth_lead"), ("Synth Lead", "synth_lead"), ("Lead Synth", "synth_lead"), ("Synth", "synth_lead"),
    ("Arp-Funky", "synth_lead"),
    # effects
    ("FX", "fx"), ("Riser", "fx"), ("White Noise Sweep", "fx"), ("Impact", "fx"), ("Sub Drop", "fx"),
    ("Vox FX", "fx"),
]  # fmt: skip

SILENT_NAMES = ["Audio 07", "Track 5", "01", "", "stem.wav", "Mix v2", "alien_curiousity.ds"]


@pytest.mark.parametrize(("name", "role"), NAME_CASES)
def test_role_from_name(name, role):
    guess = role_from_name(name)
    assert guess is not None, name
    assert guess.role == role
    assert guess.source == "name"
    assert 0.4 <= guess.confidence <= 1.0


@pytest.mark.parametrize("name", SILENT_NAMES)
def test_names_that_say_nothing(name):
    assert role_from_name(name) is None


def test_the_reason_quotes_the_words_that_decided():
    assert role_from_name("stems/03 - Kick In.wav").reason == 'file name says "Kick In"'
    assert role_from_name("Lead Vocal take 3").reason == 'file name says "Lead Vocal"'
    assert role_from_name("Bass DI.aif").reason == 'file name says "Bass DI"'


def test_specific_words_are_more_certain_than_vague_ones():
    assert role_from_name("Kick").confidence > role_from_name("Lead").confidence
    assert role_from_name("Bass").confidence > role_from_name("Sub").confidence
    assert role_from_name("Bassslap").confidence < role_from_name("Bass").confidence  # prefix only


def test_every_rule_gives_a_known_role():
    from mixlab.analysis.roles import _NAME_RULES

    assert set(ROLES) == set(ROLE_LABELS)
    assert {role for role, _, _ in _NAME_RULES} <= set(ROLES)


# ---------------------------------------------------------------------------------------------
# sound: synthetic instruments


def hits(sound: np.ndarray, times_s, duration_s: float) -> np.ndarray:
    """``sound`` (channels, n) added at each time."""
    out = np.zeros((sound.shape[0], int(duration_s * SR)))
    for t in times_s:
        i = int(round(t * SR))
        n = min(sound.shape[1], out.shape[1] - i)
        out[:, i : i + n] += sound[:, :n]
    return out


def band_noise(rng, n: int, low_hz: float, high_hz: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / SR)
    spectrum[(freqs < low_hz) | (freqs > high_hz)] = 0.0
    x = np.fft.irfft(spectrum, n)
    return x / np.sqrt(np.mean(x**2))


def kick(rng, duration_s: float = 12.0) -> np.ndarray:
    """Decaying 55 Hz sine bursts with a click, 2 per second."""
    t = np.arange(int(0.45 * SR)) / SR
    body = np.sin(2 * np.pi * 55.0 * t) * np.exp(-t / 0.1)
    click = 0.3 * rng.standard_normal(t.size) * np.exp(-t / 0.002)
    return 0.7 * hits((body + click)[np.newaxis], np.arange(0, duration_s, 0.5), duration_s)


def snare(rng, duration_s: float = 12.0) -> np.ndarray:
    """Noise (300 Hz - 6 kHz) and a 200 Hz body, on beats 2 and 4 at 120 BPM."""
    t = np.arange(int(0.3 * SR)) / SR
    hit = 0.6 * band_noise(rng, t.size, 300.0, 6000.0) * np.exp(-t / 0.06) + 0.5 * np.sin(2 * np.pi * 200 * t) * np.exp(
        -t / 0.04
    )
    return 0.5 * hits(hit[np.newaxis], np.arange(0.5, duration_s, 1.0), duration_s)


def hats(rng, duration_s: float = 12.0) -> np.ndarray:
    """High-passed noise bursts, 8 per second."""
    t = np.arange(int(0.1 * SR)) / SR
    hit = band_noise(rng, t.size, 6000.0, 20000.0) * np.exp(-t / 0.02)
    return 0.3 * hits(hit[np.newaxis], np.arange(0, duration_s, 0.125), duration_s)


def bass(rng, duration_s: float = 12.0) -> np.ndarray:
    """Held saw-like notes between 55 and 110 Hz, a new note every half second."""
    notes = [55.0, 73.42, 82.41, 110.0, 98.0, 65.41]
    n = int(0.5 * SR)
    t = np.arange(n) / SR
    envelope = np.minimum(1.0, t / 0.005) * np.minimum(1.0, (t[-1] - t) / 0.01 + 1e-3)
    out = [envelope * sum(np.sin(2 * np.pi * notes[k % 6] * h * t) / h for h in range(1, 9))
           for k in range(int(duration_s / 0.5))]
    return 0.3 * np.concatenate(out)[np.newaxis]


def pad(rng, duration_s: float = 12.0) -> np.ndarray:
    """A chord with a 1.5 s attack, detuned differently on the left and the right."""
    t = np.arange(int(duration_s * SR)) / SR
    channels = []
    for detune in (0.996, 1.004):
        x = sum(np.sin(2 * np.pi * f * detune * h * t + rng.uniform(0, 2 * np.pi)) / h**1.5
                for f in (220.0, 277.18, 329.63) for h in range(1, 6))
        channels.append(x * np.minimum(1.0, t / 1.5))
    return 0.06 * np.vstack(channels)


def features_of(x: np.ndarray) -> TrackFeatures:
    return analyze_track(array_blocks(x.astype(np.float32), 65536), SR, x.shape[0])


@pytest.mark.parametrize(
    ("make", "role"),
    [(kick, "kick"), (snare, "snare"), (hats, "hats"), (bass, "bass"), (pad, "pads")],
)
def test_audio_rules_on_synthetic_instruments(rng, make, role):
    f = features_of(make(rng))
    guess = classify_role(f)
    assert guess.role == role, guess
    assert guess.source == "audio"
    assert 0.3 <= guess.confidence <= 0.7  # audio guesses are capped below name guesses
    assert guess.reason and "\n" not in guess.reason


def test_the_name_wins_over_the_sound(rng):
    f = features_of(hats(rng))
    assert classify_role(f, "Bass DI") == RoleGuess("bass", 0.9, "name", 'file name says "Bass DI"')
    assert classify_role(f, "Audio 3").source == "audio"
    assert classify_role(f, None).role == "hats"


def test_kick_reason_names_what_was_heard(rng):
    reason = classify_role(features_of(kick(rng))).reason
    assert reason.startswith("short low-frequency hits") and "onsets/s" in reason


def test_a_silent_track_is_fx_with_no_confidence():
    guess = classify_role(features_of(silence(SR, 3.0, num_channels=2)))
    assert guess == RoleGuess("fx", 0.0, "audio", "the track is silent")
    assert classify_role(features_of(silence(SR, 3.0)), "Kick").role == "kick"
