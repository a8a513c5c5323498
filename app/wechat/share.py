"""Share cards: what WeChat shows when she shares one of our pages (the invite page, a 打卡 done, a
milestone reached). Only inside WeChat's browser with the 公众号 configured; elsewhere nothing."""
from flask import request
from flask_babel import gettext as _

from app.config import base_url
from app.wechat import client


def share_card(kind: str, *, cohort=None, day: int | None = None, milestone: str | None = None) -> dict | None:
    if cohort is None or not client.is_configured() or "MicroMessenger" not in (request.user_agent.string or ""):
        return None
    link = f"{base_url()}/invite/{cohort.invite_code}"
    if kind == "checkin":
        title = _("Day %(day)d done at Xiaob Academy", day=day or 1)
    elif kind == "milestone":
        title = _("I reached \"%(milestone)s\" at Xiaob Academy", milestone=milestone or "")
    else:
        title = _("Join %(cohort)s at Xiaob Academy", cohort=cohort.name)
    return {"title": title, "desc": _("¥100 in the first week, ¥1,000 in the first month: learn it step by step, "
                                      "on your phone. Free to join."),
            "link": link, "img": f"{link}/poster.png"}
