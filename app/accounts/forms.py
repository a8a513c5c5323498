from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField, TelField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from app.core.calendar import default_timezone

# The zones our trainees live in; Beijing time first (the usual ACADEMY_TIMEZONE).
TIMEZONES = [
    SelectChoice("Asia/Shanghai", _l("China (Beijing time)")),
    SelectChoice("Asia/Hong_Kong", _l("Hong Kong")),
    SelectChoice("Asia/Taipei", _l("Taipei")),
    SelectChoice("Asia/Singapore", _l("Singapore / Kuala Lumpur")),
    SelectChoice("Asia/Tokyo", _l("Tokyo / Seoul")),
    SelectChoice("Australia/Sydney", _l("Sydney")),
    SelectChoice("Europe/London", _l("London")),
    SelectChoice("Europe/Paris", _l("Paris / Berlin")),
    SelectChoice("America/New_York", _l("New York")),
    SelectChoice("America/Los_Angeles", _l("Los Angeles / Vancouver")),
]


class LoginForm(FlaskForm):
    identifier = StringField(_l("Mobile number or email"), validators=[DataRequired(), Length(max=254)],
                             render_kw={"autocomplete": "username", "autocapitalize": "none"})
    password = PasswordField(_l("Password"), validators=[DataRequired()],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Keep me logged in for 30 days"))
    next = HiddenField()


class JoinForm(FlaskForm):
    code = StringField(_l("Invite code"), validators=[DataRequired(), Length(max=32)],
                       render_kw={"autocapitalize": "characters", "autocomplete": "off"})


class RegisterForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=80)],
                       render_kw={"autocomplete": "name"})
    mobile = TelField(_l("Mobile number"), validators=[Optional(), Length(max=20)],
                      render_kw={"autocomplete": "tel", "inputmode": "tel"})
    email = EmailField(_l("Email (optional if you give a mobile number)"),
                       validators=[Optional(), Email(check_deliverability=False), Length(max=254)],
                       render_kw={"autocomplete": "email", "autocapitalize": "none"})
    password = PasswordField(_l("Password (at least 8 characters)"), validators=[DataRequired(), Length(min=8)],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Password again"),
                            validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
                            render_kw={"autocomplete": "new-password"})
    timezone = SelectField(_l("Time zone"), choices=TIMEZONES, default=default_timezone)


class MobileJoinForm(FlaskForm):
    """Joining without a password: her WeChat or a text-message code proves who she is."""
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=80)], render_kw={"autocomplete": "name"})
    mobile = TelField(_l("Mobile number"), validators=[DataRequired(), Length(max=20)],
                      render_kw={"autocomplete": "tel", "inputmode": "tel"})
    timezone = SelectField(_l("Time zone"), choices=TIMEZONES, default=default_timezone)


class PasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(_l("New password (at least 8 characters)"),
                                 validators=[DataRequired(), Length(min=8)],
                                 render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("New password again"),
                            validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
                            render_kw={"autocomplete": "new-password"})
