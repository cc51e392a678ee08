"""``mixlab mix`` and ``mixlab render`` as a user runs them."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixlab.cli.main import main
from tests.fixtures.multitrack import write_session


@pytest.fixture(scope="module")
def stems_zip(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("stems")
    paths = write_session(folder, duration_s=4.0, subtype="PCM_24")
    archive = folder.parent / "song stems.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for p in paths.values():
            z.write(p, f"My Song/{p.name}")
        z.writestr("My Song/notes.txt", "tempo 120")
    return archive


def test_mix_zip_then_render_the_plan(stems_zip, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MIXLAB_CACHE_DIR", str(tmp_path / "cache"))
    code = main(["mix", str(stems_zip), "-o", str(tmp_path / "mix.wav"), "--plan-out", str(tmp_path / "plan.json"),
                 "--genre", "rock", "--stems-out", str(tmp_path / "stems")])
    assert code == 0
    out = capsys.readouterr().out
    assert "Vox Lead" in out and "lead_vocal" in out and "ignored" in out
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["schema"] == "mixlab.mixplan/1"
    assert plan["sections"]["session"]["genre"]["value"] == "rock"
    assert sorted(p.name for p in (tmp_path / "stems").iterdir()) == sorted(
        ["Bass.wav", "HiHat.wav", "Kick.wav", "Pad.wav", "Snare.wav", "Vox Lead.wav"])
    assert main(["render", str(tmp_path / "plan.json"), "-o", str(tmp_path / "again.wav")]) == 0
    a = sf.read(tmp_path / "mix.wav", dtype="int32")[0]
    b = sf.read(tmp_path / "again.wav", dtype="int32")[0]
    assert np.array_equal(a, b)


def test_lock_and_role_flags(stems_zip, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MIXLAB_CACHE_DIR", str(tmp_path / "cache"))
    code = main(["mix", str(stems_zip), "-o", str(tmp_path / "mix.wav"), "--json",
                 "--lock", "Vox Lead.gain_db=2.5", "--lock", "Kick.comp_attack_ms=30", "--role", "Pad=keys"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    sections = result["plan"]["sections"]
    assert sections["track:Vox Lead"]["gain_db"] == {"value": 2.5, "source": "user", "reason": "locked by the user", "locked": True}
    assert sections["track:Kick"]["comp_attack_ms"]["value"] == 30
    assert sections["track:Pad"]["role"]["value"] == "keys"
    assert -8.0 <= result["measured"]["true_peak_dbtp"] <= -3.0


def test_master_out(stems_zip, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MIXLAB_CACHE_DIR", str(tmp_path / "cache"))
    code = main(["mix", str(stems_zip), "-o", str(tmp_path / "mix.wav"), "--master-out", str(tmp_path / "master.wav"),
                 "--target", "apple-music", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    (m,) = result["master"]
    assert abs(m["integrated_lufs"] - (-16.0)) < 0.1 and m["true_peak_dbtp"] <= -1.0


def test_master_out_of_a_clipping_mix_is_not_mastered_clipped(stems_zip, tmp_path, capsys, monkeypatch):
    """Regression (issue 13, item 7, CLI side): with the output gain kept 20 dB over the AI's trim,
    mix.wav clips and `--master-out` mastered that clipped file. It masters a float copy, so the
    master's crest factor (sample peak over RMS) is the AI mix master's, within 1 dB; clipping
    14 dB deep flattens it by several dB. No float copy is left beside the mix."""
    monkeypatch.setenv("MIXLAB_CACHE_DIR", str(tmp_path / "cache"))

    def crest_db(path: Path) -> float:
        x, _ = sf.read(path, dtype="float64")
        return float(20 * np.log10(np.max(np.abs(x)) / np.sqrt(np.mean(x ** 2))))

    assert main(["mix", str(stems_zip), "-o", str(tmp_path / "ai.wav"), "--plan-out", str(tmp_path / "plan.json"),
                 "--master-out", str(tmp_path / "ai-master.wav")]) == 0
    plan = json.loads((tmp_path / "plan.json").read_text())
    out = plan["sections"]["bus:mix"]["output_gain_db"]
    out.update(value=out["value"] + 20.0, source="user", locked=True)
    (tmp_path / "hot.json").write_text(json.dumps(plan))
    assert main(["mix", str(stems_zip), "-o", str(tmp_path / "hot.wav"), "--plan-in", str(tmp_path / "hot.json"),
                 "--master-out", str(tmp_path / "hot-master.wav")]) == 0
    capsys.readouterr()
    x, _ = sf.read(tmp_path / "hot.wav", dtype="float64")
    assert np.count_nonzero(np.abs(x) >= 1.0 - 2.0 ** -22) > 1000  # the mix holds what was asked
    assert crest_db(tmp_path / "hot-master.wav") == pytest.approx(crest_db(tmp_path / "ai-master.wav"), abs=1.0)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_errors_exit_2_with_the_file_named(tmp_path, capsys):
    folder = tmp_path / "stems"
    write_session(folder, duration_s=1.0)
    (folder / "Bad Bass.flac").write_bytes(b"fLaC" + b"\x00" * 40)
    assert main(["mix", str(folder), "-o", str(tmp_path / "m.wav"), "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert "Bad Bass.flac" in err
    assert not (tmp_path / "m.wav").exists()
    assert main(["mix", str(tmp_path / "nowhere"), "-o", str(tmp_path / "m.wav")]) == 2
    assert main(["render", str(tmp_path / "missing.json"), "-o", str(tmp_path / "m.wav")]) == 2
    assert main(["mix", str(folder), "-o", str(tmp_path / "m.wav"), "--target", "spotify"]) == 2
