"""Languages: Simplified Chinese by default, English when the browser or the user asks."""
import functools
from urllib.parse import urlsplit

from babel import Locale

from flask import Blueprint, current_app, has_request_context, redirect, request, url_for
from flask_babel import get_locale
from flask_login import current_user

from app.extensions import babel, db

bp = Blueprint("i18n", __name__)
LANGUAGE_COOKIE = "lang"


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
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    if request.cookies.get(LANGUAGE_COOKIE) in languages:
        return request.cookies[LANGUAGE_COOKIE]
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.timezone
    return current_app.config["ACADEMY_TIMEZONE"]


def lang_for(user) -> str:
    """Which version of the content a user reads when no request says: "en" if she chose English."""
    return "en" if user is not None and (user.locale or "").startswith("en") else "zh"


def content_lang() -> str:
    """Which version of the content to show: "zh" or "en"."""
    return "en" if str(get_locale()).startswith("en") else "zh"


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
    app.register_blueprint(bp)
    app.jinja_env.globals["content_lang"] = content_lang
