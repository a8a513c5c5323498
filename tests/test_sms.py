"""SMS codes (短信验证码) against a local stand-in for Tencent Cloud SMS that recomputes the TC3
signature: login, password reset, the limits (60 s, 10 a day per number and per address, 5 tries,
5 minutes, single use), numbers normalised, the provider down, slow or refusing."""
from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from app.accounts.models import User
from app.database import utcnow
from app.extensions import db
from app.sms import aliyun, codes, providers, tencent
from app.sms.models import SmsCode
from tests.conftest import english, make_user
from tests.wechat_servers import FakeAliyunSms, FakeTencentSms

MOBILE = "13800138000"


@pytest.fixture
def provider():
    with FakeTencentSms() as fake:
        yield fake
    assert not fake.problems, fake.problems


@pytest.fixture
def sms_app(make_app, provider, tmp_path):
    app = make_app(UPLOAD_DIR=str(tmp_path), **provider.config())
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def web(sms_app):
    return english(sms_app.test_client())


@pytest.fixture
def her(sms_app, cohort):
    return make_user("mei@example.com", cohort=cohort, mobile=MOBILE)


def send(client, mobile=MOBILE, purpose="login", address="10.0.0.1"):
    return client.post("/auth/sms/send", data={"mobile": mobile, "purpose": purpose},
                       environ_base={"REMOTE_ADDR": address})


def test_without_settings_no_sms(client, trainee):
    assert "sms-login" not in client.get("/login").text
    assert client.post("/auth/sms/send", data={"mobile": MOBILE}).status_code == 404


def test_login_with_a_code(web, provider, her):
    assert "sms-login" in web.get("/login").text
    answer = send(web, "+86 138 0013 8000")
    assert answer.status_code == 200 and "sms-sent" in answer.text
    assert provider.sent == [("+8613800138000", "100001", [provider.codes()[0]])]
    code = provider.codes()[0]
    assert len(code) == 6 and code.isdigit()
    row = db.session.scalar(sa.select(SmsCode))
    assert row.mobile == MOBILE and code not in row.code_hash and len(row.code_hash) == 64
    logged = web.post("/auth/sms/login", data={"mobile": MOBILE, "code": code})
    assert logged.status_code == 302
    assert web.get("/account/password").status_code == 200
    web.post("/logout")
    again = web.post("/auth/sms/login", data={"mobile": MOBILE, "code": code})   # single use
    assert again.status_code == 422 and "already used" in again.text


def test_the_sdk_request_is_signed_and_shaped(sms_app, provider, her):
    """The fake recomputes TC3-HMAC-SHA256 from the request; a wrong key is refused like the real one."""
    assert tencent.send(sms_app.config, MOBILE, "100002", {"1": "a", "2": "b"}).startswith("serial-")
    assert provider.sent[-1] == ("+8613800138000", "100002", ["a", "b"])
    sms_app.config["SMS_SECRET_KEY"] = "wrong"
    with pytest.raises(providers.SmsProviderError) as refused:
        tencent.send(sms_app.config, MOBILE, "100002", {"1": "a"})
    assert refused.value.code == "AuthFailure.SignatureFailure"
    provider.problems.remove("signature")


def test_unknown_number_gets_the_same_answer_and_no_text(web, provider, her):
    answer = send(web, "13900139000")
    assert answer.status_code == 200 and "sms-sent" in answer.text
    assert provider.sent == []
    assert web.post("/auth/sms/login", data={"mobile": "13900139000", "code": "000000"}).status_code == 422


def test_resend_waits_60_seconds(web, provider, her):
    assert send(web).status_code == 200
    early = send(web)
    assert early.status_code == 429 and "60 seconds" in early.text
    with time_machine.travel(utcnow() + timedelta(seconds=61)):
        assert send(web).status_code == 200
    assert len(provider.sent) == 2


def test_ten_a_day_per_number_and_per_address(web, provider, her):
    start = utcnow()
    for i in range(10):
        with time_machine.travel(start + timedelta(minutes=2 * i)):
            assert send(web).status_code == 200
    with time_machine.travel(start + timedelta(minutes=30)):
        assert send(web).status_code == 429
        assert send(web, address="10.9.9.9").status_code == 429     # the number's limit
        assert send(web, "13900139001").status_code == 429           # the address's limit
        assert send(web, "13900139001", address="10.9.9.9").status_code == 200
    with time_machine.travel(start + timedelta(days=1, minutes=1)):
        assert send(web).status_code == 200
    assert len(provider.sent) == 11


