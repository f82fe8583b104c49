"""Plot builders: the traces carry exactly the data they were given; empty input gives a titled empty figure."""

from __future__ import annotations

import math

import pytest

from workbench import plots as p

RECORDS = [
    {"step": 10, "split": "train", "loss": 2.0, "lr": 1e-3, "tokens_per_s": 150.0},
    {"step": 5, "split": "train", "loss": 2.5, "lr": 5e-4, "tokens_per_s": 140.0},
    {"step": 10, "split": "eval", "loss": 2.2},
    {"step": 10, "split": "probe", "bleu4": 0.1, "rougeL": 0.3, "fact_acc": 0.25, "fact_acc_n": 4},
    {"step": 20, "split": "train", "loss": float("nan"), "lr": 2e-4},
    {"step": 20, "split": "probe", "bleu4": 0.2, "rougeL": 0.4, "fact_acc": "unavailable: no facts"},
    {"split": "train", "loss": 9.0},  # no step: skipped
]


def _trace(fig, name):
    matches = [t for t in fig.data if t.name == name]
    assert len(matches) == 1, [t.name for t in fig.data]
    return matches[0]


def test_loss_figure_splits_sorts_and_skips_bad_values():
    fig = p.loss_figure(RECORDS)
    train, ev = _trace(fig, "train loss"), _trace(fig, "eval loss")
    assert list(train.x) == [5, 10] and list(train.y) == [2.5, 2.0]  # NaN at step 20 and the step-less row dropped
    assert list(ev.x) == [10] and list(ev.y) == [2.2]
    assert fig.layout.xaxis.title.text == "step"


def test_lr_throughput_and_probe_figures():
    lr = p.lr_figure(RECORDS)
    assert list(lr.data[0].x) == [5, 10, 20] and list(lr.data[0].y) == [5e-4, 1e-3, 2e-4]
    tps = p.throughput_figure(RECORDS)
    assert list(tps.data[0].y) == [140.0, 150.0]
    probe = p.probe_figure(RECORDS)
    assert [t.name for t in probe.data] == ["BLEU-4", "ROUGE-L", "fact accuracy"]  # no meteor/bertscore logged
    assert list(_trace(probe, "ROUGE-L").y) == [0.3, 0.4]
    assert list(_trace(probe, "fact accuracy").x) == [10]  # the marker string is not plotted


def test_overlay_of_runs():
    runs = {"run-a": RECORDS, "run-b": [{"step": 1, "split": "train", "loss": 3.0}, {"step": 2, "split": "eval",
                                                                                        "loss": 2.9}]}
    fig = p.overlay_figure(runs, "loss", "train")
    assert [t.name for t in fig.data] == ["run-a", "run-b"]
    assert list(_trace(fig, "run-b").y) == [3.0]
    ev = p.overlay_figure(runs, "loss", "eval")
    assert list(_trace(ev, "run-a").y) == [2.2] and list(_trace(ev, "run-b").x) == [2]


def test_scores_bar_figure_one_panel_per_metric():
    scores = {"base": {"n": 30, "bleu4": 0.05, "rougeL": 0.2, "sacrebleu": 4.1, "fact_acc": 0.1, "fact_acc_n": 30,
                       "meteor": "unavailable: WordNet is not installed", "sacrebleu_signature": "nrefs:1|tok:13a"},
              "tuned": {"n": 30, "bleu4": 0.3, "rougeL": 0.5, "sacrebleu": 28.0, "fact_acc": 0.7, "meteor": 0.4}}
    assert p.score_keys(scores) == ["fact_acc", "bleu4", "sacrebleu", "rougeL", "meteor"]
    fig = p.scores_bar_figure(scores)
    bars = {(t.name, t.xaxis): t.y[0] for t in fig.data}
    assert len(fig.data) == 9  # 5 metrics x 2 models, minus base's unavailable METEOR
    assert bars[("base", "x")] == 0.1 and bars[("tuned", "x")] == 0.7  # first panel: fact accuracy
    assert bars[("tuned", "x3")] == 28.0  # sacreBLEU keeps its own axis
    assert ("base", "x5") not in bars and bars[("tuned", "x5")] == 0.4
    assert [a.text for a in fig.layout.annotations] == ["fact accuracy", "BLEU-4", "sacreBLEU", "ROUGE-L", "METEOR"]
    assert sum(t.showlegend for t in fig.data) == 2
    chosen = p.scores_bar_figure(scores, metrics=["rougeL"])
    assert [(t.name, t.y[0]) for t in chosen.data] == [("base", 0.2), ("tuned", 0.5)]


