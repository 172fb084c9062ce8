"""Chart measurements: bars proportional to their values, long labels shortened (whole in the title), month labels
thinned to a dozen, nothing drawn for nothing."""

from app.web import charts


def test_bars_are_proportional_and_long_labels_shortened():
    chart = charts.bar_chart([("A" * 60, 10), ("b", 5), ("c", 0)])
    long, half, none = chart.bars
    assert long.width == charts.BAR_WIDTH - charts.BAR_SPACE and half.width == long.width / 2 and none.width == 0
    assert long.label == "A" * 47 + "…" and long.title == "A" * 60
    assert [b.y for b in chart.bars] == [charts.BAR_TOP + i * charts.BAR_ROW for i in range(3)]
    assert chart.height == 3 * charts.BAR_ROW


def test_an_empty_chart_has_no_bars():
    assert charts.bar_chart([]).bars == () and charts.column_chart([]).bars == ()


def test_sixty_months_show_a_dozen_labels_and_columns_stand_on_the_baseline():
    chart = charts.column_chart([(f"m{i}", i % 7) for i in range(60)])
    assert sum(b.show_label for b in chart.bars) == 12
    assert all(abs(b.y + b.height - chart.baseline) < 1e-9 for b in chart.bars)
    assert max(b.height for b in chart.bars) == charts.COLUMN_HEIGHT
