"""The 公众号 and SMS reminder channels behind the outbox, against local stand-ins for WeChat and
Tencent Cloud SMS: the 30-day walk with both, the shared access token and its refresh, refusals,
rate limits, the daily cap and the monthly budget, and her channel choices."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import create_app
from app.database import utcnow
from app.extensions import db
from app.reminders import channel_choices, outbox
from app.reminders.models import DeliveryTry, OutboxMessage
from app.reminders.rules import run_rules
from app.wechat import client, service
from app.wechat.models import WechatCredential
from tests.conftest import _test_config, english, login
from tests.factories import check_in, on
from tests.test_reminders import START, camp, inbox_of, open_lesson, tick  # noqa: F401
from tests.wechat_servers import FakeTencentSms, FakeWechat


@pytest.fixture
def wx():
    with FakeWechat() as fake:
        yield fake
    assert not fake.problems, fake.problems


@pytest.fixture
def texts():
    with FakeTencentSms() as fake:
        yield fake
    assert not fake.problems, fake.problems


@pytest.fixture
def reach(app, camp, wx, texts):
    """Mei's cohort on the programme, her WeChat bound, both channels configured."""
    app.config.update(wx.config, **texts.config(), BASE_URL="https://xb.example.com")
    cohort, mei = camp
    service.bind(db.session, mei, "o-mei", on(-2, "10:00", start=START))
    db.session.commit()
    return cohort, mei


def rows(channel, state=None):
    query = sa.select(OutboxMessage).where(OutboxMessage.channel == channel).order_by(OutboxMessage.id)
    if state:
        query = query.where(OutboxMessage.state == state)
    return list(db.session.scalars(query))


def test_thirty_days_with_the_new_channels(reach, wx, texts):
    """The walk of test_reminders, with her WeChat bound and her mobile number: every reminder with a
    template reaches her 公众号 too, and the few worth money come by text, at most one a day."""
    cohort, mei = reach
    plan = {
        1: lambda: (check_in(mei, 1, "0", clock="19:00", start=START, group_members=20), open_lesson(mei, 1, 0)),
        10: lambda: (check_in(mei, 10, "40", clock="18:00", start=START, group_members=120), open_lesson(mei, 10, 1)),
        13: lambda: open_lesson(mei, 13, 2),
        14: lambda: check_in(mei, 14, "300", clock="19:00", start=START),
        17: lambda: open_lesson(mei, 17, 3),
        21: lambda: check_in(mei, 21, "600", clock="19:00", start=START),
        23: lambda: open_lesson(mei, 23, 4),
        28: lambda: open_lesson(mei, 28, 5),
    }
    late = {3: lambda: check_in(mei, 3, "10", clock="22:00", start=START), 6: lambda: check_in(mei, 6, "95", clock="22:00", start=START),
            30: lambda: check_in(mei, 30, "80", clock="22:00", start=START)}
    for day in range(1, 32):
        plan.get(day, lambda: None)()
        tick(on(day, "21:45", start=START))
        late.get(day, lambda: None)()
        tick(on(day, "23:00", start=START))
    inbox = {(m.title) for m in inbox_of(mei)}
    sent_wechat = rows("wechat", OutboxMessage.SENT)
    # Each 公众号 message has its inbox twin, and went to her openid with the rule's template.
    assert len(sent_wechat) == len(wx.messages) >= 15
    assert {m.rule for m in sent_wechat} >= {"checkin_due", "no_lesson", "behind", "milestone_achieved",
                                             "checkin_missed"}
    for row, message in zip(sent_wechat, wx.messages):
        assert message["touser"] == "o-mei"
        assert message["template_id"] == f"REPLACE-WITH-TEMPLATE-ID-{row.rule.replace('_', '-')}"
        assert message["url"].startswith("https://xb.example.com/")
        assert message["client_msg_id"] == row.key
        assert message["data"]["thing1"]["value"]
    assert sum("🎉" in title for title in inbox) == 3
    # One access token for the whole month (it lasts two hours: refreshed as it expired, shared by every pass).
    assert wx.tokens_issued >= 1 and db.session.get(WechatCredential, "access_token") is not None
    # Texts: only the rules worth money, with a reason; never two in 24 hours.
    sent_sms = rows("sms", OutboxMessage.SENT)
    assert {m.rule for m in sent_sms} >= {"milestone_achieved"}
    assert all(m.rule in ("checkin_missed", "behind", "milestone_achieved") for m in rows("sms"))
    assert all(m.params.get("empty_days", 2) >= 2 for m in rows("sms") if m.rule == "checkin_missed")
    assert all(m.params["days_left"] <= 3 for m in rows("sms") if m.rule == "behind")
    times = sorted(m.sent_at for m in sent_sms)
    assert all(later - earlier >= timedelta(days=1) for earlier, later in zip(times, times[1:]))
    assert [(m.rule, m.occasion, m.state, m.last_error) for m in rows("sms")] == [
        ("behind", "first-week:day5", "sent", None),                 # 2 days to go: near the deadline
        ("checkin_missed", "2026-03-06", "sent", None),              # days 4 and 5 empty: two running
        ("behind", "first-week:day6", "skipped", "over her daily cap of texts"),
        ("milestone_achieved", "first-week", "sent", None),
        ("milestone_achieved", "first-100-members", "sent", None),
        ("milestone_achieved", "first-month", "sent", None),
    ]
    assert [(m.rule, m.occasion) for m in sent_wechat] == [
        ("checkin_due", "2026-03-04"), ("no_lesson", "2026-03-02+3"), ("checkin_due", "2026-03-06"),
        ("behind", "first-week:day5"), ("checkin_missed", "2026-03-06"), ("behind", "first-week:day6"),
        ("milestone_achieved", "first-week"), ("checkin_due", "2026-03-08"), ("checkin_missed", "2026-03-08"),
        ("no_lesson", "2026-03-02+7"), ("milestone_achieved", "first-100-members"), ("no_lesson", "2026-03-14+3"),
        ("no_lesson", "2026-03-18+3"), ("milestone_achieved", "first-month"), ("no_lesson", "2026-03-24+3"),
        ("checkin_due", "2026-03-31"),
    ]
    assert len(texts.sent) == len(sent_sms)
    assert all(number == "+8613800000001" for number, _, _ in texts.sent)
    # Nothing stuck.
    assert not rows("wechat", OutboxMessage.PENDING) and not rows("wechat", OutboxMessage.DEAD)
    assert not rows("sms", OutboxMessage.PENDING) and not rows("sms", OutboxMessage.DEAD)


