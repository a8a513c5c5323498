"""Which channel delivers a message, by the name on its outbox row. A new channel is one class
(app/reminders/channels.py has the interface) and one line here."""
from app.reminders.channels import Channel, InAppChannel
from app.reminders.email import EmailChannel
from app.reminders.robots import ROBOTS
from app.sms.channel import SmsChannel
from app.wechat.channel import WechatChannel


def channel_for(name: str, session) -> Channel:
    if name == "inapp":
        return InAppChannel(session)
    if name == "email":
        return EmailChannel()
    if name == "wechat":
        return WechatChannel(session)
    if name == "sms":
        return SmsChannel(session)
    return ROBOTS[name]()
