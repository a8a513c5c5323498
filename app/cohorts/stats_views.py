"""A cohort's numbers (/cohorts/<id>/numbers) and cohorts side by side (/cohorts/compare).

Mentors see the cohorts they coach, admins every cohort; anyone else, or any other cohort, gets
a 404 exactly like a missing cohort. Charts are pygal's inline SVG with no script and no link,
each with an aria-label and a table of the same numbers.
"""
import math
import unicodedata

import pygal
import sqlalchemy as sa
from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup
from pygal.style import Style

from app.cohorts import stats
from app.cohorts.models import Cohort
from app.database import utcnow
from app.extensions import db
from app.i18n import content_lang
from app.core.access import coached_cohort_ids
from app.core.charts import inline_svg

bp = Blueprint("stats", __name__)

MAX_COMPARE = 8
GREEN, GREY, ORANGE, BLUE = "#198754", "#adb5bd", "#fd7e14", "#0d6efd"
WIDTH = 390  # drawn for a phone; the SVG scales to its container (explicit_size=False)
ZERO_WIDTH_SPACE = "\u200b"


def _style(*colors: str) -> Style:
    return Style(background="white", plot_background="white", foreground="#333", foreground_strong="#111",
                 foreground_subtle="#ddd", colors=colors, font_family="sans-serif", label_font_size=14,
                 major_label_font_size=14, legend_font_size=14, value_font_size=13, title_font_size=14,
                 guide_stroke_color="#e3e3e3", major_guide_stroke_color="#e3e3e3", no_data_font_size=15)


def _chart(kind, colors: tuple[str, ...], height: int, **options):
    return kind(style=_style(*colors), width=WIDTH, height=height, js=[], disable_xml_declaration=True,
                explicit_size=False, margin=8, margin_bottom=14, spacing=8, legend_at_bottom=True,
                legend_at_bottom_columns=1, no_data_text=_("No numbers yet"),
                truncate_legend=-1, truncate_label=-1, dynamic_print_values=False, **options)


def _label(text: str, limit: int = 14) -> str:
    """A chart label: plain text, cut short for a phone (the table has it in full).

    `limit` counts a Chinese (wide) character as two. pygal reserves room for a label as if every
    character were 0.6 em wide; a Chinese one takes a full em, so without help its labels run off the
    left edge at 390 px. Zero-width spaces, which draw nothing, make pygal reserve enough room."""
    text = Markup(text).striptags()
    widths = [2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text]
    out = text
    if sum(widths) > limit:  # keep what fits with the "…"
        kept = next(i for i in range(len(text) + 1) if sum(widths[:i + 1]) > limit - 1)
        out = text[:kept].rstrip() + "…"
    wide = sum(unicodedata.east_asian_width(char) in "WF" for char in out)
    return out + ZERO_WIDTH_SPACE * math.ceil(wide * 0.7)


