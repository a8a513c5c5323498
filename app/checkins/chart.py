"""The "road": her cumulative earnings against the target line, as SVG drawn by pygal."""
from datetime import timedelta

import pygal
from pygal.style import Style

from app.checkins.service import Progress
from app.core.charts import inline_svg

STYLE = Style(background="white", plot_background="white", foreground="#333", foreground_strong="#111",
              foreground_subtle="#ddd", colors=("#198754", "#adb5bd", "#fd7e14"), font_family="sans-serif",
              label_font_size=14, major_label_font_size=14, legend_font_size=14, value_font_size=12,
              guide_stroke_color="#e3e3e3", major_guide_stroke_color="#e3e3e3")


def earnings_chart(progress: Progress, lang: str, labels: dict) -> str:
    """Inline SVG, no script (pygal's tooltips load JS from a CDN: turned off)."""
    earnings = [p for p in progress.milestones if p.milestone.metric == "earnings"]
    # Show up to the next due date (day 7 in week one), so her first yuan are visible at all.
    dues = sorted(p.milestone.by_day for p in earnings) or [7]
    horizon = next((d for d in dues if d >= progress.programme_day), dues[-1])
    days = list(range(1, horizon + 1))
    chart = pygal.XY(style=STYLE, width=390, height=300, js=[], disable_xml_declaration=True, show_dots=False,
                     legend_at_bottom=True, legend_at_bottom_columns=1, truncate_legend=-1, show_x_guides=False,
                     x_title=labels["day"], y_title="¥", include_x_axis=True, dynamic_print_values=False,
                     x_labels=days if horizon <= 10 else [d for d in days if d == 1 or d % 7 == 0 or d == horizon], stroke_style={"width": 3},
                     margin=8, spacing=8, explicit_size=False)
    total, cumulative, by_day = 0, [(0, 0)], {c.day: c.earnings_fen for c in progress.checkins}
    last = min(progress.programme_day, horizon)
    for day in range(1, last + 1):
        total += by_day.get(progress.start + timedelta(days=day - 1), 0)
        cumulative.append((day, total / 100))
    chart.add(labels["you"], cumulative, stroke_style={"width": 4})
    for item in earnings:
        end = min(item.milestone.by_day, horizon)  # a longer line is cut at the chart's edge
        line = [(0, 0), (end, item.milestone.target * end / item.milestone.by_day / 100)]
        chart.add(f"{labels['target']} {item.milestone.text('title', lang)}", line,
                  stroke_style={"width": 2, "dasharray": "6, 4"}, show_dots=True, dots_size=4)
    return inline_svg(chart, labels["aria"])