def test_no_settings_no_new_channels(app, camp):
    cohort, mei = camp
    service.bind(db.session, mei, "o-mei", utcnow())
    db.session.commit()
    tick(on(1, "21:45", start=START))
    assert {m.channel for m in db.session.scalars(sa.select(OutboxMessage))} == {"inapp"}


def test_the_token_is_shared_through_the_database(reach, wx, database_url):
    cohort, mei = reach
    tick(on(1, "21:45", start=START))
    assert wx.tokens_issued == 1 and len(wx.messages) == 1
    other = create_app(_test_config(database_url, **wx.config))   # another process, the same database
    with other.app_context():
        assert client.access_token(db.session, on(1, "21:55", start=START)) == "token-1"
        db.session.remove()
        db.engine.dispose()
    assert wx.tokens_issued == 1


def test_an_invalid_token_is_refreshed_and_the_send_tried_once_more(reach, wx):
    cohort, mei = reach
    client.access_token(db.session, on(1, "21:00", start=START))
    db.session.commit()
    wx.expire_token()                       # someone else refreshed it: ours answers 40001 now
    assert tick(on(1, "21:45", start=START))[1] == {"sent": 2}
    assert len(wx.messages) == 1 and wx.tokens_issued == 2
    assert [r[1] for r in wx.requests][-3:] == ["/cgi-bin/message/template/send", "/cgi-bin/stable_token",
                                                "/cgi-bin/message/template/send"]


def test_expired_token_42001_twice_is_retried_later(reach, wx):
    cohort, mei = reach
    wx.fail_next("/cgi-bin/message/template/send", 42001, times=2)
    assert tick(on(1, "21:45", start=START))[1] == {"sent": 1, "retry": 1}
    assert rows("wechat")[0].state == OutboxMessage.PENDING


def test_she_refused_or_unfollowed_dead_and_channel_off_until_she_binds_again(reach, wx):
    cohort, mei = reach
    wx.fail_next("/cgi-bin/message/template/send", 43101)
    assert tick(on(1, "21:45", start=START))[1] == {"sent": 1, "dead": 1}
    assert not channel_choices.is_enabled(db.session, mei.id, "wechat")
    tick(on(2, "21:45", start=START))
    assert [m.occasion for m in rows("wechat")] == ["2026-03-02"]      # nothing more for her 公众号
    service.bind(db.session, mei, "o-mei", on(3, "09:00", start=START))            # she binds again
    db.session.commit()
    wx.fail_next("/cgi-bin/message/template/send", 43004)
    tick(on(3, "21:45", start=START))
    assert rows("wechat")[-1].state == OutboxMessage.DEAD and not channel_choices.is_enabled(db.session, mei.id, "wechat")


def test_rate_limit_45009_is_retried_later(reach, wx):
    cohort, mei = reach
    wx.fail_next("/cgi-bin/message/template/send", 45009)
    assert tick(on(1, "21:45", start=START))[1] == {"sent": 1, "retry": 1}
    row = rows("wechat")[0]
    assert row.state == OutboxMessage.PENDING and row.next_try_at == on(1, "22:15", start=START)
    assert tick(on(1, "22:16", start=START))[1] == {"sent": 1}


