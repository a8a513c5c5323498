"""Which of her own channels beyond the inbox and email a reminder also takes: the 公众号 (she bound
her WeChat, the rule has a template) and SMS (she has a mobile number, the rule is worth a text).

One `Reach` per rules pass reads, for all its trainees at once, who has a binding, a mobile number
and which channels she turned off; `channels()` then answers per message without a query.
"""
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.reminders import channel_choices
from app.sms import providers as sms_providers
from app.wechat import client as wechat_client
from app.wechat.models import WechatAccount


def worth_a_text(rule: str, params: dict, sms: dict) -> bool:
    """Texts cost money: two empty check-in days running, behind near the deadline, a milestone reached."""
    if rule == "checkin_missed":
        return params.get("empty_days", 1) >= 2
    if rule == "behind":
        days_left = params.get("days_left")
        return days_left is not None and days_left <= sms.get("near_deadline_days", 3)
    return rule == "milestone_achieved"


class Reach:
    def __init__(self, session: Session | None, settings: dict, trainee_ids):
        ids = list(trainee_ids)
        config = current_app.config if ids else {}
        self.wechat_rules = (settings.get("wechat") or {}) if ids and wechat_client.is_configured(config) else {}
        self.sms = (settings.get("sms") or {}) if ids and sms_providers.is_configured(config) else {}
        self.by_wechat: set[int] = set()
        self.by_sms: set[int] = set()
        if not self.wechat_rules and not self.sms.get("rules"):
            return
        off = {key for key, choice in channel_choices.choices_of(session, ids).items() if not choice.is_enabled}
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            if self.wechat_rules:
                self.by_wechat.update(user_id for user_id in session.scalars(
                    sa.select(WechatAccount.user_id).where(WechatAccount.user_id.in_(chunk)))
                    if (user_id, channel_choices.WECHAT) not in off)
            if self.sms.get("rules"):
                self.by_sms.update(user_id for user_id in session.scalars(
                    sa.select(User.id).where(User.id.in_(chunk), User.mobile.is_not(None)))
                    if (user_id, channel_choices.SMS) not in off)

    @classmethod
    def nobody(cls) -> "Reach":
        return cls(None, {}, ())

    def channels(self, user_id: int, rule: str, params: dict) -> list[str]:
        out = []
        if user_id in self.by_wechat and rule in self.wechat_rules:
            out.append(channel_choices.WECHAT)
        if user_id in self.by_sms and rule in self.sms.get("rules", {}) and worth_a_text(rule, params, self.sms):
            out.append(channel_choices.SMS)
        return out
