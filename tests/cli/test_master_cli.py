"""The mixlab master command, as a producer uses it."""

import json

import pytest
import soundfile as sf

from mixlab.cli.main import main
from tests.engine.test_master import _example
from tests.oracles import bs1770_true_peak_db, pyloudnorm_lufs


@pytest.fixture(scope="module")
def mix(tmp_path_factory):
    path = tmp_path_factory.mktemp("mix") / "my song.wav"
    sf.write(path, _example().render(8.0, 48000).T, 48000, subtype="PCM_24")
    return path


def test_master_for_a_target_with_plan_and_report(mix, tmp_path, capsys):
    out = tmp_path / "master.wav"
    code = main(["master", str(mix), "-o", str(out), "--target", "deezer", "--bit-depth", "16",
                 "--plan-out", str(tmp_path / "plan.json"), "--report", str(tmp_path / "report.json")])
    assert code == 0
    data, sr = sf.read(out, always_2d=True)
    assert sr == 48000 and sf.info(out).subtype == "PCM_16"
    assert pyloudnorm_lufs(data.T, sr) == pytest.approx(-15.0, abs=0.1)
    assert bs1770_true_peak_db(data.T, sr) <= -1.0 + 0.05
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["schema"] == "mixlab.masterplan/1"
    assert plan["sections"]["loudness"]["target_lufs"]["value"] == -15.0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["outputs"][0]["target"] == "deezer"
    assert "LUFS" in capsys.readouterr().out


def test_plan_in_keeps_the_users_edit(mix, tmp_path):
    plan_path = tmp_path / "plan.json"
    assert main(["master", str(mix), "-o", str(tmp_path / "a.wav"), "--plan-out", str(plan_path)]) == 0
    plan = json.loads(plan_path.read_text())
    plan["sections"]["limiter"]["release_ms"] = {"value": 300.0, "source": "user", "reason": "slower", "locked": True}
    plan_path.write_text(json.dumps(plan))
    out_plan = tmp_path / "plan2.json"
    assert main(["master", str(mix), "-o", str(tmp_path / "b.wav"), "--plan-in", str(plan_path),
                 "--plan-out", str(out_plan)]) == 0
    again = json.loads(out_plan.read_text())
    assert again["sections"]["limiter"]["release_ms"]["value"] == 300.0


def test_json_output_and_custom_target(mix, tmp_path, capsys):
    out = tmp_path / "loud.flac"
    assert main(["master", str(mix), "-o", str(out), "--lufs", "-11", "--ceiling-dbtp", "-1.5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["outputs"][0]["integrated_lufs"] == pytest.approx(-11.0, abs=0.05)
    assert result["outputs"][0]["true_peak_dbtp"] <= -1.5


def test_missing_input_is_a_clear_error(tmp_path, capsys):
    code = main(["master", str(tmp_path / "nope.wav"), "-o", str(tmp_path / "out.wav")])
    assert code == 2
    err = capsys.readouterr().err
    assert "nope.wav" in err
    assert not (tmp_path / "out.wav").exists()


def test_text_file_renamed_wav_is_refused_and_nothing_written(tmp_path, capsys):
    fake = tmp_path / "notes.wav"
    fake.write_text("this is not audio\n" * 100)
    assert main(["master", str(fake), "-o", str(tmp_path / "out.wav")]) == 2
    assert "notes.wav" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.wav"]


def test_bad_percent_is_refused(mix, tmp_path, capsys):
    assert main(["master", str(mix), "-o", str(tmp_path / "o.wav"), "--eq-amount", "150"]) == 2
    assert "between 0 and 100" in capsys.readouterr().err
