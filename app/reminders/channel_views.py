"""Her channels on the preferences page: each listed, the 公众号 and SMS turned on or off here."""
from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.database import utcnow
from app.extensions import db
from app.reminders import channel_choices
from app.sms import providers as sms_providers
from app.wechat import client as wechat_client
from app.wechat import service as wechat_service

bp = Blueprint("channel_views", __name__)


def her_channels(user) -> list[dict]:
    """Every channel that can reach her: name, whether it is on, and what she can do about it."""
    config = current_app.config
    choices = channel_choices.choices_of(db.session, [user.id])
    out = [{"key": "inapp", "on": True, "switchable": False}]
    out.append({"key": "email", "on": bool(user.email and config.get("SMTP_HOST")), "switchable": False,
                "missing": not user.email})
    if wechat_client.is_configured(config):
        choice = choices.get((user.id, channel_choices.WECHAT))
        bound = wechat_service.binding_of(db.session, user.id) is not None
        out.append({"key": "wechat", "on": bound and (choice is None or choice.is_enabled), "switchable": bound,
                    "missing": not bound, "refused": choice is not None and choice.off_reason == channel_choices.REFUSED})
    if sms_providers.is_configured(config):
        choice = choices.get((user.id, channel_choices.SMS))
        out.append({"key": "sms", "on": bool(user.mobile) and (choice is None or choice.is_enabled),
                    "switchable": bool(user.mobile), "missing": not user.mobile})
    return out


@bp.post("/preferences/channels")
@login_required
def switch():
    channel, on = request.form.get("channel"), request.form.get("on") == "1"
    if channel not in (channel_choices.WECHAT, channel_choices.SMS):
        return _("Unknown channel."), 422
    channel_choices.set_channel(db.session, current_user.id, channel, on, utcnow())
    db.session.commit()
    flash(_("Your reminder settings are saved."), "success")
    return redirect(url_for("reminders.preferences"))


def init_app(app) -> None:
    """The blueprint is in the factory's list; here, the channels for her preferences page."""
    app.context_processor(lambda: {"her_channels": her_channels})
