"""SMS as a reminder channel, for the few rules worth a paid text (milestones/reminders.yml `sms:`),
within her daily cap and her cohort's monthly budget; over either, the text is skipped and the
outbox says why. Counted from the outbox itself, so every dispatcher sees the same numbers."""
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app

from app.accounts.models import User
from app.checkins.service import get_programme
from app.core import calendar
from app.database import utcnow
from app.reminders import channel_choices
from app.reminders.channels import Channel, Dead, Rendered, Retry, Skip
from app.reminders.models import OutboxMessage
from app.sms import providers


class _Blank(dict):
    def __missing__(self, key):
        return ""


def _sent(session, *conditions) -> int:
    return session.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(
        OutboxMessage.channel == channel_choices.SMS, OutboxMessage.state == OutboxMessage.SENT, *conditions))


def month_start(now: datetime, zone: str | None) -> datetime:
    local = now.astimezone(calendar.zone(zone))
    return datetime.combine(local.date().replace(day=1), time(0), local.tzinfo)


class SmsChannel(Channel):
    name = "sms"

    def __init__(self, session):
        self.session = session

    def send(self, message: OutboxMessage, content: Rendered) -> None:
        config = current_app.config
        user = message.user
        if not providers.is_configured(config):
            raise Dead("SMS is not configured")
        if user is None or not user.mobile:
            raise Skip("no mobile number")
        if not channel_choices.is_enabled(self.session, user.id, channel_choices.SMS):
            raise Skip("she turned texts off")
        settings = (get_programme(self.session).reminders or {}).get("sms") or {}
        spec = settings.get("rules", {}).get(message.rule)
        if spec is None:
            raise Skip("no SMS template for this rule")
        now = message.claimed_at or utcnow()
        if _sent(self.session, OutboxMessage.user_id == user.id,
                 OutboxMessage.sent_at > now - timedelta(days=1)) >= settings.get("daily_cap", 1):
            raise Skip("over her daily cap of texts")
        if user.cohort is not None:
            used = _sent(self.session, OutboxMessage.user_id.in_(sa.select(User.id).where(User.cohort_id == user.cohort_id)),
                         OutboxMessage.sent_at >= month_start(now, user.cohort.timezone))
            if used >= settings.get("monthly_budget", 0):
                raise Skip("over the cohort's monthly SMS budget")
        values = _Blank(content.values, title=content.title, body=content.body)
        params = {name: text.format_map(values) for name, text in spec["params"].items()}
        try:
            providers.send(config, user.mobile, spec["template_id"], params, reference=message.key)
        except providers.SmsProviderError as e:
            wait = providers.retry_after(config, e.code)
            if wait is None:
                raise Dead(str(e)) from None
            raise Retry(str(e), after_seconds=wait or None) from None   # 0: the usual back-off