def test_confusion_figure():
    fig = p.confusion_figure([[70, 1], [2, 6]])
    heat = fig.data[0]
    assert [list(r) for r in heat.z] == [[70, 1], [2, 6]]
    assert list(heat.x) == ["predicted off-topic", "predicted in-domain"]
    assert list(heat.y) == ["true off-topic", "true in-domain"]
    with pytest.raises(ValueError, match="2 x 2"):
        p.confusion_figure([[1, 2, 3], [4, 5, 6]])


def test_explained_variance_figure():
    fig = p.explained_variance_figure([0.5, 0.3, 0.15, 0.05])
    bars, line = _trace(fig, "per component"), _trace(fig, "cumulative")
    assert list(bars.y) == [0.5, 0.3, 0.15, 0.05]
    assert [round(v, 10) for v in line.y] == [0.5, 0.8, 0.95, 1.0]
    assert "3 component(s) reach 90%" in fig.layout.title.text
    again = p.explained_variance_figure([0.5, 0.8, 0.95, 1.0], cumulative=True)
    assert [round(v, 10) for v in _trace(again, "per component").y] == [0.5, 0.3, 0.15, 0.05]


@pytest.mark.parametrize(("build", "words"), [
    (lambda: p.loss_figure([]), "no loss"),
    (lambda: p.lr_figure([{"step": 1, "split": "eval", "loss": 1.0}]), "no training step"),
    (lambda: p.probe_figure([]), "no probe scores"),
    (lambda: p.overlay_figure({}), "select runs"),
    (lambda: p.overlay_figure({"a": []}), "no train loss"),
    (lambda: p.scores_bar_figure({"base": {"meteor": "unavailable: x"}}), "no evaluation scores"),
    (lambda: p.confusion_figure([]), "no gate report"),
    (lambda: p.explained_variance_figure([math.nan]), "no components"),
])
def test_empty_inputs_give_titled_empty_figures(build, words):
    fig = build()
    assert len(fig.data) == 0
    assert words in fig.layout.title.text


def test_a_long_run_is_drawn_from_at_most_a_few_hundred_points_with_its_ends():
    records = [{"step": s, "split": "train", "loss": 1.0 / s} for s in range(1, 10001)]
    fig = p.loss_figure(records)
    xs = list(fig.data[0].x)
    assert len(xs) <= p.MAX_POINTS + 1 and xs[0] == 1 and xs[-1] == 10000
    assert xs == sorted(xs)
    short = p.loss_figure(records[:50])
    assert list(short.data[0].x) == list(range(1, 51))  # a short run keeps every point


def test_scores_that_are_all_zero_get_a_zero_to_one_axis_not_minus_one_to_one():
    from workbench import plots

    fig = plots.scores_bar_figure({"base": {"fact_acc": 0.0, "rougeL": 0.2}, "tuned": {"fact_acc": 0.0,
                                                                                       "rougeL": 0.4}})
    assert tuple(fig.layout.yaxis.range) == (0, 1)  # fact accuracy: every value 0
    assert fig.layout.yaxis2.rangemode == "tozero" and fig.layout.yaxis2.range is None
    probe = plots.probe_figure([{"step": 2, "split": "probe", "fact_acc": 0.0}, {"step": 4, "split": "probe",
                                                                                "fact_acc": 0.0}], ["fact_acc"])
    assert tuple(probe.layout.yaxis.range) == (0, 1)