def test_five_tries_per_code(web, provider, her):
    send(web)
    code = provider.codes()[0]
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert "not right" in web.post("/auth/sms/login", data={"mobile": MOBILE, "code": wrong}).text
    refused = web.post("/auth/sms/login", data={"mobile": MOBILE, "code": code})
    assert refused.status_code == 422 and "Too many wrong tries" in refused.text
    assert web.get("/account/password").status_code == 302


def test_code_expires_after_five_minutes(web, provider, her):
    send(web)
    with time_machine.travel(utcnow() + timedelta(minutes=5, seconds=1)):
        answer = web.post("/auth/sms/login", data={"mobile": MOBILE, "code": provider.codes()[0]})
    assert answer.status_code == 422 and "expired" in answer.text


def test_bad_number(web, provider):
    answer = send(web, "12345")
    assert answer.status_code == 422 and "13812345678" in answer.text
    assert db.session.scalar(sa.select(sa.func.count(SmsCode.id))) == 0


def test_provider_down_slow_or_refusing(sms_app, web, provider, her):
    sms_app.config["SMS_HTTP_TIMEOUT"] = 1
    provider.down = True
    assert send(web).status_code == 502
    provider.down = False
    provider.delay = 2
    with time_machine.travel(utcnow() + timedelta(minutes=2)):
        assert send(web).status_code == 502
    provider.delay = 0
    provider.refuse_next.append("LimitExceeded.PhoneNumberDailyLimit")
    with time_machine.travel(utcnow() + timedelta(minutes=4)):
        answer = send(web)
    assert answer.status_code == 502 and "could not be sent" in answer.text
    rows = db.session.scalars(sa.select(SmsCode).order_by(SmsCode.id)).all()
    assert len(rows) == 3 and all(row.error for row in rows)   # counted, and never valid


def test_reset_password_by_code(web, provider, her):
    page = web.get("/auth/sms/reset")
    assert page.status_code == 200
    send(web, purpose="reset")
    code = provider.codes()[0]
    missing = web.post("/auth/sms/login", data={"mobile": MOBILE, "code": code, "purpose": "reset"})
    assert missing.status_code == 422
    done = web.post("/auth/sms/login", data={"mobile": MOBILE, "code": code, "purpose": "reset",
                                             "new_password": "brand new pass", "confirm": "brand new pass"})
    assert done.status_code == 302
    db.session.refresh(her)
    assert her.check_password("brand new pass")


def test_check_code_counts_tries_in_the_database(sms_app, provider, her):
    now = utcnow()
    with sms_app.app_context():
        codes.send_code(db.session, MOBILE, "login", "1.2.3.4", now)
        db.session.commit()
        with pytest.raises(codes.SmsRefused):
            codes.check_code(db.session, MOBILE, "login", "x", now)
        db.session.commit()
        assert db.session.scalar(sa.select(SmsCode.tries)) == 1


# --- joining a cohort with a code: no password to invent ------------------------------------------

NEW = "13900139000"


def join_send(client, cohort, mobile=NEW, name="小芳", address="10.0.0.2"):
    return client.post("/auth/sms/send", data={"mobile": mobile, "purpose": "register", "invite": cohort.invite_code,
                                               "name": name, "timezone": "Asia/Shanghai"},
                       environ_base={"REMOTE_ADDR": address})


def join_with(client, cohort, code, mobile=NEW, name="小芳"):
    return client.post("/auth/sms/login", data={"mobile": mobile, "code": code, "purpose": "register",
                                                "invite": cohort.invite_code, "name": name,
                                                "timezone": "Asia/Shanghai"})


def test_join_with_a_code(web, provider, cohort):
    page = web.get(f"/invite/{cohort.invite_code}")
    assert page.status_code == 200 and 'id="sms-join"' in page.text
    sent = join_send(web, cohort, mobile="+86 139 0013 9000")
    assert sent.status_code == 200 and "sms-sent" in sent.text
    assert 'name="name" value="小芳"' in sent.text and f'value="{cohort.invite_code}"' in sent.text
    code = provider.codes()[0]
    assert provider.sent == [("+8613900139000", "100001", [code])]
    joined = join_with(web, cohort, code)
    assert joined.status_code == 302 and joined.headers["Location"] == "/"
    user = db.session.scalar(sa.select(User).where(User.mobile == NEW))
    assert user.name == "小芳" and user.cohort_id == cohort.id and user.role == "trainee"
    assert web.get("/account/password").status_code == 200   # logged in
    web.post("/logout")
    assert join_with(web, cohort, code).status_code == 422   # single use: nothing more is created
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.mobile == NEW)) == 1


