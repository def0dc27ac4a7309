"""Week 7 (recurrent networks and forecasting): the forecast explorer and its helpers and, as
probes in the chapter's kernel after its one run, the explorer on the chapter's forecasts,
the shapes of the windows and the exercise solutions.
"""

import numpy as np
import pandas as pd
import pytest

from notebook_runs import probe, solution_probes
from utils.widgets import forecast_explorer, mean_absolute_errors, plot_forecast_errors

WEEK7 = "07_recurrent_networks"
SOLUTIONS = solution_probes(WEEK7, {
    1: 'gru_errors.to_dict(orient="index")',
    2: '{str(h): v for h, v in quarterly.items()}',
    3: '{"gru": float(gru_ratio), "rnn": float(ratio[rnn]), "lstm": float(ratio[lstm_1])}',
})
WIDGET = probe(WEEK7, "widget: the forecast explorer on the chapter's runs", """
import json
box = forecast_explorer(runs, dates, origins_for(WINDOW)[1], unit="millions", step="month")
window, horizon = box.children[0].children
seen = []
for w, h in ((12, 1), (12, 12), (3, 1), (36, 6)):
    window.value, horizon.value = w, h
    seen.append([box.result["window"], box.result["horizon"], box.result["errors"]])
print(json.dumps({"seen": seen, "options": list(window.options), "max_horizon": horizon.max,
                  "table": {f"{w},{h}": by_window[(w, h)].to_dict() for w in WINDOWS for h in (1, 12)}}))
""")
WINDOWS_PROBE = probe(WEEK7, "forecast rows: no target inside the inputs, none after the data", """
import json
report = {}
for window in (3, 12, 36):
    train, test = origins_for(window)
    X, Y = forecast_rows(test, window)
    report[window] = {
        "first_test_target": str(dates[test[0] + 1].date()), "last_train_target": str(dates[train[-1] + HORIZON].date()),
        "last_target": int(test[-1] + HORIZON), "n": len(levels),
        "inputs_end_at_origin": bool(np.allclose(X[:, -1], change.to_numpy()[test])),
        "targets_are_changes_from_origin": bool(np.allclose(Y[:, 0], levels[test + 1] - levels[test], atol=1e-5)),
    }
print(json.dumps(report))
""")


# --------------------------------------------------------------------------- helpers

def toy_runs():
    truth = np.arange(12.0).reshape(4, 3)            # 4 origins, 3 horizons
    return {2: {"truth": truth, "forecasts": {"zero error": truth.copy(), "off by one": truth + 1}},
            5: {"truth": truth, "forecasts": {"zero error": truth - 2, "off by one": truth + 1}}}


def test_mean_absolute_errors_per_method_and_horizon():
    truth = np.array([[1.0, 2.0], [3.0, 5.0]])
    got = mean_absolute_errors(truth, {"a": [[1, 2], [3, 1]], "b": [[0, 0], [0, 0]]}, horizon=2)
    assert got == {"a": 2.0, "b": 3.5}
    with pytest.raises(ValueError, match="horizon must be between 1 and 2"):
        mean_absolute_errors(truth, {"a": truth}, horizon=3)
    with pytest.raises(ValueError, match="forecasts of 'a' have shape"):
        mean_absolute_errors(truth, {"a": truth[:1]}, horizon=1)


def test_forecast_explorer_follows_its_controls():
    dates = pd.date_range("2000-01-01", periods=10, freq="MS")
    box = forecast_explorer(toy_runs(), dates, origins=[0, 1, 2, 3])
    window, horizon = box.children[0].children
    assert list(window.options) == [2, 5] and horizon.max == 3
    assert box.result["window"] == 5 and box.result["errors"] == {"zero error": 2.0, "off by one": 1.0}
    window.value = 2
    assert box.result["errors"] == {"zero error": 0.0, "off by one": 1.0}
    horizon.value = 3
    assert box.result["horizon"] == 3
    with pytest.raises(ValueError, match="3 origins for 4 rows"):
        forecast_explorer(toy_runs(), dates, origins=[0, 1, 2])
    with pytest.raises(ValueError, match="runs is empty"):
        forecast_explorer({}, dates, origins=[])


def test_plot_forecast_errors_draws_each_method():
    run = toy_runs()[2]
    dates = pd.date_range("2000-01-01", periods=4, freq="MS")
    fig = plot_forecast_errors(run["truth"], run["forecasts"], dates, horizon=2, window=2, unit="millions", step="month")
    bars, lines = fig.axes
    assert [b.get_width() for b in bars.patches] == [0.0, 1.0]
    assert bars.get_title() == "test error, 2 months ahead, 2-month window"
    assert len(lines.get_lines()) == 3 and np.allclose(lines.get_lines()[0].get_ydata(), run["truth"][:, 1])


# --------------------------------------------------------------------------- probes of the chapter

def test_forecast_rows_respect_time():
    for window, part in WINDOWS_PROBE.json().items():
        assert part["first_test_target"] == "2005-05-01"       # the first forecast is for the first test month
        assert part["last_train_target"] < "2005-05-01"         # no training target in the test period
        assert part["last_target"] == part["n"] - 1             # the last forecast is for the last month
        assert part["inputs_end_at_origin"] and part["targets_are_changes_from_origin"]


def test_forecast_explorer_on_the_chapter_runs():
    got = WIDGET.json()
    assert got["options"] == [3, 12, 36] and got["max_horizon"] == 12
    for (window, horizon, errors), (w, h) in zip(got["seen"], ((12, 1), (12, 12), (3, 1), (36, 6))):
        assert (window, horizon) == (w, h)
        assert set(errors) == {"naive", "seasonal naive", "linear autoregression", "LSTM"}
    for window, horizon, errors in got["seen"]:
        if horizon in (1, 12):   # the widget shows what the chapter's table says (millions vs thousands)
            table = got["table"][f"{window},{horizon}"]
            assert {k: 1000 * v for k, v in errors.items()} == pytest.approx(table)


def test_week7_exercise_solutions():
    gru = SOLUTIONS[1].json()
    assert gru["GRU"]["MAE h=1"] == pytest.approx(193, abs=1) and gru["LSTM"]["MAE h=1"] == pytest.approx(195, abs=1)
    assert gru["GRU"]["MAE h=3"] == pytest.approx(372, abs=1) and gru["LSTM"]["MAE h=3"] == pytest.approx(368, abs=1)
    assert gru["GRU"]["MAE h=12"] == pytest.approx(1148, abs=2) and gru["LSTM"]["MAE h=12"] == pytest.approx(1172, abs=2)
    quarterly = SOLUTIONS[2].json()
    assert quarterly["1"] == pytest.approx({"naive": 0.197, "AR(4)": 0.172}, abs=0.001)
    assert quarterly["4"] == pytest.approx({"naive": 0.816, "AR(4)": 0.750}, abs=0.001)
    ratios = SOLUTIONS[3].json()
    assert 1e-7 < ratios["gru"] < 1e-6 and ratios["gru"] < ratios["lstm"] < ratios["rnn"]
