"""Forms of the admin pages: rendering, CSRF and field types. The rules are in app/cohorts/admin.py."""
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, DateTimeLocalField, IntegerField, SelectChoice, SelectField,
                     SelectMultipleField, StringField, URLField)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.accounts.forms import TIMEZONES
from app.core.calendar import default_timezone

ROBOT_KINDS = [
    SelectChoice("", _l("No group robot")),
    SelectChoice("wecom", _l("WeCom")),
    SelectChoice("dingtalk", _l("DingTalk")),
    SelectChoice("feishu", _l("Feishu")),
]


def _admin_zone():
    """The invite expiry is typed and shown in the admin's own time zone."""
    return ZoneInfo(current_user.timezone) if current_user and current_user.is_authenticated else None


class CohortForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)], render_kw={"autocomplete": "off"})
    start_date = DateField(_l("Start date"), validators=[DataRequired()])
    timezone = SelectField(_l("Time zone"), choices=TIMEZONES, default=default_timezone)
    # Checkboxes rather than a <select multiple>: easier to tap on a phone.
    mentors = SelectMultipleField(_l("Mentors"), coerce=int, choices=[], validate_choice=False,
                                  widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    invite_code = StringField(_l("Invite code (letters and digits; leave empty for a new one)"),
                              validators=[Optional(), Length(max=32)],
                              render_kw={"autocapitalize": "characters", "autocomplete": "off", "spellcheck": "false"})
    invite_expires_at = DateTimeLocalField(_l("Invite expires (optional, your time zone)"),
                                           validators=[Optional()], tz=_admin_zone,
                                           format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])
    seat_limit = IntegerField(_l("Seats: trainees who may join by the invite (optional)"),
                              validators=[Optional(), NumberRange(min=1, max=100000)],
                              render_kw={"inputmode": "numeric", "autocomplete": "off"})
    rank_by_earnings = BooleanField(_l("Rankings may show earnings (only of members who chose to share them)"))
    robot_kind = SelectField(_l("Group robot"), choices=ROBOT_KINDS, default="")
    robot_webhook = URLField(_l("Robot webhook URL (https)"), validators=[Optional(), Length(max=500)],
                             render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"})
    robot_secret = StringField(_l("Robot signing secret (optional)"),
                               validators=[Optional(), Length(max=200)],
                               render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"})


class MoveForm(FlaskForm):
    cohort = SelectField(_l("Move to cohort"), coerce=int, choices=[], validate_choice=False)
