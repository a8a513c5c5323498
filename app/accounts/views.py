import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from app.accounts import service
from app.accounts.models import User
from app.accounts.forms import EmailForm, JoinForm, LoginForm, PasswordForm, RegisterForm
from app.cohorts.models import Cohort
from app.database import utcnow
from app.extensions import db, login_manager
from app.i18n import safe_next
from app.core.errors import DomainError, put_on_form

bp = Blueprint("accounts", __name__)


# Built once: every signed-in request runs it, and SQLAlchemy then reuses its compiled form without
# rebuilding the statement and its cache key (a third of the query's cost). Her cohort comes in the same
# query (User.cohort is joined); its mentors are loaded when asked for, as they were, without the
# selectin loader's set-up on every request (a fifth of the query's cost).
_USER_BY_SESSION_TOKEN = (sa.select(User)
                          .where(User.session_token == sa.bindparam("token"), User.is_active.is_(True))
                          .options(so.joinedload(User.cohort).lazyload(Cohort.mentors)))


def load_user(session_token: str):
    """Flask-Login's loader: the session carries her session token, which a new password rotates."""
    return db.session.scalar(_USER_BY_SESSION_TOKEN, {"token": session_token})


def init_app(app) -> None:
    login_manager.user_loader(load_user)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None
    app.register_blueprint(bp)


def _client_address() -> str:
    return (request.remote_addr or "unknown")[:64]


def start_session(user, remember: bool = False) -> None:
    """Log her in on a new session: nothing from before (whatever was put in the session cookie
    before she logged in) survives, so a session planted on her device learns nothing. Also how
    WeChat and SMS-code logins start hers (app/wechat/views.py, app/sms/views.py)."""
    session.clear()
    login_user(user, remember=remember)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.home"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        result = service.authenticate(db.session, form.identifier.data, form.password.data,
                                      _client_address(), utcnow(), current_app.config)
        db.session.commit()
        if result.user:
            start_session(result.user, remember=form.remember.data)
            return redirect(safe_next(form.next.data, url_for("home.home")))
        if result.error == "throttled":
            form.password.errors.append(
                _("Too many attempts. Try again in %(n)d minutes.", n=result.retry_minutes))
        elif result.error == "inactive":
            form.identifier.errors.append(_("This account has been closed. Ask your mentor."))
        else:
            form.password.errors.append(_("Wrong mobile number, email or password."))
    return render_template("accounts/login.html", form=form), 200 if request.method == "GET" or not form.errors else 422


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        # A copy of this session cookie (or of the remember-me cookie) must not outlive the logout.
        current_user.end_sessions()
        db.session.commit()
    session.clear()
    logout_user()  # after clear(): it leaves the note that deletes the remember-me cookie
    return redirect(url_for("home.home"))


@bp.route("/join", methods=["GET", "POST"])
def join():
    form = JoinForm(code=request.args.get("code", ""))
    if form.validate_on_submit():
        cohort = service.find_cohort_by_code(db.session, form.code.data)
        if cohort:
            return redirect(url_for("accounts.invite", code=cohort.invite_code))
        form.code.errors.append(_("No cohort has this invite code. Check it with your mentor."))
    return render_template("accounts/join.html", form=form), 422 if form.errors else 200


@bp.route("/invite/<code>", methods=["GET", "POST"])
def invite(code: str):
    cohort = service.find_cohort_by_code(db.session, code)
    if cohort is None:
        abort(404)
    if current_user.is_authenticated:
        flash(_("You already have an account."), "info")
        return redirect(url_for("home.home"))
    problem = service.invite_problem(db.session, cohort, utcnow())
    if problem is not None:
        return _invite_closed(cohort, problem)
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = service.register_trainee(
                db.session, cohort, name=form.name.data, email=form.email.data, mobile=form.mobile.data,
                password=form.password.data, timezone=form.timezone.data,
                locale=request.cookies.get("lang"), now=utcnow())
        except DomainError as e:
            if e.code == "invite_closed":
                db.session.rollback()
                return _invite_closed(cohort, e.message)
            put_on_form(form, e)
        else:
            db.session.commit()
            start_session(user)
            flash(_("Welcome to %(cohort)s! Start with your first lesson.", cohort=cohort.name), "success")
            return redirect(url_for("home.home"))
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/register.html", form=form, cohort=cohort), status


def _invite_closed(cohort, message):
    """Why this invite is closed; nothing is registered."""
    return render_template("cohorts/admin/invite_closed.html", cohort=cohort, message=message), 403


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField(_l("New password (at least 8 characters)"),
                                 validators=[DataRequired(), Length(min=service.MIN_PASSWORD_LENGTH, max=service.MAX_PASSWORD_LENGTH)],
                                 render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("New password again"),
                            validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
                            render_kw={"autocomplete": "new-password"})


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Set a new password through the one-time link an admin created."""
    try:
        reset = service.find_reset(db.session, token, utcnow())
    except DomainError as e:
        return _reset_page(None, e, 404 if e.code == "invalid" else 410)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        # Asked before the reset: the new password rotates her session token, and with it current_user.
        hers = current_user.is_authenticated and current_user.id == reset.user_id
        try:
            service.reset_password(db.session, token, form.new_password.data, utcnow())
        except DomainError as e:
            if e.field is None:  # the link itself: used or expired meanwhile
                db.session.rollback()
                return _reset_page(None, e, 410)
            put_on_form(form, e)
        else:
            db.session.commit()
            if hers:
                session.clear()
                logout_user()
            flash(_("Your new password is set. Log in with it."), "success")
            return redirect(url_for("accounts.login"))
    return _reset_page(form, None, 422 if request.method == "POST" else 200)


def _reset_page(form, error, status: int):
    response = current_app.make_response(
        (render_template("cohorts/admin/reset_password.html", form=form, error=error), status))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in this page's address
    return response


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            service.change_password(db.session, current_user, form.current_password.data, form.new_password.data,
                                    utcnow())
        except DomainError as e:
            put_on_form(form, e)
        else:
            db.session.commit()
            # The session token changed with the password: sign this device in again, on a new session
            # (remembered again if it was: the old remember-me cookie holds the old token).
            remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
            start_session(current_user._get_current_object(), remember=remembered)
            flash(_("Password changed. Other devices have been logged out."), "success")
            return redirect(url_for("home.home"))
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/password.html", form=form), status


@bp.get("/forgot")
def forgot_password():
    """What to do without a password: there is no self-service reset, a mentor or admin sends a link."""
    return render_template("accounts/forgot.html")


@bp.get("/me")
@login_required
def me():
    """The "me" tab: her account, inbox, posters, reminder settings and language in one place."""
    return render_template("accounts/me.html", email_form=EmailForm(email=current_user.email))


@bp.post("/account/email")
@login_required
def change_email():
    form = EmailForm()
    if form.validate_on_submit():
        try:
            service.set_email(db.session, current_user, form.email.data)
        except DomainError as e:
            db.session.rollback()
            put_on_form(form, e)
        else:
            db.session.commit()
            flash(_("Email saved: %(email)s.", email=current_user.email) if current_user.email
                  else _("Email removed."), "success")
            return redirect(url_for("accounts.me"))
    return render_template("accounts/me.html", email_form=form), 422
