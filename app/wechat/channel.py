"""The 公众号 as a reminder channel: a template message (or subscribe notification) to her openid.

WeChat's answers: 40001/42001 (token invalid or expired) are handled in client.with_token (refresh,
one more try); 43101/43004 (she refused the notifications or unfollowed) make the message dead and
turn the channel off for her until she binds again; 45009 (the day's API quota) is tried later.
"""
from flask import current_app

from app.checkins.service import get_programme
from app.database import utcnow
from app.reminders import channel_choices
from app.reminders.channels import Channel, Dead, Rendered, Retry, Skip
from app.reminders.models import OutboxMessage
from app.wechat import client, service

REFUSED = (43101, 43004)     # she refused the subscription / does not follow the 公众号
RATE_LIMITED = (45009, 45047)
THING_MAX = 20               # WeChat refuses thing fields longer than this


class _Blank(dict):
    def __missing__(self, key):
        return ""


def template_data(spec: dict, content: Rendered) -> dict[str, str]:
    values = _Blank(content.values, title=content.title, body=content.body)
    data = {}
    for name, texts in spec["data"].items():
        text = texts[content.lang].format_map(values)
        data[name] = text[:THING_MAX - 1] + "…" if name.startswith("thing") and len(text) > THING_MAX else text
    return data


class WechatChannel(Channel):
    name = "wechat"

    def __init__(self, session):
        self.session = session

    def send(self, message: OutboxMessage, content: Rendered) -> None:
        if not client.is_configured():
            raise Dead("WeChat is not configured")
        binding = service.binding_of(self.session, message.user_id)
        if binding is None:
            raise Skip("her WeChat is no longer bound")
        if not channel_choices.is_enabled(self.session, message.user_id, channel_choices.WECHAT):
            raise Skip("the 公众号 channel is off for her")
        spec = (get_programme(self.session).reminders or {}).get("wechat", {}).get(message.rule)
        if spec is None:
            raise Skip("no template for this rule")
        now = message.claimed_at or utcnow()
        try:
            client.send_template(self.session, now, openid=binding.openid, template_id=spec["template_id"],
                                 url=content.link, data=template_data(spec, content), kind=spec.get("kind", "template"),
                                 client_msg_id=message.key)
        except client.WechatError as e:
            if e.errcode is None or e.errcode in client.TOKEN_INVALID:
                raise Retry(str(e)) from None
            if e.errcode in REFUSED:
                channel_choices.set_channel(self.session, message.user_id, channel_choices.WECHAT, False, now,
                                            reason=channel_choices.REFUSED)
                raise Dead(str(e)) from None
            if e.errcode in RATE_LIMITED:
                raise Retry(str(e), after_seconds=1800) from None
            current_app.logger.warning("wechat template %s for %s refused: %s", spec["template_id"], message.rule, e)
            raise Dead(str(e)) from None
