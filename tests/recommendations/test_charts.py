"""recommendations.charts: pure functions, no database."""

import math

import pytest

from recommendations.charts import (
    HEIGHT,
    MARGIN_BOTTOM,
    MARGIN_LEFT,
    MARGIN_RIGHT,
    MARGIN_TOP,
    WIDTH,
    Series,
    format_tick,
    line_chart,
    nice_ticks,
    stacked_bar_chart,
)

LEFT, RIGHT, TOP, BOTTOM = MARGIN_LEFT, WIDTH - MARGIN_RIGHT, MARGIN_TOP, HEIGHT - MARGIN_BOTTOM


@pytest.mark.parametrize(
    "low, high, expected",
    [
        (0, 0.31, [0, 0.1, 0.2, 0.3, 0.4]),
        (0.85, 0.9, [0.84, 0.86, 0.88, 0.9]),
        (0.8612, 0.8734, [0.86, 0.865, 0.87, 0.875]),
        (0, 107, [0, 50, 100, 150]),
        (0, 12.5, [0, 5, 10, 15]),
        (3, 3, [2.6, 2.8, 3.0, 3.2, 3.4]),  # a flat series is widened around its value
        (0, 0, [0, 0.25, 0.5, 0.75, 1.0]),  # nothing measured yet: a unit axis
        (5, 1, [1, 2, 3, 4, 5]),  # reversed bounds are fine
    ],
)
def test_nice_ticks_are_round_and_cover_the_range(low, high, expected):
    ticks = nice_ticks(low, high)
    assert ticks == pytest.approx(expected)
    assert ticks[0] <= min(low, high) and ticks[-1] >= max(low, high)


def test_nice_ticks_refuse_infinite_ranges():
    with pytest.raises(ValueError):
        nice_ticks(0, math.inf)


@pytest.mark.parametrize(
    "ticks, expected",
    [
        ([0.84, 0.86, 0.88, 0.9], ["0.84", "0.86", "0.88", "0.90"]),
        ([0.86, 0.865, 0.87], ["0.860", "0.865", "0.870"]),
        ([0, 2.5, 5], ["0.0", "2.5", "5.0"]),
        ([0, 50, 100], ["0", "50", "100"]),
    ],
)
def test_tick_labels_have_the_decimals_the_step_needs(ticks, expected):
    assert [format_tick(t, ticks) for t in ticks] == expected


def test_line_chart_maps_values_into_the_plot_box():
    chart = line_chart(x_labels=["a", "b", "c"], series=[Series("RMSE", [0.9, 0.88, 0.86])])
    (line,) = chart.lines
    assert line.css_class == "series-1"
    # First point at the left edge, last at the right; y grows downwards in SVG.
    assert [p.x for p in line.points] == [LEFT, (LEFT + RIGHT) / 2, RIGHT]
    ys = [p.y for p in line.points]
    assert ys == sorted(ys) and all(TOP <= y <= BOTTOM for y in ys)
    assert line.segments == [" ".join(f"{p.x:g},{p.y:g}" for p in line.points)]
    assert [t.label for t in chart.y_ticks] == ["0.86", "0.87", "0.88", "0.89", "0.90"]
    assert chart.y_ticks[0].position == BOTTOM and chart.y_ticks[-1].position == TOP
    assert [t.label for t in chart.x_ticks] == ["a", "b", "c"]
    assert line.points[0].label == "a: RMSE 0.9"


def test_missing_values_break_the_line_instead_of_bridging_it():
    chart = line_chart(x_labels=list("abcde"), series=[Series("s", [1, 2, None, float("nan"), 3])])
    (line,) = chart.lines
    assert len(line.segments) == 2
    assert [len(segment.split()) for segment in line.segments] == [2, 1]
    assert len(line.points) == 3  # the lone last value still gets its marker


def test_include_zero_starts_the_axis_at_zero_and_series_get_classes_in_order():
    chart = line_chart(
        x_labels=["a", "b"],
        series=[Series("model", [0.3, 0.32]), Series("baseline", [0.1, 0.1]), Series("x", [0.2, 0.2], "mine")],
        include_zero=True,
        value_format=lambda v: f"{v:.2f}",
    )
    assert chart.y_ticks[0].label.startswith("0") and chart.y_ticks[0].position == BOTTOM
    assert [line.css_class for line in chart.lines] == ["series-1", "series-2", "mine"]
    assert [(e.name, e.shape) for e in chart.legend] == [("model", "line"), ("baseline", "line"), ("x", "line")]
    assert chart.lines[1].points[0].label == "a: baseline 0.10"


def test_a_single_run_is_drawn_in_the_middle():
    chart = line_chart(x_labels=["only"], series=[Series("s", [0.5])])
    assert chart.lines[0].points[0].x == (LEFT + RIGHT) / 2


def test_x_labels_are_thinned_to_at_most_eight_and_tick_labels_can_differ():
    labels = [f"Run {i}" for i in range(20)]
    chart = line_chart(x_labels=labels, tick_labels=[f"{i} May" for i in range(20)], series=[Series("s", range(20))])
    assert [t.label for t in chart.x_ticks] == ["0 May", "3 May", "6 May", "9 May", "12 May", "15 May", "18 May"]
    assert chart.lines[0].points[5].label == "Run 5: s 5"


def test_lengths_must_match():
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        line_chart(x_labels=["a", "b", "c"], series=[Series("s", [1, 2])])
    with pytest.raises(ValueError, match="tick labels"):
        stacked_bar_chart(x_labels=["a"], tick_labels=["a", "b"], series=[])


def test_empty_charts_say_so():
    assert line_chart(x_labels=[], series=[]).is_empty
    assert line_chart(x_labels=["a"], series=[Series("s", [None])]).is_empty
    assert not line_chart(x_labels=["a"], series=[Series("s", [1])]).is_empty


def test_stacked_bars_stack_from_zero_and_skip_missing_parts():
    chart = stacked_bar_chart(
        x_labels=["r1", "r2"],
        series=[Series("fit", [10, 20]), Series("publish", [5, None])],
        value_format=lambda v: f"{v:.1f} s",
    )
    assert [(b.label, b.css_class) for b in chart.bars] == [
        ("r1: fit 10.0 s", "series-1"),
        ("r1: publish 5.0 s", "series-2"),
        ("r2: fit 20.0 s", "series-1"),
    ]
    fit, publish, tall = chart.bars
    assert fit.y + fit.height == BOTTOM  # sits on the axis
    assert publish.y + publish.height == pytest.approx(fit.y)  # on top of the part below
    assert tall.height == pytest.approx(2 * fit.height)
    assert chart.y_ticks[0].label == "0" and chart.y_ticks[0].position == BOTTOM
    assert all(LEFT <= b.x and b.x + b.width <= RIGHT for b in chart.bars)
    assert [(e.name, e.shape) for e in chart.legend] == [("fit", "box"), ("publish", "box")]
