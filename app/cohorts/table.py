"""The mentor's table and reasons for attention as HTML, built in Python for one page.

Fifty lines of Jinja macros (a macro call per line, a translation and an escape per cell, one per
reason) were most of the dashboard's time. Here each string is translated once for the page and each
reason's words are worked out once (many trainees share "Hasn't done today's task"); the markup is
the same as the macros made, text escaped the same way.
"""
from datetime import datetime

from flask import current_app
from flask_babel import get_translations
from markupsafe import Markup, escape

from app.core.money import display_yuan
from app.i18n import content_lang, html_gettext, html_ngettext


class Table:
    """What a page of the mentor's table says, in the interface's language (make one per request)."""

    def __init__(self, cohort, now: datetime):
        self.cohort, self.now = cohort, now
        self.translations, self.lang = get_translations(), content_lang()
        self.url_for = current_app.jinja_env.globals["url_for"]   # the templates' one: URLs remembered
        self._reasons: dict = {}
        self._badges: dict = {}
        self._days: dict = {}
        # Her name goes in escaped (below), so a plain %: Markup's own escapes each value again, slowly.
        self._select = self.translations.ugettext("Select %(name)s")
        gettext = self.gettext
        self.task = {None: Markup('<span class="text-secondary" title="{}">·</span>').format(gettext("No task today")),
                     True: Markup('<span class="text-success" title="{0}">✓<span class="visually-hidden">{0}</span>'
                                  '</span>').format(gettext("Done today")),
                     False: Markup('<span class="text-danger" title="{0}">✗<span class="visually-hidden">{0}</span>'
                                   '</span>').format(gettext("Not yet today"))}

    # As the templates' _() and ngettext(), with the page's translations found once.
    def gettext(self, string: str, **variables) -> Markup:
        return html_gettext(self.translations, string, **variables)

    def ngettext(self, singular: str, plural: str, num: int, **variables) -> Markup:
        return html_ngettext(self.translations, singular, plural, num, **variables)

    def reason(self, reason) -> Markup:
        """Why she needs attention, in words (the dashboard, its top of the list, the attention page)."""
        return self._words(reason)[0]

    def _words(self, reason) -> tuple[Markup, str]:
        """The reason's words, and the same as an attribute's text (tags stripped, escaped again)."""
        detail = reason.detail
        key = (reason.code, detail.get("days"), id(detail.get("milestone")), id(detail.get("quiz")))
        words = self._reasons.get(key)
        if words is None:
            markup = self._reason(reason.code, detail)
            words = self._reasons[key] = (markup, str(escape(markup.striptags())))
        return words

    def _reason(self, code: str, detail: dict) -> Markup:
        if code == "behind":
            milestone = detail.get("milestone")
            title = Markup(milestone.text("title", self.lang)).striptags() if milestone else "—"
            return self.gettext("Behind the line: %(title)s", title=title)
        if code == "quiet":
            return self.ngettext("No check-in for %(num)d day", "No check-in for %(num)d days", detail.get("days"))
        if code == "inactive":
            if detail.get("days") is None:
                return self.gettext("Never active since joining")
            return self.ngettext("Inactive for %(num)d day", "Inactive for %(num)d days", detail["days"])
        if code == "failed_quiz":
            quiz = detail.get("quiz")
            title = Markup(quiz.text("title", self.lang)).striptags() if quiz else "—"
            return self.gettext("Failed %(quiz)s twice", quiz=title)
        if code == "essay_waiting":
            return self.gettext("Writing waiting for your review")
        if code == "task_missing":
            return self.gettext("Hasn't done today's task")
        return Markup("")

    def reasons(self, line, separator: str = "; ") -> Markup:
        return Markup(separator.join([self.reason(reason) for reason in line.reasons]))   # each one safe

    def reason_items(self, line) -> Markup:
        """Her reasons as list items (the attention page)."""
        return Markup("".join(f"<li>{self.reason(reason)}</li>" for reason in line.reasons))

    def trainee_url(self, line) -> str:
        return self.url_for("mentor.trainee", cohort_id=self.cohort.id, trainee_id=line.user.id)

    def badge(self, status: str) -> Markup:
        """checkins/_parts.html's status_badge, rendered once per status for the page."""
        badge = self._badges.get(status)
        if badge is None:
            macro = current_app.jinja_env.get_template("checkins/_parts.html").module.status_badge
            badge = self._badges[status] = Markup(macro(status))
        return badge

    def short_when(self, moment: datetime | None) -> Markup | str:
        if moment is None:
            return "—"
        days = (self.now - moment).days
        words = self._days.get(days)
        if words is None:
            words = self._days[days] = (self.gettext("today") if days == 0
                                        else self.ngettext("%(num)dd", "%(num)dd", days))
        return words

    def lines(self, lines, picked: bool = False) -> Markup:
        """The table's lines, each followed by the template's indentation (one call from the template)."""
        return Markup("".join([self._line(line, picked) + "\n      " for line in lines]))

    def _line(self, line, picked: bool) -> str:
        """One line of the table: a box to select her, her name (a link to her page), day, earnings, status,
        today's 打卡, last active, lessons, and her reasons for attention as a count (the words for screen
        readers and in the title). One f-string, each text escaped here: Markup.format() is several times
        slower."""
        row, name = line.summary, escape(line.user.name)   # the stored row's columns, without Line's lookup
        user_id, flags = line.user.id, ""
        if line.reasons:
            said = [self._words(reason) for reason in line.reasons]
            words, title = "; ".join([markup for markup, _ in said]), "; ".join([text for _, text in said])
            flags = (f'<span class="badge rounded-pill text-bg-danger" title="{title}">'
                     f'{len(line.reasons)}</span><span class="visually-hidden">{words}</span>')
        fen = row.total_earnings_fen
        status = self.badge(row.status) if row.status else "—"
        task = self.task[None if row.task_done is None else bool(row.task_done)]
        return (
            f'\n<tr class="trainee-row" data-trainee="{user_id}">\n'
            f'  <td class="pe-0"><input class="form-check-input m-0 pick" type="checkbox" name="trainee" '
            f'value="{user_id}" form="bulk-form"{" checked" if picked else ""} '
            f'aria-label="{self._select % {"name": name}}"></td>\n'
            f'  <td class="name-cell"><a class="d-block text-truncate fw-semibold text-decoration-none" '
            f'href="{escape(self.trainee_url(line))}">{name}</a></td>\n'
            f'  <td class="text-end">{row.programme_day}</td>\n'
            f'  <td class="text-end text-nowrap" title="{escape(display_yuan(fen))}">¥{fen // 100:,}</td>\n'
            f'  <td>{status}</td>\n'
            f'  <td class="text-center">{task}</td>\n'
            f'  <td class="text-nowrap d-none d-sm-table-cell">{self.short_when(row.last_active_at)}</td>\n'
            f'  <td class="text-nowrap d-none d-md-table-cell">{row.lessons_done}/{row.lessons_total}</td>\n'
            f'  <td class="text-end">{flags}</td>\n'
            '</tr>')
