from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import Optional


class CheckinForm(FlaskForm):
    """Rendering and CSRF only: the rules live in service.parse_checkin, shared with the API and imports."""

    date = DateField(_l("Day"), validators=[Optional()])
    earnings = StringField(_l("Earnings (commission, in yuan)"),
                           render_kw={"inputmode": "decimal", "placeholder": "0.00", "autocomplete": "off"})
    orders = StringField(_l("Orders"), render_kw={"inputmode": "numeric", "autocomplete": "off"})
    group_members = StringField(_l("Members in your group(s)"), render_kw={"inputmode": "numeric", "autocomplete": "off"})
    active_members = StringField(_l("Active members this week (spoke, replied or ordered)"),
                                 render_kw={"inputmode": "numeric", "autocomplete": "off"})
    posts = StringField(_l("Posts published (Moments and group)"), render_kw={"inputmode": "numeric", "autocomplete": "off"})
    note = TextAreaField(_l("Note (what worked, what didn't)"), render_kw={"rows": 3})

    def raw(self) -> dict:
        """What she typed, as the service expects it."""
        return {"date": self.date.raw_data[0] if self.date.raw_data else "", "earnings": self.earnings.data,
                "orders": self.orders.data, "group_members": self.group_members.data,
                "active_members": self.active_members.data, "posts": self.posts.data, "note": self.note.data}


