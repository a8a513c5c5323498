"""SMS code pages: ask for a code, then log in, set a new password, or join a cohort with it."""
import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField, TelField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from app.accounts.views import start_session
from app.accounts import service as accounts
from app.accounts.forms import TIMEZONES
from app.accounts.models import User
from app.core.calendar import default_timezone
from app.core.errors import DomainError
from app.database import utcnow
from app.extensions import db
from app.i18n import safe_next
from app.sms import codes, providers

bp = Blueprint("sms", __name__)


class _Joining:
    """A newcomer joining by code: the invite she came from, her name and time zone, carried from the
    invite page to the code page (hidden there)."""
    invite = HiddenField()
    name = StringField(_l("Your name"), validators=[Length(max=80)], render_kw={"autocomplete": "name"})
    timezone = SelectField(_l("Time zone"), choices=TIMEZONES, default=default_timezone)


class SendForm(_Joining, FlaskForm):
    mobile = TelField(_l("Mobile number"), validators=[DataRequired(), Length(max=30)],
                      render_kw={"autocomplete": "tel", "inputmode": "tel"})
    purpose = HiddenField(default="login")
    next = HiddenField()


class CodeForm(_Joining, FlaskForm):
    mobile = HiddenField(validators=[DataRequired()])
    code = StringField(_l("Code from the text message"), validators=[DataRequired(), Length(max=12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})
    new_password = PasswordField(_l("New password (at least 8 characters)"),
                                 validators=[Optional(), Length(min=accounts.MIN_PASSWORD_LENGTH)],
                                 render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("New password again"),
                            validators=[EqualTo("new_password", message=_l("The passwords differ."))],
                            render_kw={"autocomplete": "new-password"})
    purpose = HiddenField(default="login")
    next = HiddenField()


def _address() -> str:
    return (request.remote_addr or "unknown")[:64]


def _visitors_only():
    if not providers.is_configured(current_app.config):
        abort(404)
    if current_user.is_authenticated:
        return redirect(url_for("home.home"))
    return None


def _purpose(value: str | None) -> str:
    return value if value in codes.PURPOSES else "login"


def _joining(form):
    """For a code to join: (the cohort of her invite, None) while it is open, else (None, a page saying why)."""
    cohort = accounts.find_cohort_by_code(db.session, form.invite.data or "")
    if cohort is None:
        abort(404)
    problem = accounts.invite_problem(db.session, cohort, utcnow())
    if problem is not None:
        return None, (render_template("cohorts/admin/invite_closed.html", cohort=cohort, message=problem), 403)
    return cohort, None


def _posted(form_class):
    """(form, purpose, cohort, None), the cohort only when joining; or (…, a page to answer with instead:
    she is logged in already, SMS is off, her invite is closed)."""
    if (away := _visitors_only()) is not None:
        return None, None, None, away
    form = form_class()
    purpose = _purpose(form.purpose.data)
    if purpose != "register":
        return form, purpose, None, None
    cohort, closed = _joining(form)
    return form, purpose, cohort, closed


def _number_taken(mobile: str | None) -> bool:
    try:
        mobile = accounts.normalize_mobile(mobile)
    except DomainError:
        return False   # send_code says what is wrong with it
    return bool(mobile) and db.session.scalar(sa.select(User.id).where(User.mobile == mobile)) is not None


@bp.post("/auth/sms/send")
def send():
    form, purpose, cohort, answer = _posted(SendForm)
    if answer is not None:
        return answer
    valid = form.validate_on_submit()
    if purpose == "register" and valid:
        if not (form.name.data or "").strip():
            form.name.errors = [*form.name.errors, _("Enter your name.")]
            valid = False
        elif _number_taken(form.mobile.data):   # checked before a paid text goes out
            form.mobile.errors.append(_("This mobile number already has an account: log in instead."))
            valid = False
    if valid:
        try:
            mobile = codes.send_code(db.session, form.mobile.data, purpose, _address(), utcnow())
        except codes.SmsRefused as e:
            db.session.commit()   # a failed send still counts against the limits
            form.mobile.errors.append(e.message)
            return render_template("sms/send.html", form=form, purpose=purpose, cohort=cohort), e.status
        db.session.commit()
        code_form = CodeForm(formdata=None, data={"mobile": mobile, "purpose": purpose, "next": form.next.data,
                                                  "invite": form.invite.data, "name": form.name.data,
                                                  "timezone": form.timezone.data})
        return render_template("sms/code.html", form=code_form, mobile=mobile, purpose=purpose, sent=True)
    return render_template("sms/send.html", form=form, purpose=purpose, cohort=cohort), 422


@bp.get("/auth/sms/reset")
def reset_start():
    """Forgot her password: a code to her mobile number, then a new password."""
    if (away := _visitors_only()) is not None:
        return away
    return render_template("sms/send.html", form=SendForm(purpose="reset"), purpose="reset")


@bp.post("/auth/sms/login")
def login():
    form, purpose, cohort, answer = _posted(CodeForm)
    if answer is not None:
        return answer
    valid = form.validate_on_submit()
    if purpose == "reset" and not form.new_password.data:
        form.new_password.errors = [*form.new_password.errors, _("Choose a new password.")]
        valid = False
    if not valid:
        return _code_page(form, purpose, 422)
    try:
        mobile = codes.check_code(db.session, form.mobile.data, purpose, form.code.data, utcnow())
    except codes.SmsRefused as e:
        db.session.commit()   # the wrong try is counted
        form.code.errors.append(e.message)
        return _code_page(form, purpose, e.status)
    if purpose == "register":
        return _join(form, cohort, mobile)
    user = db.session.scalar(sa.select(User).where(User.mobile == mobile))
    if user is None or not user.is_active:
        db.session.commit()
        form.code.errors.append(_("No open account has this mobile number. Join with your invite code."))
        return _code_page(form, purpose, 422)
    if purpose == "reset":
        user.set_password(form.new_password.data)
        accounts.password_changed(db.session, user, utcnow())
        flash(_("Your new password is set."), "success")
    user.last_login_at = utcnow()
    db.session.commit()
    start_session(user)
    return redirect(safe_next(form.next.data, url_for("home.home")))


def _join(form, cohort, mobile):
    """The code proved her number: her account, with no password to invent."""
    try:
        user = accounts.register_without_password(db.session, cohort, name=form.name.data, mobile=mobile,
                                                  timezone=form.timezone.data, locale=request.cookies.get("lang"),
                                                  now=utcnow())
    except DomainError as e:
        db.session.rollback()
        if e.code == "invite_closed":
            return render_template("cohorts/admin/invite_closed.html", cohort=cohort, message=e.message), 403
        form.code.errors.append(e.message)
        return _code_page(form, "register", 422)
    user.last_login_at = utcnow()
    db.session.commit()
    start_session(user)
    flash(_("Welcome to %(cohort)s! Start with your first lesson.", cohort=cohort.name), "success")
    return redirect(url_for("home.home"))


def _code_page(form, purpose, status):
    return render_template("sms/code.html", form=form, mobile=form.mobile.data, purpose=purpose, sent=False), status


def init_app(app) -> None:
    """The blueprint is in the factory's list; here, whether pages offer SMS codes."""
    app.context_processor(lambda: {"sms_login": providers.is_configured(app.config)})
