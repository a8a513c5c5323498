"""What every page shares: the error pages, the header's inbox badge, the Markdown filter, the
templates' url_for (remembered), and the small pieces of markup every page repeats (the tab bar's
icons, progress bars), built in Python: a Jinja macro call costs ten times as much, dozens a page."""
from flask import has_request_context, render_template, request
from flask_login import current_user
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException

from app.api.views import http_error
from app.content.render import render_markdown
from app.extensions import db
from app.reminders import inbox
from app.reminders.views import dead_letter_alert
from app.templating import pass_page_context


def _error(template: str, status: int):
    def handler(error):
        if request.path.startswith("/api/"):   # the API answers in JSON, whatever the error
            return http_error(error)
        return render_template(template, status=status), status
    return handler


def inbox_badge() -> dict:
    """Unread messages for the header: one small query, for trainees only."""
    user = current_user._get_current_object()   # once: each use of the proxy finds her again
    if user is not None and user.is_authenticated and user.is_trainee:
        return {"unread_count": inbox.unread_count(db.session, user)}
    return {"unread_count": 0}


URLS_REMEMBERED = 20_000   # a few MB at most: lessons, quizzes, cohorts, trainees' pages...


def remembered_url_for(app):
    """url_for for templates: each internal URL built once per process, then looked up.

    A page's links (the header's navigation, the footer, lesson and course links) are the same on
    every request; werkzeug builds each in about 7 µs (found here: 2 to 3 µs), and a page has a dozen
    or more. Only what cannot differ between requests is remembered: a link in a request (not
    an email's absolute one), by endpoint name and arguments, under the request's script root;
    anything else (relative endpoints, `_external` and the other options, unhashable arguments,
    an app with url_defaults functions) is built every time by Flask's own url_for."""
    build = app.url_for
    remembered: dict = {}

    def url_for(endpoint: str, **values):
        if endpoint[:1] == "." or not has_request_context() or any(app.url_default_functions.values()):
            return build(endpoint, **values)
        try:
            key = (request.script_root, endpoint, *sorted(values.items()))
            url = remembered.get(key)
        except TypeError:  # an unhashable argument
            return build(endpoint, **values)
        if url is None:
            url = build(endpoint, **values)
            if not any(name[:1] == "_" for name in values) and len(remembered) < URLS_REMEMBERED:
                remembered[key] = url
        return url

    return url_for


FRAGMENTS_REMEMBERED = 1_000   # languages x tabs x unread counts x roles: a few hundred at most


def remembered_fragments(app):
    """fragment(name, **values) for templates: a part of every page (the header, the tab bar) rendered
    once per process for each language, script root and set of values, then reused: a third of a
    lesson page's Python went into drawing the same header and tab bar again.

    The fragment is rendered with its values and nothing else from the page (no current_user, no
    request): what it may show must be in its values, so a fragment cannot show one person another's
    header. Its translations are the page's; its links are built under the request's script root."""
    remembered: dict = {}

    @pass_page_context
    def fragment(context, name: str, **values) -> Markup:
        translations = context.get("_translations")
        key = (name, translations, request.script_root if has_request_context() else "", *sorted(values.items()))
        html = remembered.get(key)
        if html is None:
            html = Markup(app.jinja_env.get_template(name).render(
                values, _locale=context.get("_locale"), _translations=translations))
            if translations is not None and len(remembered) < FRAGMENTS_REMEMBERED:
                remembered[key] = html
        return html

    return fragment


# The tab bar's icons: inline SVG (no icon font, no CDN), drawn in the text colour.
ICONS = {
    "today": '<rect x="3.5" y="5" width="17" height="15.5" rx="2.5"/><path d="M3.5 9.5h17M8 3v4M16 3v4"/>'
             '<path d="m8.5 14.5 2.5 2.5 4.5-5"/>',
    "learn": '<path d="M12 6.5C10 5 7 4.5 3.5 5v13.5c3.5-.5 6.5 0 8.5 1.5 2-1.5 5-2 8.5-1.5V5C17 4.5 14 5 12 6.5Z"/>'
             '<path d="M12 6.5V20"/>',
    "progress": '<path d="M4 20h16"/><path d="M6.5 16v-4M11 16V8M15.5 16v-6M20 16V5"/>',
    "feed": '<path d="M20.5 11.5c0 4.1-3.8 7.5-8.5 7.5-1.2 0-2.4-.2-3.4-.6L4 19.5l1.3-3.4C4.2 14.8 3.5 13.2 3.5 11.5 '
            '3.5 7.4 7.3 4 12 4s8.5 3.4 8.5 7.5Z"/><path d="M8.5 11.5h.01M12 11.5h.01M15.5 11.5h.01"/>',
    "me": '<circle cx="12" cy="8" r="4"/><path d="M4.5 20.5c.8-3.8 3.8-6 7.5-6s6.7 2.2 7.5 6"/>',
}


def icon(name: str) -> Markup:
    return Markup('<svg class="tab-icon" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" '
                  'focusable="false" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" '
                  'stroke-linejoin="round">' + ICONS.get(name, "") + "</svg>")


def progress_bar(percent, label) -> Markup:
    """A green bar, `percent` full, named `label` for screen readers. (Concatenated: Markup.format's
    formatter costs more than the rest of the bar.)"""
    percent = str(escape(percent))
    return Markup('<div class="progress" role="progressbar" aria-label="' + str(escape(label)) + '" aria-valuenow="'
                  + percent + '" aria-valuemin="0" aria-valuemax="100"><div class="progress-bar bg-success" '
                  'style="width: ' + percent + '%"></div></div>')


def init_app(app) -> None:
    app.jinja_env.globals.update(url_for=remembered_url_for(app), icon=icon, progress_bar=progress_bar,
                                 fragment=remembered_fragments(app))
    app.register_error_handler(400, _error("error.html", 400))
    app.register_error_handler(404, _error("error.html", 404))
    app.context_processor(inbox_badge)
    app.context_processor(dead_letter_alert)
    # Every other HTTP error (405, 413, a crash's 500): JSON under /api/, Flask's own page elsewhere.
    app.register_error_handler(HTTPException, http_error)
    # For what users write (essays, comments): Markdown sanitised by nh3.
    app.jinja_env.filters["markdown"] = lambda text: Markup(render_markdown(text or ""))
