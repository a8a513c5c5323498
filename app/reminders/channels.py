"""Channels: each delivers one outbox message, or says why not.

`send()` returns when the channel has accepted the message; it raises Retry when trying
again later may work (a timeout, a 5xx, a rate limit) and Dead when it never will (an
invalid webhook, no address). The dispatcher does the bookkeeping; channels only talk.
"""
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.reminders.models import OutboxMessage
from app.reminders.models import InboxMessage


@dataclass
class Rendered:
    """A message in the recipient's language, ready for any channel."""
    lang: str                   # "zh" or "en"
    title: str
    body: str                   # plain text
    link: str | None            # absolute URL of the page to act on
    category: str
    mentions: list[str] = field(default_factory=list)   # mobiles to @-mention (group robots)
    unsubscribe_url: str | None = None                  # email: stop this category, one click
    values: dict = field(default_factory=dict)          # the rule's placeholders, filled (template fields)


class Retry(Exception):
    def __init__(self, reason: str, after_seconds: float | None = None):
        super().__init__(reason)
        self.after_seconds = after_seconds


class Skip(Exception):
    """Not sent, on purpose (over a budget, turned off): recorded as skipped, never retried."""


class Dead(Exception):
    """Will never work as configured; `notify_admin` when an admin must fix something (a webhook)."""

    def __init__(self, reason: str, notify_admin: bool = False):
        super().__init__(reason)
        self.notify_admin = notify_admin


class Channel:
    name = ""

    def send(self, message: OutboxMessage, content: Rendered) -> None:
        raise NotImplementedError


class InAppChannel(Channel):
    """Her inbox in the app: a row in the same database, so "accepted" means "written"."""

    name = "inapp"

    def __init__(self, session):
        self.session = session

    def send(self, message: OutboxMessage, content: Rendered) -> None:
        exists = self.session.scalar(sa.select(InboxMessage.id).where(InboxMessage.outbox_key == message.key))
        if exists is None:  # written by an earlier try that died before marking the message sent
            self.session.add(InboxMessage(
                recipient_id=message.user_id, sender_id=message.params.get("sender_id"), category=message.category,
                title=content.title, body=content.body, link=content.link, outbox_key=message.key,
                created_at=message.due_at))
            self.session.flush()
