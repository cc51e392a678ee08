"""Mix Notes on an AI plan and its edits (issue 13): fixes the schema accepts, the rendered level
(clipping included) followed live, advice worded for where it is read, and level notes that
agree with the balance the mixer solved."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixlab.engine.mixing import mix, render
from mixlab.engine.notes import NotesSession, apply_fix
from mixlab.engine.params import check_value
from mixlab.errors import InvalidParameterError, MixlabError
from tests.fixtures.multitrack import write_session
from tests.fixtures.signals import sine

SR = 44100
LEVEL_CODES = ("level_balance", "buried_lead")
PEAK_CODES = ("clipping", "true_peak_over")


def _changes(notes):
    return [c for n in notes if n.fix.get("kind") == "patch" for c in n.fix["changes"]]


@pytest.fixture(scope="module")
def perturbed(tmp_path_factory):
    """The example session with stems delivered far off their usual balance: the pad 20 dB
    down, the hats 12 dB up, the vocal 9 dB down; mixed by the AI."""
    folder = tmp_path_factory.mktemp("perturbed")
    write_session(folder / "stems", duration_s=8.0, gains_db={"Pad": -20.0, "HiHat": 12.0, "Vox Lead": -9.0})
    result = mix(folder / "stems", folder / "mix.wav", use_cache=False)
    return folder, result


def test_a_fresh_ai_mix_has_no_level_note_against_its_own_balance(perturbed):
    """Regression (issue 13, notes agree with the mix): the level notes judged against the role
    conventions alone while the mixer weighs them against the delivered balance, so a fresh AI
    mix was told to move its own faders by 13 dB. Judged by the mixer's model, nothing is left."""
    _, result = perturbed
    plan = result.plan
    notes = result.notes_session.evaluate(plan)
    level = [n for n in notes if n.code in LEVEL_CODES and n.severity != "info"]
    assert not level, [n.to_dict() for n in level]
    for c in _changes(n for n in notes if n.severity != "info"):
        if c["param"] == "gain_db" and plan.param(c["section"], "gain_db").source == "ai":
            assert abs(c["value"] - plan.get(c["section"], "gain_db")) <= 6.0, c


def test_an_edited_fader_is_judged_by_the_mixers_model(perturbed):
    """Pulling the AI's vocal 15 dB down buries it, against the same model: the note's fix brings
    it back to within a dB of where the AI had it."""
    _, result = perturbed
    plan = result.plan.copy()
    ai_gain = plan.get("track:Vox Lead", "gain_db")
    plan.set_user("track:Vox Lead", "gain_db", ai_gain - 15.0, "test")
    notes = [n for n in result.notes_session.evaluate(plan) if n.code == "buried_lead"]
    assert notes and notes[0].fix["kind"] == "patch"
    assert notes[0].fix["changes"][0]["value"] == pytest.approx(ai_gain, abs=1.0)


def test_a_fader_fix_past_the_end_of_its_range_is_advice(tmp_path):
    """Regression (issue 13 item 6): the notes offered +27.7 and +29.5 dB fader fixes on a fader
    that ends at +24 dB. A stem so quiet that no fader setting can place it gets advice that
    says so; every patch holds values the schema accepts."""
    n = int(8.0 * SR)
    t = np.arange(n) / SR
    stems = {
        "Kick": (0.8 * np.sin(2 * np.pi * 55 * t) * np.exp(-(t % 0.5) * 18))[np.newaxis],
        "Bass": sine(SR, 8.0, frequency_hz=82.4, level_db=-10.0),
        "Vox Lead": sine(SR, 8.0, frequency_hz=440.0, level_db=-50.0),  # about 45 dB under its place
    }
    folder = tmp_path / "stems"
    folder.mkdir()
    for name, x in stems.items():
        sf.write(folder / f"{name}.wav", x.T.astype(np.float32), SR, subtype="FLOAT")
    session = NotesSession.from_stems(folder, use_cache=False)
    plan = session.delivered_plan()
    notes = session.evaluate(plan)
    buried = [n for n in notes if n.code == "buried_lead"]
    assert buried and buried[0].fix["kind"] == "advice"
    assert "+24 dB" in buried[0].fix["text"]
    for c in _changes(notes):
        check_value(c["section"], c["param"], c["value"])


def test_every_fix_is_in_range_on_edited_plans(perturbed):
    """Issue 13 item 6: faders pushed to both ends of their range, every fix still passes the schema."""
    _, result = perturbed
    for value in (-80.0, 24.0):
        plan = result.plan.copy()
        for t in plan.context["tracks"]:
            plan.set_user(t["section"], "gain_db", value, "test")
        for c in _changes(result.notes_session.evaluate(plan)):
            check_value(c["section"], c["param"], c["value"])


