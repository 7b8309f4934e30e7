"""The console's charts: axes with round ticks, bars drawn to the same scale."""

import re

from assistant.console.charts import grouped_bars


def test_the_weekly_axis_reads_round_numbers_and_the_bars_fit_it():
    rows = [
        {"week": "2026-11-16", "answered": 196, "declined": 12},
        {"week": "2026-11-23", "answered": 80, "declined": 3},
    ]
    svg = grouped_bars("Weekly", rows, "week", [("answered", "answered"), ("declined", "declined")], "c")
    labels = [int(t) for t in re.findall(r'text-anchor="end"[^>]*>(\d+)</text>', svg)]
    assert labels == [0, 50, 100, 150, 200]
    heights = [float(h) for h in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"', svg)]
    top_line = max(heights)
    assert abs(heights[0] / top_line - 1) < 1e-6 and abs(heights[1] / heights[0] - 12 / 196) < 0.01
    lines = sorted(float(y) for y in re.findall(r'<line x1="\d+" x2="\d+" y1="([\d.]+)"', svg))
    axis_height = lines[-1] - lines[0]  # from 200 down to 0
    assert abs(heights[0] / axis_height - 196 / 200) < 0.01