def test_wechat_down_or_slow_is_retried(reach, wx, app):
    cohort, mei = reach
    app.config["WECHAT_HTTP_TIMEOUT"] = 0.5
    wx.down = True
    assert tick(on(1, "21:45", start=START))[1] == {"sent": 1, "retry": 1}
    wx.down, wx.delay = False, 1.5
    assert tick(on(1, "22:15", start=START))[1] == {"retry": 1}
    wx.delay = 0
    assert tick(on(1, "22:35", start=START))[1] == {"later": 1}                     # her quiet hours now
    assert tick(on(2, "08:01", start=START))[1] == {}                               # her day is over: expired
    assert rows("wechat")[0].state == OutboxMessage.SKIPPED


def test_subscribe_notification_kind(reach, wx):
    from app.checkins.service import get_programme
    programme = get_programme(db.session)
    settings = dict(programme.reminders)
    settings["wechat"] = {**settings["wechat"], "checkin_due": {**settings["wechat"]["checkin_due"], "kind": "subscribe"}}
    programme.reminders = settings
    db.session.commit()
    tick(on(1, "21:45", start=START))
    assert wx.messages[0]["path"] == "/cgi-bin/message/subscribe/bizsend"
    assert wx.messages[0]["page"] == "https://xb.example.com/checkin"


def test_texts_within_the_daily_cap_and_the_monthly_budget(reach, texts):
    cohort, mei = reach
    check_in(mei, 1, "150", clock="19:00", start=START)        # ¥100 reached on day 1: a text
    tick(on(1, "21:45", start=START))
    sms = rows("sms")
    assert [(m.rule, m.state) for m in sms] == [("milestone_achieved", "sent")]
    (number, template, params), = texts.sent
    assert (number, template) == ("+8613800000001", "REPLACE-WITH-SMS-TEMPLATE-milestone-achieved")
    assert params and "100" in params[0]     # the milestone's title, in her language
    check_in(mei, 2, "1200", clock="19:00", start=START)       # ¥1,000 the next evening: within 24 hours of the first text
    tick(on(2, "21:40", start=START))
    assert rows("sms")[-1].state == OutboxMessage.SKIPPED and "daily cap" in rows("sms")[-1].last_error
    from app.checkins.service import get_programme
    programme = get_programme(db.session)
    programme.reminders = {**programme.reminders, "sms": {**programme.reminders["sms"], "monthly_budget": 1}}
    db.session.commit()
    check_in(mei, 3, "1300", clock="19:00", start=START, group_members=150)   # 100 members: a third milestone, a day later
    tick(on(3, "21:50", start=START))
    last = rows("sms")[-1]
    assert last.state == OutboxMessage.SKIPPED and "monthly SMS budget" in last.last_error
    assert len(texts.sent) == 1
    assert db.session.scalar(sa.select(sa.func.count(DeliveryTry.id)).where(DeliveryTry.outcome == "skipped")) >= 2


def test_sms_provider_down_then_refusing(reach, texts, app):
    cohort, mei = reach
    app.config["SMS_HTTP_TIMEOUT"] = 1
    texts.down = True
    check_in(mei, 1, "150", clock="19:00", start=START)
    tick(on(1, "21:45", start=START))
    assert rows("sms")[0].state == OutboxMessage.PENDING
    texts.down = False
    texts.refuse_next.append("FailedOperation.TemplateIncorrectOrUnapproved")
    tick(on(1, "22:15", start=START))
    assert rows("sms")[0].state == OutboxMessage.DEAD


def test_her_preferences_list_every_channel_and_turn_them_off(reach, wx, app):
    cohort, mei = reach
    web = english(app.test_client())
    assert login(web, mei.email).status_code == 302
    page = web.get("/preferences").text
    for channel in ("channel-inapp", "channel-email", "channel-wechat", "channel-sms"):
        assert channel in page, channel
    assert web.post("/preferences/channels", data={"channel": "wechat", "on": "0"}).status_code == 302
    assert web.post("/preferences/channels", data={"channel": "sms", "on": "0"}).status_code == 302
    assert not channel_choices.is_enabled(db.session, mei.id, "wechat")
    check_in(mei, 1, "150", clock="19:00", start=START)
    tick(on(1, "21:45", start=START))
    assert {m.channel for m in db.session.scalars(sa.select(OutboxMessage))} == {"inapp"}
    assert web.post("/preferences/channels", data={"channel": "wechat", "on": "1"}).status_code == 302
    assert channel_choices.is_enabled(db.session, mei.id, "wechat")
    assert web.post("/preferences/channels", data={"channel": "fax", "on": "1"}).status_code == 422