def test_the_live_notes_see_the_clipping_the_render_will_have(perturbed, tmp_path):
    """Regression (issue 13 item 7): raising ``bus:mix.output_gain_db`` puts full-scale samples
    into the rendered mix, and the live notes said nothing. The AI's own plan (rendered at
    -6 dBTP) has no such note; raised 8 dB (the render then peaks at +2 dBTP) it has a clipping
    note, whose fix, applied, renders at -6 dBTP again."""
    folder, result = perturbed
    ns = result.notes_session
    assert not [n for n in ns.evaluate(result.plan) if n.code in PEAK_CODES]
    plan = result.plan.copy()
    plan.set_user("bus:mix", "output_gain_db", plan.get("bus:mix", "output_gain_db") + 8.0, "test")
    rendered = render(plan, tmp_path / "loud.wav", stems=folder / "stems").measured
    assert rendered["true_peak_dbtp"] > 0.0 and rendered["clipped_samples"] > 0  # what the render has
    notes = [n for n in ns.evaluate(plan) if n.code in PEAK_CODES]
    assert notes and notes[0].code == "clipping" and notes[0].severity == "problem"
    fixed = apply_fix(plan, notes[0])
    assert not [n for n in ns.evaluate(fixed) if n.code in PEAK_CODES]
    again = render(fixed, tmp_path / "fixed.wav", stems=folder / "stems").measured
    assert again["true_peak_dbtp"] == pytest.approx(-6.0, abs=0.15)  # output gain is linear: exact up to rounding


def test_a_pushed_fader_that_clips_the_render_gets_a_note(perturbed, tmp_path):
    """Item 7 with a fader: the kick pushed 18 dB makes the render clip; the notes say so."""
    folder, result = perturbed
    plan = result.plan.copy()
    plan.set_user("track:Kick", "gain_db", min(24.0, plan.get("track:Kick", "gain_db") + 18.0), "test")
    rendered = render(plan, tmp_path / "kick.wav", stems=folder / "stems").measured
    assert rendered["clipped_samples"] > 0
    assert [n for n in result.notes_session.evaluate(plan) if n.code in PEAK_CODES]


def _quiet_mix(tmp_path: Path) -> NotesSession:
    path = tmp_path / "quiet.wav"
    rng = np.random.default_rng(7)
    sf.write(path, (0.003 * rng.standard_normal((int(6 * SR), 2))).astype(np.float32), SR, subtype="FLOAT")
    return NotesSession.from_mix(path)


def test_advice_is_worded_for_where_it_is_read(tmp_path):
    """Regression (issue 13 item 10): a web user was told to run `mixlab master`. On the command
    line the advice names the command; in the browser it names the Render dialog."""
    ns = _quiet_mix(tmp_path)
    cli = {n.code: n.fix for n in ns.evaluate()}
    web = {n.code: n.fix for n in ns.evaluate(surface="web")}
    assert "mixlab master" in cli["too_quiet"]["text"]
    assert "mixlab" not in web["too_quiet"]["text"] and "`" not in web["too_quiet"]["text"]
    assert "Render" in web["too_quiet"]["text"] and web["too_quiet"]["action"] == "master"
    for fix in web.values():
        assert "web" not in fix and ("text" not in fix or "mixlab " not in fix["text"])
    with pytest.raises(InvalidParameterError) as err:
        ns.evaluate(surface="email")
    assert err.value.code == "notes.bad_surface"


def _dull_music(rng: np.random.Generator, seconds: float = 12.0) -> np.ndarray:
    """Pink noise through a 2nd-order 8 kHz low-pass, its level swelling twice a second
    (``(channels, samples)`` float32): a dark mix, as most are above 10 kHz."""
    import scipy.signal

    from tests.fixtures.signals import pink_noise

    t = np.arange(int(seconds * SR)) / SR
    x = pink_noise(SR, seconds, rng=rng, level_db=-20.0, num_channels=2).astype(np.float64)
    x = scipy.signal.sosfilt(scipy.signal.butter(2, 8000.0, fs=SR, output="sos"), x, axis=1)
    return (x * (0.5 + 0.5 * np.abs(np.sin(2 * np.pi * 0.5 * t)))).astype(np.float32)


def test_our_own_master_is_not_called_lossy_but_an_mp3_is(tmp_path):
    """Regression (issue 13 item 8): "The mix looks like a lossy file" on every master, because
    the mastering's ultrasonic cut (a steep filter at 0.45 fs) reads as a band limit near
    19 kHz. A steady cut that high is a filter, not an encoder; a 128 kbps MP3 of the same mix
    (LAME, band limit near 16.5 kHz) is still lossy."""
    lameenc = pytest.importorskip("lameenc")
    from mixlab.engine.master import OutputSpec, TargetJob, master
    from mixlab.engine.targets import get_platform

    x = _dull_music(np.random.default_rng(4))
    sf.write(tmp_path / "mix.wav", x.T, SR, subtype="FLOAT")
    master(tmp_path / "mix.wav", [TargetJob(get_platform("spotify"), (OutputSpec(tmp_path / "master.wav", "24"),))])
    ns = NotesSession.from_mix(tmp_path / "master.wav")
    d = next(iter(ns.defects.values()))
    assert d.lowpass_hz is not None and d.lowpass_hz > 18500.0  # the cut is measured ...
    assert not [n for n in ns.evaluate() if n.code == "lossy_source"]  # ... and not called lossy

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(128)
    encoder.set_in_sample_rate(SR)
    encoder.set_channels(2)
    encoder.set_quality(2)
    data, _ = sf.read(tmp_path / "master.wav", dtype="float32")
    mp3 = encoder.encode(np.round(np.clip(data, -1, 1) * 32767).astype(np.int16).tobytes()) + encoder.flush()
    (tmp_path / "master.mp3").write_bytes(bytes(mp3))
    try:
        ns = NotesSession.from_mix(tmp_path / "master.mp3")
    except MixlabError:
        pytest.skip("this libsndfile cannot decode MP3")
    assert [n for n in ns.evaluate() if n.code == "lossy_source"]
