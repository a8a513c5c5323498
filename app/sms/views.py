"""SMS code pages: ask for a code, then log in (or set a new password) with it."""
import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField, TelField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from app.accounts.views import start_session
from app.accounts import service as accounts
from app.accounts.models import User
from app.core.errors import DomainError
from app.database import utcnow
from app.extensions import db
from app.i18n import safe_next
from app.sms import codes, tencent

bp = Blueprint("sms", __name__)


class SendForm(FlaskForm):
    mobile = TelField(_l("Mobile number"), validators=[DataRequired(), Length(max=30)],
                      render_kw={"autocomplete": "tel", "inputmode": "tel"})
    purpose = HiddenField(default="login")
    next = HiddenField()


class CodeForm(FlaskForm):
    mobile = HiddenField(validators=[DataRequired()])
    code = StringField(_l("Code from the text message"), validators=[DataRequired(), Length(max=12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})
    new_password = PasswordField(_l("New password (at least 8 characters)"),
                                 validators=[Optional(), Length(min=accounts.MIN_PASSWORD_LENGTH,
                                                                max=accounts.MAX_PASSWORD_LENGTH)],
                                 render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("New password again"),
                            validators=[EqualTo("new_password", message=_l("The passwords differ."))],
                            render_kw={"autocomplete": "new-password"})
    purpose = HiddenField(default="login")
    next = HiddenField()


def _address() -> str:
    return (request.remote_addr or "unknown")[:64]


def _visitors_only():
    if not tencent.is_configured(current_app.config):
        abort(404)
    if current_user.is_authenticated:
        return redirect(url_for("home.home"))
    return None


def _purpose(value: str | None) -> str:
    return value if value in ("login", "reset") else "login"


@bp.post("/auth/sms/send")
def send():
    if (away := _visitors_only()) is not None:
        return away
    form = SendForm()
    purpose = _purpose(form.purpose.data)
    if form.validate_on_submit():
        try:
            mobile = codes.send_code(db.session, form.mobile.data, purpose, _address(), utcnow())
        except codes.SmsRefused as e:
            db.session.commit()   # a failed send still counts against the limits
            form.mobile.errors.append(e.message)
            return render_template("sms/send.html", form=form, purpose=purpose), e.status
        db.session.commit()
        code_form = CodeForm(formdata=None, data={"mobile": mobile, "purpose": purpose, "next": form.next.data})
        return render_template("sms/code.html", form=code_form, mobile=mobile, purpose=purpose, sent=True)
    return render_template("sms/send.html", form=form, purpose=purpose), 422


@bp.get("/auth/sms/reset")
def reset_start():
    """Forgot her password: a code to her mobile number, then a new password."""
    if (away := _visitors_only()) is not None:
        return away
    return render_template("sms/send.html", form=SendForm(purpose="reset"), purpose="reset")


@bp.post("/auth/sms/login")
def login():
    if (away := _visitors_only()) is not None:
        return away
    form = CodeForm()
    purpose = _purpose(form.purpose.data)
    valid = form.validate_on_submit()
    if purpose == "reset" and not form.new_password.data:
        form.new_password.errors = [*form.new_password.errors, _("Choose a new password.")]
        valid = False
    if valid:
        try:
            mobile = codes.check_code(db.session, form.mobile.data, purpose, form.code.data, utcnow())
        except codes.SmsRefused as e:
            db.session.commit()   # the wrong try is counted
            form.code.errors.append(e.message)
            return _code_page(form, purpose, e.status)
        user = db.session.scalar(sa.select(User).where(User.mobile == mobile))
        if user is None or not user.is_active:
            db.session.commit()
            form.code.errors.append(_("No open account has this mobile number. Join with your invite code."))
            return _code_page(form, purpose, 422)
        if purpose == "reset":
            try:
                accounts.set_new_password(db.session, user, form.new_password.data, utcnow())
            except DomainError as e:
                # Undone with the refusal: her right code stays valid for a better password.
                db.session.rollback()
                form.new_password.errors = [*form.new_password.errors, e.message]
                return _code_page(form, purpose, 422)
            flash(_("Your new password is set."), "success")
        user.last_login_at = utcnow()
        db.session.commit()
        start_session(user)
        return redirect(safe_next(form.next.data, url_for("home.home")))
    return _code_page(form, purpose, 422)


def _code_page(form, purpose, status):
    return render_template("sms/code.html", form=form, mobile=form.mobile.data, purpose=purpose, sent=False), status


def init_app(app) -> None:
    """The blueprint is in the factory's list; here, whether pages offer SMS codes."""
    app.context_processor(lambda: {"sms_login": tencent.is_configured(app.config)})