# --- the content: milestones/reminders.yml's wechat: and sms: parts, checked like the rest ---------

from pathlib import Path  # noqa: E402

from app.content.reminders import load_reminders  # noqa: E402

REMINDERS = Path(__file__).resolve().parent.parent / "milestones" / "reminders.yml"
MILESTONES = {"first-week", "first-month", "first-100-members"}


def check(tmp_path, tail: str) -> list[str]:
    text = REMINDERS.read_text(encoding="utf-8")
    text = text[:text.index("\nwechat:")] + tail
    path = tmp_path / "milestones" / "reminders.yml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    problems = []
    load_reminders(path, tmp_path, MILESTONES, problems)
    first = len(text[:text.index(tail)].splitlines()) + 1     # numbered from the line of `wechat:`
    return [f"{p.line - first + 1}: {p.message}" for p in problems]


def test_the_shipped_channels_content_loads():
    problems = []
    loaded = load_reminders(REMINDERS, REMINDERS.parent.parent, MILESTONES, problems)
    assert problems == []
    assert loaded["wechat"]["checkin_due"]["data"]["thing1"] == {"zh": "{title}", "en": "{title}"}
    assert set(loaded["sms"]["rules"]) == {"checkin_missed", "behind", "milestone_achieved"}


def test_channel_content_problems_are_reported_with_their_line(tmp_path):
    assert check(tmp_path, """
wechat:
  checkin_due:
    template_id: ""
    kind: letter
    data: {thing1: "{nope}"}
  no_such_rule: {template_id: "x", data: {a: "b"}}
sms:
  daily_cap: -1
  monthly_budget: 10
  rules:
    checkin_due: {template_id: "1", params: []}
    behind: {template_id: "2", params: "{milestone}"}
""") == [
        "6: wechat.no_such_rule: unknown field (expected: behind, checkin_due, checkin_missed, essay_reviewed, "
        "group_digest, mentor_digest, milestone_achieved, no_lesson, nudge, task_unlocked)",
        "3: wechat.checkin_due.template_id: the template's id, as text",
        "4: wechat.checkin_due.kind: one of template, subscribe",
        "5: wechat.checkin_due.data.thing1: unknown placeholder {nope} (this rule has: body, day, title)",
        "8: sms.daily_cap: a whole number, 0 or more",
        "11: sms.rules.checkin_due: texts cost money: only checkin_missed, behind, milestone_achieved",
        '12: sms.rules.behind.params: a list of texts, e.g. ["{milestone}"], or the template\'s variables, e.g. {name: "{milestone}"}',
    ]


# --- which reminders work ----------------------------------------------------------------------------

from app.reminders import effect  # noqa: E402


def test_which_reminders_work_per_rule_and_channel(reach, wx, texts, admin_client):
    cohort, mei = reach
    wx.fail_next("/cgi-bin/message/template/send", 45009)
    tick(on(1, "21:45", start=START))                      # checkin_due: inbox sent, 公众号 retried
    check_in(mei, 1, "20", clock="22:00", start=START)           # she acts within the hour
    tick(on(1, "22:16", start=START))                      # the 公众号 message goes out now (no longer due: skipped)
    tick(on(3, "21:45", start=START))                      # day 3: she does nothing
    wx.fail_next("/cgi-bin/message/template/send", 40003)   # an invalid openid: dead
    tick(on(4, "21:45", start=START))                      # checkin_missed (day 3)
    lines = {(line.rule, line.channel): line for line in effect.report(db.session, on(1, "00:00", start=START), on(5, "00:00", start=START))}
    got = {key: (line.sent, line.failed, line.dead, line.acted) for key, line in lines.items()}
    assert got == {
        ("checkin_due", "inapp"): (2, 0, 0, 1),       # days 1 and 3; she checked in after day 1's
        ("checkin_due", "wechat"): (1, 1, 0, 0),      # day 1's failed (45009), then was no longer due
        ("checkin_missed", "inapp"): (1, 0, 0, 0),    # day 4, about day 3
        ("checkin_missed", "sms"): (1, 0, 0, 0),      # days 2 and 3 empty: two running
        ("checkin_missed", "wechat"): (0, 1, 1, 0),   # 40003: dead
        ("no_lesson", "inapp"): (1, 0, 0, 0),
        ("no_lesson", "wechat"): (1, 0, 0, 0),
    }
    page = admin_client.get("/admin/reminders/effect?from=2026-03-01&to=2026-03-05")
    assert page.status_code == 200
    assert 'data-rule="checkin_due" data-channel="inapp"' in page.text and "1 (50%)" in page.text
    assert admin_client.get("/admin/reminders/effect?from=soon").status_code == 422
