"""The mixing engine end to end on a synthetic session: plans, locks, render, headroom, stems."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixlab.analysis.loudness import integrated_loudness
from mixlab.analysis.truepeak import measure_true_peak
from mixlab.engine.mix import MIX_SCHEMA, track_section
from mixlab.engine.mixing import load_mix_plan, mix, render, write_plan
from mixlab.engine.plan import Plan
from mixlab.engine.roles_data import role_convention, stems_balance_spread_lu
from mixlab.errors import InvalidAudioError, InvalidParameterError, MixlabError
from tests.fixtures.multitrack import write_session

NAMES = ["Kick", "Snare", "HiHat", "Bass", "Pad", "Vox Lead"]


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("stems")
    write_session(folder)
    return folder


@pytest.fixture(scope="module")
def mixed(session, tmp_path_factory):
    out = tmp_path_factory.mktemp("mix")
    result = mix(session, out / "mix.wav", use_cache=False, stems_out=out / "stems", bit_depth="32f")
    return result, out


def _gains(plan: Plan) -> dict[str, float]:
    return {n: plan.get(track_section(n), "gain_db") for n in NAMES}


def test_plan_has_every_decision_with_source_reason_and_lock(mixed):
    result, out = mixed
    raw = json.loads(result.plan.to_json())
    assert raw["schema"] == MIX_SCHEMA
    for name in NAMES:
        section = raw["sections"][track_section(name)]
        for param in ("role", "gain_db", "pan", "polarity_inverted", "offset_ms", "highpass_hz", "eq", "comp_threshold_db",
                      "comp_ratio", "comp_attack_ms", "comp_release_ms", "comp_knee_db", "comp_makeup_db",
                      "deess_threshold_db", "reverb_send_db", "delay_send_db", "bus"):
            p = section[param]
            assert set(p) == {"value", "source", "reason", "locked"}, (name, param)
            assert p["source"] == "ai" and p["reason"] and p["locked"] is False
    for bus in ("bus:drums", "bus:mix", "bus:reverb", "bus:delay"):
        assert raw["sections"][bus]


def test_roles_from_names_and_centre_anchors(mixed):
    plan = mixed[0].plan
    roles = {n: plan.get(track_section(n), "role") for n in NAMES}
    assert roles == {"Kick": "kick", "Snare": "snare", "HiHat": "hats", "Bass": "bass", "Pad": "pads", "Vox Lead": "lead_vocal"}
    for centred in ("Kick", "Snare", "Bass", "Vox Lead"):
        assert plan.get(track_section(centred), "pan") == 0.0
    assert plan.get(track_section("HiHat"), "pan") != 0.0
    assert plan.get(track_section("Vox Lead"), "deess_threshold_db") is not None
    assert plan.get(track_section("Kick"), "deess_threshold_db") is None
    assert plan.get(track_section("Kick"), "bus") == "drums" and plan.get(track_section("Pad"), "bus") == "mix"


def test_mix_peaks_at_minus_6_dbtp_without_clipping(mixed):
    result, out = mixed
    audio, sr = sf.read(out / "mix.wav", dtype="float32", always_2d=True)
    tp = measure_true_peak(audio.T, sr).true_peak_dbtp
    assert -6.3 < tp < -5.7
    assert -8.0 <= result.measured["true_peak_dbtp"] <= -3.0
    assert result.measured["clipped_samples"] == 0
    assert np.max(np.abs(audio)) < 10 ** (-5.5 / 20)


def test_lead_vocal_is_loudest_stem_and_hats_below_kick(mixed):
    result, out = mixed
    loud = {n: integrated_loudness(sf.read(out / "stems" / f"{n}.wav", dtype="float32", always_2d=True)[0].T, 44100)
            for n in NAMES}
    assert max(loud, key=loud.get) in ("Vox Lead", "Kick")
    assert loud["Vox Lead"] > loud["Pad"] and loud["Kick"] > loud["HiHat"]


def test_balance_weighs_role_targets_against_the_delivered_balance(tmp_path, mixed):
    """Scaling a stem by p moves its level in the mix by (1 - w) p, w = s_in^2 / (s_in^2 + s_role^2)."""
    perturb = {"Kick": -7.0, "Snare": 4.0, "HiHat": 9.0, "Bass": -3.0, "Pad": 6.0, "Vox Lead": -9.5}
    folder = tmp_path / "perturbed"
    write_session(folder, gains_db=perturb)
    result = mix(folder, tmp_path / "mix.wav", use_cache=False)
    base = _gains(mixed[0].plan)
    got = _gains(result.plan)
    s_in = stems_balance_spread_lu()
    kept = {}
    for n in NAMES:
        spread = role_convention(result.plan.get(track_section(n), "role")).spread_lu
        kept[n] = spread**2 / (s_in**2 + spread**2)
    # the level each stem ends at, against the unperturbed mix, up to one common offset
    moved = np.array([got[n] + perturb[n] - base[n] for n in NAMES])
    expected = np.array([kept[n] * perturb[n] for n in NAMES])
    residual = (moved - moved.mean()) - (expected - expected.mean())
    assert np.max(np.abs(residual)) < 1.0, dict(zip(NAMES, residual.round(2)))
    # firm roles are corrected more than loose ones
    assert kept["Kick"] < kept["Pad"]


def test_render_gives_the_same_samples_as_mix(mixed, tmp_path):
    result, out = mixed
    again = render(result.plan, tmp_path / "again.wav", bit_depth="32f")
    a, _ = sf.read(out / "mix.wav", dtype="float32")
    b, _ = sf.read(tmp_path / "again.wav", dtype="float32")
    assert np.array_equal(a, b)
    assert again.measured["true_peak_dbtp"] == pytest.approx(result.measured["true_peak_dbtp"], abs=0.01)


def test_locked_values_come_back_exactly_and_the_rest_moves(mixed, session, tmp_path):
    plan = mixed[0].plan.copy()
    before = _gains(plan)
    locked_gain = before["Vox Lead"] + 3.0
    plan.set_user(track_section("Vox Lead"), "gain_db", locked_gain)
    plan.set_user(track_section("Kick"), "comp_attack_ms", 42.0)
    plan.set_user(track_section("Pad"), "pan", -0.8)
    result = mix(session, tmp_path / "relocked.wav", plan_in=plan, use_cache=False)
    after = _gains(result.plan)
    assert after["Vox Lead"] == locked_gain
    assert result.plan.get(track_section("Kick"), "comp_attack_ms") == 42.0
    assert result.plan.get(track_section("Pad"), "pan") == -0.8
    p = result.plan.param(track_section("Vox Lead"), "gain_db")
    assert p.locked and p.source == "user"
    moved = [n for n in NAMES if n != "Vox Lead" and abs(after[n] - before[n]) > 0.05]
    assert moved, (before, after)


def test_unlocked_rerun_is_deterministic(mixed, session, tmp_path):
    result = mix(session, tmp_path / "again.wav", plan_in=mixed[0].plan, use_cache=False)
    assert _gains(result.plan) == _gains(mixed[0].plan)


def test_processed_stems_sum_to_the_mix_when_buses_are_neutral(session, tmp_path):
    first = mix(session, tmp_path / "first.wav", use_cache=False)
    plan = first.plan.copy()
    for n in NAMES:
        plan.set_user(track_section(n), "reverb_send_db", None)
        plan.set_user(track_section(n), "delay_send_db", None)
    plan.set_user("bus:drums", "comp_ratio", 1.0)
    plan.set_user("bus:mix", "comp_ratio", 1.0)
    plan.set_user("bus:mix", "eq", [])
    result = render(plan, tmp_path / "neutral.wav", stems_out=tmp_path / "stems", bit_depth="32f")
    assert sorted(Path(s).name for s in result.stems) == sorted(f"{n}.wav" for n in NAMES)
    total = sum(sf.read(s, dtype="float64")[0] for s in result.stems)
    mixed_audio = sf.read(tmp_path / "neutral.wav", dtype="float64")[0]
    assert np.max(np.abs(total - mixed_audio)) < 1e-5


def test_offset_and_polarity_move_the_stem_exactly(session, tmp_path, mixed):
    # The compressor's gain computer runs on 32-sample frames, so a 441-sample shift moves its
    # frame grid; with the dynamics off the strip is linear and time-invariant.
    plan = mixed[0].plan.copy()
    snare = track_section("Snare")
    plan.set_user(snare, "comp_ratio", 1.0)
    render(plan, tmp_path / "base.wav", stems_out=tmp_path / "base", bit_depth="32f")
    plan.set_user(snare, "offset_ms", 10.0)
    plan.set_user(snare, "polarity_inverted", True)
    render(plan, tmp_path / "nudged.wav", stems_out=tmp_path / "nudged", bit_depth="32f")
    base = sf.read(tmp_path / "base" / "Snare.wav", dtype="float64")[0]
    nudged = sf.read(tmp_path / "nudged" / "Snare.wav", dtype="float64")[0]
    shift = 441  # 10 ms at 44.1 kHz
    assert np.max(np.abs(base)) > 0.01
    np.testing.assert_allclose(nudged[shift:], -base[:-shift], atol=1e-6)
    assert np.max(np.abs(nudged[:shift])) == 0.0


def test_role_override_is_kept(session, tmp_path):
    plan = Plan(schema=MIX_SCHEMA)
    plan.set_user(track_section("Pad"), "role", "keys")
    result = mix(session, tmp_path / "m.wav", plan_in=plan, use_cache=False)
    assert result.plan.get(track_section("Pad"), "role") == "keys"
    assert result.plan.param(track_section("Pad"), "role").source == "user"


def test_unknown_role_is_refused(session, tmp_path):
    plan = Plan(schema=MIX_SCHEMA)
    plan.set_user(track_section("Pad"), "role", "tuba")
    with pytest.raises(InvalidParameterError, match="unknown role 'tuba'"):
        mix(session, tmp_path / "m.wav", plan_in=plan, use_cache=False)
    assert not (tmp_path / "m.wav").exists()


def test_silent_stem_is_reported_and_left_out(tmp_path):
    folder = tmp_path / "stems"
    write_session(folder, duration_s=3.0)
    sf.write(folder / "Empty Take.wav", np.zeros((3 * 44100, 1), np.float32), 44100)
    result = mix(folder, tmp_path / "m.wav", use_cache=False, stems_out=tmp_path / "out")
    entry = next(t for t in result.plan.context["tracks"] if t["name"] == "Empty Take")
    assert entry["silent"] is True
    assert result.plan.get(track_section("Empty Take"), "mute") is True
    assert not (tmp_path / "out" / "Empty Take.wav").exists()


def test_all_silent_is_a_clear_error(tmp_path):
    folder = tmp_path / "stems"
    folder.mkdir()
    for n in ("a", "b"):
        sf.write(folder / f"{n}.wav", np.zeros((44100, 1), np.float32), 44100)
    with pytest.raises(MixlabError, match="silent"):
        mix(folder, tmp_path / "m.wav", use_cache=False)
    assert not (tmp_path / "m.wav").exists()


def test_plan_file_round_trip(mixed, tmp_path):
    path = tmp_path / "plan.json"
    write_plan(mixed[0].plan, path)
    again = load_mix_plan(path)
    assert again.to_dict() == mixed[0].plan.to_dict()


def test_output_over_an_input_is_refused(session, tmp_path):
    with pytest.raises(InvalidParameterError, match="overwrite an input"):
        mix(session, session / "Kick.wav", use_cache=False)


def test_unreadable_stem_is_named(tmp_path):
    folder = tmp_path / "stems"
    write_session(folder, duration_s=2.0)
    (folder / "Broken Gtr.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(InvalidAudioError, match="Broken Gtr.wav"):
        mix(folder, tmp_path / "m.wav", use_cache=False)
    assert not (tmp_path / "m.wav").exists()


def test_the_loudness_model_is_relative_loudness_in_closed_form() -> None:
    """The balance solve's n x n form gives what relative_loudness sums frame by frame (float64
    round-off), for any gains, with tracks that play in different frames."""
    from mixlab.engine.mix import LoudnessModel, relative_loudness

    rng = np.random.default_rng(3)
    kp = rng.random((6, 400)) ** 4
    active = rng.random((6, 400)) > 0.4
    model = LoudnessModel(kp, active)
    for _ in range(5):
        gains = rng.uniform(-20, 20, 6)
        np.testing.assert_allclose(model(gains), relative_loudness(gains, kp, active), rtol=0, atol=1e-9)
