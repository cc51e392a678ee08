"""The MixPlan parameter schema: type before range, one range per parameter, clamped decisions."""

from __future__ import annotations

import math

import pytest

from mixlab.engine import params
from mixlab.engine.plan import AI, Plan
from mixlab.errors import InvalidParameterError


@pytest.mark.parametrize("value", [True, False, "loud", [3.0], {"v": 1}, math.nan, math.inf, None])
def test_a_gain_must_be_a_finite_number(value: object) -> None:
    """Regression (issue 13, item 12): `true` was accepted as a gain of 1 dB; a string, a list or
    null gave a 500."""
    with pytest.raises(InvalidParameterError, match=r"track:Gtr\.gain_db") as err:
        params.check_value("track:Gtr", "gain_db", value)
    assert err.value.code == "plan.bad_parameter" and err.value.details["parameter"] == "track:Gtr.gain_db"


def test_the_mix_bus_output_has_a_range() -> None:
    """Regression (issue 13, item 12): 1e9 failed the job and 300 rendered a fully clipped mix."""
    spec = params.spec_for("bus:mix", "output_gain_db")
    for value in (300.0, 1e9, -1e9):
        with pytest.raises(InvalidParameterError, match="output_gain_db"):
            params.check_value("bus:mix", "output_gain_db", value)
    assert params.check_value("bus:mix", "output_gain_db", spec.max_value) == spec.max_value


def test_an_eq_holds_at_most_max_bands() -> None:
    """Regression (issue 13, item 12): a 2000-band EQ was accepted."""
    band = {"kind": "peak", "freq_hz": 1000.0, "gain_db": -3.0, "q": 1.0}
    assert params.check_value("track:A", "eq", [band] * params.MAX_EQ_BANDS)
    with pytest.raises(InvalidParameterError, match="at most"):
        params.check_value("track:A", "eq", [band] * 2000)
    with pytest.raises(InvalidParameterError, match=r"eq\[0\]\.gain_db"):
        params.check_value("track:A", "eq", [{**band, "gain_db": True}])
    with pytest.raises(InvalidParameterError, match=r"eq\[0\]"):
        params.check_value("track:A", "eq", [{**band, "width": 2}])


def test_choices_and_booleans_are_typed() -> None:
    assert params.check_value("track:A", "mute", False) is False
    with pytest.raises(InvalidParameterError):
        params.check_value("track:A", "mute", 0)
    with pytest.raises(InvalidParameterError, match="one of"):
        params.check_value("track:A", "role", "tuba")
    with pytest.raises(InvalidParameterError, match="not a parameter"):
        params.check_value("track:A", "volume", 1.0)
    with pytest.raises(InvalidParameterError, match="not a MixPlan section"):
        params.check_value("bus:nowhere", "gain_db", 1.0)


def test_an_ai_decision_outside_the_range_is_held_at_its_end_and_says_so() -> None:
    """Regression (issue 13, item 5): the AI set +17.6 dB, beyond what the fader could hold.
    A decision is clamped where it is taken, with the reason."""
    plan = Plan(schema="mixlab.mixplan/1")
    top = params.spec_for("track:Gtr", "gain_db").max_value
    assert params.decide(plan, "track:Gtr", "gain_db", top + 6.0, "role target") == top
    param = plan.param("track:Gtr", "gain_db")
    assert param is not None and param.source == AI and param.value == top
    assert f"wanted {top + 6.0:g} dB" in param.reason and "end of its range" in param.reason
    assert params.decide(plan, "track:Gtr", "pan", 0.3, "spread") == 0.3
    assert plan.param("track:Gtr", "pan").reason == "spread"  # type: ignore[union-attr]


def test_every_float_spec_has_an_ordered_range_and_a_step() -> None:
    for kind, specs in params.SECTIONS.items():
        for name, spec in specs.items():
            if spec.kind == params.FLOAT:
                assert spec.min_value is not None and spec.max_value is not None, (kind, name)
                assert spec.min_value < spec.max_value and spec.step > 0, (kind, name)


def test_plan_structure_errors_are_parameter_errors() -> None:
    """Regression (issue 13, item 11): `sections` sent as a list gave a 500."""
    with pytest.raises(InvalidParameterError, match="sections"):
        Plan.from_dict({"schema": "s", "sections": []}, expected_schema="s")
    with pytest.raises(InvalidParameterError, match=r"track:A\.gain_db"):
        Plan.from_dict({"schema": "s", "sections": {"track:A": {"gain_db": {"value": 1, "locked": "yes"}}}},
                       expected_schema="s")
