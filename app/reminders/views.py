"""Reminder pages: her inbox, her preferences, one-click unsubscribe, the admins' outbox."""

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session, selectinload
from wtforms import BooleanField, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget, TimeInput

from app.accounts.forms import TIMEZONES
from app.checkins.service import get_programme
from app.core import audit
from app.core.paging import PER_PAGE, paginate
from app.core.access import admin_required
from app.database import utcnow
from app.extensions import csrf, db
from app.reminders import inbox as inbox_messages
from app.reminders import preferences as prefs
from app.reminders.models import DeliveryTry, OutboxMessage
from app.core.errors import DomainError, put_on_form
from app.reminders.outbox import retry_dead

bp = Blueprint("reminders", __name__)

STATE_LABELS = {
    OutboxMessage.PENDING: _l("Waiting"), OutboxMessage.CLAIMED: _l("Being sent"), OutboxMessage.SENT: _l("Sent"),
    OutboxMessage.DEAD: _l("Failed"), OutboxMessage.SKIPPED: _l("Skipped"),
}
CHANNEL_LABELS = {
    "inapp": _l("In-app inbox"), "email": _l("Email"), "wecom": _l("WeCom group robot"),
    "dingtalk": _l("DingTalk group robot"), "feishu": _l("Feishu group robot"), "webhook": _l("Webhook"),
}
OUTCOME_LABELS = {"sent": _l("Sent"), "retry": _l("Failed, to be tried again"), "dead": _l("Failed, no more tries"),
                  "skipped": _l("Skipped")}
ZONE_LABELS = {choice.value: choice.label for choice in TIMEZONES}


@bp.get("/inbox")
@login_required
def inbox():
    messages = inbox_messages.messages(db.session, current_user)
    unread = {m.id for m in messages if m.read_at is None}
    inbox_messages.mark_read(db.session, current_user, utcnow())
    db.session.commit()
    return render_template("reminders/inbox.html", messages=messages, unread=unread)


# --- her preferences ---------------------------------------------------------------------------

class PreferencesForm(FlaskForm):
    email_enabled = BooleanField(_l("Send me reminders by email"))
    email_categories = SelectMultipleField(_l("By email"), choices=[], widget=ListWidget(prefix_label=False),
                                           option_widget=CheckboxInput())
    send_at = StringField(_l("Daily reminder time"), widget=TimeInput())
    quiet_start = StringField(_l("Quiet from"), widget=TimeInput())
    quiet_end = StringField(_l("Quiet until"), widget=TimeInput())
    group_mention = BooleanField(_l("Mention me in my cohort's group"))
    shares_earnings = BooleanField(_l("Show my earnings to my cohort (wins feed, rankings, posters)"))


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    programme_reminders = get_programme(db.session).reminders
    current = prefs.effective(programme_reminders, prefs.get_preference(db.session, current_user))
    shown = prefs.categories_for(current_user)
    if request.method == "POST":
        form = PreferencesForm()
    else:
        form = PreferencesForm(data={
            "email_enabled": current.email_enabled, "group_mention": current.group_mention,
            "shares_earnings": current_user.shares_earnings,
            "email_categories": [c for c in shown if c not in current.email_muted],
            "send_at": current.send_at, "quiet_start": current.quiet_start, "quiet_end": current.quiet_end})
    form.email_categories.choices = [(c, prefs.CATEGORY_LABELS[c]) for c in shown]
    if form.validate_on_submit():
        choices = {"send_at": form.send_at.data, "quiet_start": form.quiet_start.data,
                   "quiet_end": form.quiet_end.data, "email_enabled": form.email_enabled.data,
                   "email_categories": {c: c in (form.email_categories.data or ()) for c in shown},
                   "group_mention": form.group_mention.data, "shares_earnings": form.shares_earnings.data}
        try:
            prefs.update_settings(db.session, current_user, now=utcnow(), **choices)
        except DomainError as e:
            db.session.rollback()
            put_on_form(form, e)
        else:
            db.session.commit()
            flash(_("Your reminder settings are saved."), "success")
            held = prefs.effective_for(db.session, current_user).reminder_held_until()
            if held:
                flash(_("Your daily reminder time is inside your quiet hours: emails and group mentions "
                        "will wait until %(time)s.", time=held), "warning")
            return redirect(url_for("reminders.preferences"))
    defaults = prefs.effective(programme_reminders, None)
    zone = ZONE_LABELS.get(current_user.timezone, current_user.timezone)
    status = 422 if request.method == "POST" else 200
    return render_template("reminders/preferences.html", form=form, defaults=defaults, zone=zone), status


