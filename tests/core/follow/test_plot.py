from __future__ import annotations

import numpy as np

from ftmllm_tui.core.follow.plot import BRAILLE, Line, minmax_columns, render


def dots(chart) -> int:
    return sum(bin(ord(ch) - BRAILLE).count("1") for row in chart.plain() for ch in row
               if BRAILLE < ord(ch) <= BRAILLE + 0xFF)


def test_a_single_spike_in_a_million_points_survives():
    x = np.arange(1_000_000, dtype=float)
    y = np.zeros_like(x)
    y[777_777] = 100.0
    chart = render([Line("loss", x, y)], 120, 20)
    top = chart.plain()[0]
    assert any(BRAILLE < ord(ch) <= BRAILLE + 0xFF for ch in top)  # the spike reaches the top row
    assert chart.y_range == (0.0, 100.0)


def test_minmax_columns():
    x = [0, 1, 2, 3, 4, 5, 6, 7]
    y = [1, 5, 2, 2, 9, 0, 3, 3]
    cols, mins, maxs, firsts, lasts = minmax_columns(x, y, 0, 7, 4)
    assert cols.tolist() == [0, 1, 2, 3]
    assert mins.tolist() == [1, 2, 0, 3] and maxs.tolist() == [5, 2, 9, 3]
    assert firsts.tolist() == [1, 2, 9, 3] and lasts.tolist() == [5, 2, 0, 3]


def test_dimensions_labels_and_empty():
    chart = render([Line("a", [1, 2, 3], [3.0, 1.0, 2.0])], 60, 10)
    rows = chart.plain()
    assert len(rows) == 10 and all(len(r) == 60 for r in rows)
    assert rows[0].strip().startswith("3") and "└" in rows[-2]
    assert rows[-1].strip().startswith("1") and rows[-1].strip().endswith("3")
    empty = render([Line("a", [], [])], 40, 6)
    assert "no data yet" in "\n".join(empty.plain())


def test_lines_are_continuous_and_owned():
    chart = render([Line("a", [0, 100], [0.0, 1.0]), Line("b", [0, 100], [1.0, 0.0])], 50, 12)
    owners = {o for row in chart.rows for _, o in row if o is not None}
    assert owners == {0, 1}
    # a straight diagonal: every plot column has a dot
    body = [r[9:] for r in chart.plain()[:-2]]
    assert all(any(r[c] != " " for r in body) for c in range(len(body[0])))


def test_log_scale_drops_non_positive_values():
    chart = render([Line("a", [1, 2, 3, 4], [0.0, 1e-3, 1.0, 1e3])], 40, 8, logy=True)
    lo, hi = chart.y_range
    assert abs(lo - 1e-3) < 1e-9 and abs(hi - 1e3) < 1e-6


def test_series_differ_without_colour_and_the_legend_shows_their_patterns():
    from ftmllm_tui.core.follow.plot import legend_sample

    x = list(range(0, 200))
    a = Line("loss", x, [1.0] * 200)
    b = Line("eval_loss", x, [0.0] * 200)
    chart = render([a, b], 60, 10, patterns=True)
    rows = chart.plain()
    top = next(r for r in rows if "┤" in r and set(r.split("┤", 1)[1].strip()) - {" "})
    bottom = [r for r in rows if "┤" in r or "│" in r][-1]
    assert set(top.split("┤", 1)[1].strip()) != set(bottom.split("┤", 1)[1].strip())  # solid vs dotted
    samples = [legend_sample(i) for i in range(4)]
    assert len(set(samples)) == 4 and samples[0] == "⣀⣀⣀"
    plain = render([a, b], 60, 10)  # with colour, lines stay solid
    assert plain.plain() != rows


def test_x_ticks_are_whole_numbers_for_steps():
    chart = render([Line("loss", [1, 60], [1.0, 2.0])], 60, 8)
    axis = chart.plain()[-1].split()
    assert axis == ["1", "30", "60"] or axis == ["1", "31", "60"], axis
    frac = render([Line("loss", [0.0, 0.5, 1.0], [1.0, 2.0, 3.0])], 60, 8)
    assert "0.5000" in frac.plain()[-1]  # epochs or other fractional x keep their fraction


def test_a_single_point_has_one_x_tick_and_is_drawn():
    chart = render([Line("eval_loss", [100], [2.1])], 40, 6)
    assert chart.plain()[-1].split() == ["100"]
    assert any(set(row.split("│", 1)[-1].split("┤", 1)[-1].strip()) - {" "} for row in chart.plain()[:-2])