def test_join_refusals_send_no_text_and_create_nothing(web, provider, cohort, her):
    taken = join_send(web, cohort, mobile=MOBILE)
    assert taken.status_code == 422 and "already has an account" in taken.text
    nameless = join_send(web, cohort, name="  ")
    assert nameless.status_code == 422 and "Enter your name" in nameless.text
    assert web.post("/auth/sms/send", data={"mobile": NEW, "purpose": "register", "invite": "NOPE",
                                            "name": "小芳"}).status_code == 404
    cohort.seat_limit = 1   # her seat is the only one
    db.session.commit()
    full = join_send(web, cohort)
    assert full.status_code == 403 and "full" in full.text
    assert provider.sent == [] and db.session.scalar(sa.select(sa.func.count(SmsCode.id))) == 0


def test_a_login_code_does_not_create_an_account(web, provider, cohort, her):
    send(web)   # a login code for her number
    wrong_purpose = join_with(web, cohort, provider.codes()[0], mobile=MOBILE)
    assert wrong_purpose.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1


def test_the_invite_closing_between_code_and_join(web, provider, cohort):
    join_send(web, cohort)
    cohort.invite_expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    closed = join_with(web, cohort, provider.codes()[0])
    assert closed.status_code == 403 and "expired" in closed.text
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.mobile == NEW)) == 0


# --- Aliyun as the provider -----------------------------------------------------------------------

@pytest.fixture
def ali():
    with FakeAliyunSms() as fake:
        yield fake
    assert not fake.problems, fake.problems


@pytest.fixture
def ali_app(make_app, ali, tmp_path):
    app = make_app(UPLOAD_DIR=str(tmp_path), **ali.config())
    with app.app_context():
        yield app
        db.session.remove()


def test_aliyun_login_code(ali_app, ali, cohort):
    make_user("mei@example.com", cohort=cohort, mobile=MOBILE)
    web = english(ali_app.test_client())
    assert "sms-login" in web.get("/login").text
    assert send(web, "0086 138 0013 8000").status_code == 200
    code = ali.codes()[0]
    assert ali.sent == [("13800138000", "SMS_100001", {"code": code})]
    assert web.post("/auth/sms/login", data={"mobile": MOBILE, "code": code}).status_code == 302


def test_aliyun_request_is_signed_and_refusals_are_classified(ali_app, ali):
    config = ali_app.config
    assert aliyun.send(config, "+447700900123", "SMS_9", {"milestone": "¥100 第一周"}, reference="k-1") == "biz-1"
    assert ali.sent[-1] == ("447700900123", "SMS_9", {"milestone": "¥100 第一周"})
    assert ali.requests[-1][3]["OutId"] == "k-1"
    config["SMS_SECRET_KEY"] = "wrong"
    with pytest.raises(providers.SmsProviderError) as refused:
        aliyun.send(config, MOBILE, "SMS_9", {})
    assert refused.value.code == "SignatureDoesNotMatch" and providers.retry_after(config, refused.value.code) is None
    ali.problems.remove("signature")
    config["SMS_SECRET_KEY"] = ali.config()["SMS_SECRET_KEY"]
    ali.refuse_next.extend(["isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR"])
    for expected in (3600, 0):
        with pytest.raises(providers.SmsProviderError) as refused:
            aliyun.send(config, MOBILE, "SMS_9", {})
        assert providers.retry_after(config, refused.value.code) == expected
    ali.down = True
    with pytest.raises(providers.SmsProviderError) as down:
        aliyun.send(config, MOBILE, "SMS_9", {})
    assert down.value.code == "HTTP502" and providers.retry_after(config, down.value.code) == 0


def test_an_unknown_provider_turns_sms_off(make_app, ali):
    app = make_app(**{**ali.config(), "SMS_PROVIDER": "carrier-pigeon"})
    assert not providers.is_configured(app.config)
    with app.app_context():
        assert "sms-login" not in app.test_client().get("/login").text
        db.session.remove()