# --- one-click unsubscribe (no login: the signed token says who and what) ----------------------

def _token_or_404(token: str) -> tuple[int, str]:
    return prefs.read_unsubscribe_token(token) or abort(404)


@bp.get("/unsubscribe/<token>")
def unsubscribe(token: str):
    """Shows the button only: link checkers and mail scanners open links, and must change nothing."""
    _, category = _token_or_404(token)
    return render_template("reminders/unsubscribe.html", token=token, category=category,
                           label=prefs.CATEGORY_LABELS[category], done=False)


@bp.post("/unsubscribe/<token>")
@csrf.exempt  # RFC 8058 one-click POSTs come from mail clients, without our token: the signed token is the proof
def unsubscribe_confirm(token: str):
    user_id, category = _token_or_404(token)
    if not prefs.unsubscribe(db.session, user_id, category, utcnow()):
        abort(404)  # her account is gone
    db.session.commit()
    return render_template("reminders/unsubscribe.html", token=token, category=category,
                           label=prefs.CATEGORY_LABELS[category], done=True)


# --- the outbox, for admins --------------------------------------------------------------------

def outbox_counts(session: Session) -> dict[str, int]:
    """Messages per state, every state listed (0 when none)."""
    counts = dict(session.execute(sa.select(OutboxMessage.state, sa.func.count(OutboxMessage.id))
                                  .group_by(OutboxMessage.state)).all())
    return {state: counts.get(state, 0) for state in STATE_LABELS}


def dead_letters(page, per_page: int = PER_PAGE):
    """Dead messages, the latest to die first, with recipient, cohort and tries loaded."""
    died = (sa.select(DeliveryTry.message_id, sa.func.max(DeliveryTry.finished_at).label("at"))
            .group_by(DeliveryTry.message_id).subquery())
    return paginate(
        sa.select(OutboxMessage).outerjoin(died, died.c.message_id == OutboxMessage.id)
        .where(OutboxMessage.state == OutboxMessage.DEAD)
        .options(selectinload(OutboxMessage.user), selectinload(OutboxMessage.cohort),
                 selectinload(OutboxMessage.tries_log))
        .order_by(sa.func.coalesce(died.c.at, OutboxMessage.next_try_at).desc(), OutboxMessage.id.desc()),
        page, per_page)


@bp.get("/admin/outbox")
@admin_required
def outbox():
    return render_template("reminders/outbox.html", counts=outbox_counts(db.session),
                           page=dead_letters(request.args.get("page", 1)),
                           state_labels=STATE_LABELS, channel_labels=CHANNEL_LABELS,
                           outcome_labels=OUTCOME_LABELS)


@bp.post("/admin/outbox/retry")
@admin_required
def outbox_retry():
    if request.form.get("all"):
        ids, target = None, "outbox"
    elif (message_id := request.form.get("message_id", "")).isdigit():
        ids, target = [int(message_id)], f"outbox:{message_id}"
    else:
        abort(400)
    count = retry_dead(db.session, ids, utcnow())
    audit.record(db.session, current_user, "outbox.retry", target, ids=ids if ids is not None else "all dead",
                 requeued=count)
    db.session.commit()
    if count:
        flash(ngettext("%(num)d message queued to be sent again.", "%(num)d messages queued to be sent again.",
                       count), "success")
    else:
        flash(_("Nothing to send again: no such failed message."), "warning")
    return redirect(url_for("reminders.outbox"))
