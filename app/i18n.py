"""Languages: Simplified Chinese by default, English when the browser or the user asks."""
import functools
from urllib.parse import urlsplit

from babel import Locale

from flask import Blueprint, current_app, has_request_context, redirect, request, url_for
from flask_babel import get_locale, get_translations
from flask_babel.speaklater import LazyString
from flask_login import current_user
from markupsafe import Markup, escape
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from app.extensions import babel, db
from app.templating import pass_page_context

bp = Blueprint("i18n", __name__)
LANGUAGE_COOKIE = "lang"


def _lazy_html(self) -> str:
    """A lazy string (`_l(...)`) in a template: Jinja asks it for its HTML, and Flask-Babel's answer is
    the text as is, values included, so a name or a CSV cell put into a message (“Unknown trainee
    “%(who)s””) reached the page unescaped. The words are ours; the values are escaped (a value that
    is itself a lazy string gives its own HTML the same way)."""
    values = {name: escape(value) if isinstance(value, (str, LazyString)) else value
              for name, value in self._kwargs.items()}
    return str(self._func(*self._args, **values))


# Once, for every lazy string of the process (they are Flask-Babel's objects, created everywhere).
LazyString.__html__ = _lazy_html


def select_locale() -> Locale:
    return _parsed(_locale_name())


@functools.cache
def _parsed(name: str) -> Locale:
    """Babel's Locale.parse() scans every locale it knows (about 0.2 ms): once per name, not per request."""
    return Locale.parse(name)


def _locale_name() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # commands and jobs: the installation's default
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    user = current_user._get_current_object()   # once: each use of the proxy finds her again
    if user is not None and user.is_authenticated and user.locale in languages:
        return user.locale
    if request.cookies.get(LANGUAGE_COOKIE) in languages:
        return request.cookies[LANGUAGE_COOKIE]
    return _best_match(request.headers.get("Accept-Language", ""), tuple(languages)) \
        or current_app.config["BABEL_DEFAULT_LOCALE"]


@functools.lru_cache(maxsize=256)
def _best_match(header: str, languages: tuple[str, ...]) -> str | None:
    """The browser's Accept-Language against ours: parsed once per distinct header (browsers send a
    handful of them), not on every visitor's request."""
    return parse_accept_header(header, LanguageAccept).best_match(languages)


def select_timezone() -> str:
    user = current_user._get_current_object() if has_request_context() else None
    if user is not None and user.is_authenticated:
        return user.timezone
    return current_app.config["ACADEMY_TIMEZONE"]


def lang_for(user) -> str:
    """Which version of the content a user reads when no request says: "en" if she chose English."""
    return "en" if user is not None and (user.locale or "").startswith("en") else "zh"


def content_lang() -> str:
    """Which version of the content to show: "zh" or "en"."""
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh"


def html_gettext(translations, string: str, **variables) -> Markup:
    """A translation for HTML, as templates' _() gives it: marked safe, its variables escaped."""
    text = Markup(translations.ugettext(string))
    return text % variables if variables or "%" in text else text


def html_ngettext(translations, singular: str, plural: str, num: int, **variables) -> Markup:
    """The plural form for `num`, as templates' ngettext() gives it (`num` is a variable too)."""
    variables.setdefault("num", num)
    return Markup(translations.ungettext(singular, plural, num)) % variables


MARKUP_REMEMBERED = 20_000   # msgids are the templates' own strings: a few hundred per language


def template_i18n(app) -> None:
    """Templates' _(), gettext(), ngettext() and content_lang(): what Flask-Babel and Jinja install
    (Jinja's "newstyle" gettext: the result is marked safe in autoescaped templates and %-formatted
    with the keyword arguments, which are escaped), for less.

    Flask-Babel looks the translations up again for every string (the request's context three times,
    the locale's name, its cache) and Jinja passes each call through three wrappers: for the forty
    strings of the home page that was a quarter of its template's time. Here a page's render finds
    its locale and translations once (a context processor) and each string is one call (its Markup
    made once per locale and process); a macro
    imported without the page's context looks them up itself. force_locale() (emails, posters) still
    works: the lookup is by the locale in force when the template is rendered."""
    by_locale: dict = {}

    def translations_for(locale):
        found = by_locale.get(locale)
        if found is None:
            found = get_translations()
            if locale is not None:
                by_locale[locale] = found
        return found

    def i18n_context() -> dict:
        locale = get_locale()   # None outside a request's locale: then each string looks its own up
        return {"_locale": locale, "_translations": translations_for(locale) if locale is not None else None}

    markup: dict = {}   # (translations, msgid) -> the translation as Markup, made once per process

    @pass_page_context
    def gettext(context, string, **variables):
        page_translations = context.get("_translations")   # the locale's own: kept for the process
        if context.eval_ctx.autoescape:
            key = (page_translations, string)
            text = markup.get(key)
            if text is None:
                text = Markup((page_translations or translations_for(get_locale())).ugettext(string))
                if page_translations is not None and len(markup) < MARKUP_REMEMBERED:
                    markup[key] = text
        else:
            text = (page_translations or translations_for(get_locale())).ugettext(string)
        return text % variables if variables or "%" in text else text   # as html_gettext, on a hot path

    @pass_page_context
    def ngettext(context, singular, plural, num, **variables):
        variables.setdefault("num", num)   # as html_ngettext, on a hot path
        translations = context.get("_translations") or translations_for(get_locale())
        text = translations.ungettext(singular, plural, num)
        return (Markup(text) if context.eval_ctx.autoescape else text) % variables

    @pass_page_context
    def template_content_lang(context) -> str:
        locale = context.get("_locale")
        if locale is None:
            locale = get_locale()
        return "en" if locale is not None and locale.language == "en" else "zh"

    app.context_processor(i18n_context)
    app.jinja_env.globals.update(_=gettext, gettext=gettext, ngettext=ngettext, content_lang=template_content_lang)


def safe_next(target: str | None, fallback: str) -> str:
    """Only ever redirect within this site."""
    if target and "\\" not in target and not any(ord(c) < 32 for c in target):
        # Browsers read a backslash as a slash (/\evil.com is //evil.com): none may pass.
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return fallback


@bp.post("/language")
def choose_language():
    lang = request.form.get("lang", "")
    response = redirect(safe_next(request.form.get("next"), url_for("home.home")))
    if lang in current_app.config["LANGUAGES"]:
        response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True, samesite="Lax")
        if current_user.is_authenticated:
            current_user.locale = lang
            db.session.commit()
    return response


def init_app(app) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    template_i18n(app)
    app.register_blueprint(bp)