def _ticks(top: int) -> list[int]:
    """At most six round ticks from 0 past `top` (pygal's own crowd, and get cut short at 360px)."""
    step = next(m * 10 ** e for e in range(12) for m in (1, 2, 5) if m * 10 ** e * 5 >= top)
    return list(range(0, -(-max(top, 1) // step) * step + 1, step))


def _horizontal(labels: list[str], series: list[tuple[str, list, str]], aria: str, percent: bool = False,
                maximum: int | None = None) -> Markup:
    """Bars read top-down in the order given (pygal draws the first label at the bottom)."""
    rows = len(labels) * max(1, len(series))
    chart = _chart(pygal.HorizontalBar, tuple(color for *_rest, color in series), 90 + 26 * rows + 24 * len(series),
                   print_values=True, show_legend=len(series) > 1, show_y_guides=False, margin_right=22,
                   y_labels=[0, 25, 50, 75, 100] if percent else _ticks(maximum or 0), include_x_axis=True,
                   # A zero prints nothing: its "0" would sit on the axis line (the table has every number).
                   formatter=(lambda v: f"{v:.0f}%" if v else "") if percent else (lambda v: f"{v:.0f}" if v else ""))
    chart.x_labels = list(reversed(labels))
    for title, values, _color in series:
        chart.add(title, list(reversed(values)))
    return inline_svg(chart, aria)


def charts(numbers: stats.CohortNumbers, lang: str) -> dict[str, Markup]:
    most = max([numbers.trainees, 1])
    milestones = _horizontal(
        [_label(f.milestone.text("title", lang), 20) for f in numbers.milestones],
        [(_("Reached by the due day"), [f.rate for f in numbers.milestones], GREEN)],
        _("Chart of the share of trainees who reached each milestone by its day; the table below has the numbers."),
        percent=True)
    lessons = _horizontal(
        [_label(f"{i}. {f.lesson.text('title', lang)}") for i, f in enumerate(numbers.lessons, 1)],
        [(_("Completed"), [f.completed for f in numbers.lessons], GREEN)],
        _("Chart of how many trainees completed each lesson, in catalogue order; the table below has the numbers."),
        maximum=most)
    quizzes = _horizontal(
        [_label(f.quiz.text("title", lang)) for f in numbers.quizzes],
        [(_("Attempted"), [f.attempted for f in numbers.quizzes], GREY),
         (_("Passed"), [f.passed for f in numbers.quizzes], GREEN)],
        _("Chart of how many trainees attempted and passed each quiz; the table below has the numbers."),
        maximum=most)
    weakest = _horizontal(
        [_label(weakest_label(key), 22) for key in stats.WEAKEST_KEYS],
        [(_("Trainees"), [numbers.weakest[key] for key in stats.WEAKEST_KEYS], ORANGE)],
        _("Chart of how many trainees have each factor as their weakest this week; the table below has the numbers."),
        maximum=most)
    return {"milestones": milestones, "medians": median_chart(numbers, lang), "lessons": lessons,
            "quizzes": quizzes, "weakest": weakest}


def weakest_label(key: str) -> str:
    return {"traffic": _("Traffic pool"), "circulation": _("Circulation"), "monetization": _("Monetization"),
            stats.NO_WEAKEST: _("All at their reference"), stats.NO_DATA: _("No numbers this week")}[key]


def median_chart(numbers: stats.CohortNumbers, lang: str) -> Markup:
    days = [m.day for m in numbers.medians]
    chart = _chart(pygal.XY, (GREEN, GREY, ORANGE), 300, show_dots=False, show_x_guides=False,
                   x_title=_("Programme day"), y_title="¥", include_x_axis=True, stroke_style={"width": 3},
                   x_labels=[d for d in days if d == 1 or d == days[-1] or (d % 7 == 0 and days[-1] - d >= 3)])
    chart.add(_("Median earnings so far"),
              [(0, 0)] + [(m.day, m.median_fen / 100) for m in numbers.medians if m.median_fen is not None],
              stroke_style={"width": 4})
    for figure in numbers.earnings_milestones:
        end = min(figure.milestone.by_day, days[-1])
        chart.add(f"{_('Target:')} {_label(figure.milestone.text('title', lang), 40)}",
                  [(0, 0), (end, figure.milestone.target * end / figure.milestone.by_day / 100)],
                  stroke_style={"width": 2, "dasharray": "6, 4"}, show_dots=True, dots_size=4)
    return inline_svg(chart, _("Chart of the median cumulative earnings by programme day against the target lines; "
                         "the table below has the numbers."))


# --- access ---------------------------------------------------------------------------------------

def _allowed_ids() -> list[int] | None:
    """The cohorts she may see numbers of; None means all (admins). Anyone else: 404."""
    if not current_user.is_staff:
        abort(404)
    return coached_cohort_ids(db.session, current_user)


@bp.get("/cohorts/<int:cohort_id>/numbers")
@login_required
def numbers(cohort_id: int):
    allowed = _allowed_ids()
    cohort = db.session.get(Cohort, cohort_id) if allowed is None or cohort_id in allowed else None
    if cohort is None:
        abort(404)
    now = utcnow()
    figures = stats.cohort_numbers(db.session, cohort, now)
    lang = content_lang()
    return render_template("cohorts/stats/numbers.html", numbers=figures, charts=charts(figures, lang), lang=lang,
                           weakest_label=weakest_label, quiet_days=stats.QUIET_DAYS, max_names=30,
                           can_compare=allowed is None or len(allowed) > 1)


@bp.get("/cohorts/compare")
@login_required
def compare():
    allowed = _allowed_ids()
    try:  # ?ids=1,2 or ?ids=1&ids=2 (the picker's checkboxes)
        ids = list(dict.fromkeys(int(part) for raw in request.args.getlist("ids")
                                 for part in raw.split(",") if part.strip()))
    except ValueError:
        abort(400)
    query = sa.select(Cohort).order_by(Cohort.is_archived, Cohort.start_date.desc(), Cohort.id.desc())
    if allowed is not None:
        query = query.where(Cohort.id.in_(allowed))
    choices = db.session.scalars(query).all()
    by_id = {c.id: c for c in choices}
    if not ids:
        ids = [c.id for c in choices if not c.is_archived][:MAX_COMPARE]
    if any(i not in by_id for i in ids):  # a foreign cohort answers like a missing one
        abort(404)
    if len(ids) > MAX_COMPARE:
        abort(400)
    now = utcnow()
    columns = [stats.cohort_numbers(db.session, by_id[i], now) for i in ids]
    return render_template("cohorts/stats/compare.html", columns=columns, choices=choices, chosen=set(ids),
                           max_compare=MAX_COMPARE, lang=content_lang(), weakest_label=weakest_label)
