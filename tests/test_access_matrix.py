"""Who may do what: every route of the URL map, as six people, against the rules written down here.

The walk fills each route's URL with real ids of a "home" cohort's things (the cohort, its trainee, her
check-in, quiz attempt, photo, feed post, camp task, a milestone she reached, her tokens...) and sends
it as: anonymous, the home trainee, another cohort's trainee, the home cohort's mentor, another cohort's
mentor, and an admin. Each answer falls in a class:

    ok       2xx, a redirect to a page other than the login page or home, or 409/422 (the request was
             let in, then judged on what it carried: the walk sends harmless, often incomplete, forms)
    refused  401, 403 or 404 (pages answer 404 to what one may not see: ids cannot be probed)
    login    a redirect to the login page (anonymous visitors of a page that needs a login)
    home     a redirect to the home page ("not for you": e.g. a mentor on a trainee's camp page)

and must be the class the route's policy gives that person. A 500, or any other status, fails.
A route missing from ROUTES fails the test too: a new route must be classified here.

API routes are walked twice per person: with the session cookie only (always 401: the API takes bearer
tokens only), and with the person's own bearer token (the policy's class).

One app, one database, seeded once for the module. SQLite and, when TEST_DATABASE_URL is set,
PostgreSQL (the database_url fixture's backends).
"""
import base64
import io
import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from app import create_app
from app.core.access import Role
from app.api.models import ApiToken, create_token
from app.camp import feed, photos
from app.camp.models import CampTask, FeedComment, FeedPost, TaskCheckin
from app.checkins import imports
from app.checkins.models import Checkin
from app.checkins.service import record_checkin
from app.core.calendar import local_today
from app.cohorts import admin
from app.cohorts.models import MentorNote
from app.reminders.models import InboxMessage
from app.content.sync import sync_content
from app.database import utcnow
from app.extensions import db
from app.quizzes import service as quizzes
from app.quizzes.models import QuizAttempt
from app.reminders.preferences import unsubscribe_token
from app.shops import service as shops
from tests.conftest import Client, _test_config, make_cohort, make_user
from tests.factories import jpeg, sign_in
from tests.wechat_servers import FakeTencentSms, FakeWechat

PERSONAS = ("anonymous", "other_trainee", "other_mentor", "trainee", "mentor", "admin")
# Walked in this order for each route: the home trainee and mentor after the outsiders, so an
# action that changes something (deleting her post, hiding one) runs after the refusals.

OK, REFUSED, LOGIN, HOME = "ok", "refused", "login", "home"


def policy(anonymous, trainee, other_trainee, mentor, other_mentor, admin) -> dict[str, str]:
    return {"anonymous": anonymous, "trainee": trainee, "other_trainee": other_trainee, "mentor": mentor,
            "other_mentor": other_mentor, "admin": admin}


# --- the rules ----------------------------------------------------------------------------------
#                         anonymous trainee  other_tr. mentor   other_m. admin
PUBLIC = policy(          OK,       OK,      OK,       OK,      OK,      OK)
LOGOUT = policy(          HOME,     HOME,    HOME,     HOME,    HOME,    HOME)
# Login and the invite: for visitors; someone logged in is sent home.
VISITORS = policy(        OK,       HOME,    HOME,     HOME,    HOME,    HOME)
LOGGED_IN = policy(       LOGIN,    OK,      OK,       OK,      OK,      OK)
# The camp is the trainees' (each her own); mentors and admins are sent to their home page.
CAMP = policy(            LOGIN,    OK,      OK,       HOME,    HOME,    HOME)
# The trainee's own things by id (her quiz attempt, her token): nobody else's.
HERS = policy(            LOGIN,    OK,      REFUSED,  REFUSED, REFUSED, REFUSED)
# Trainee-only pages about herself (her milestone poster, posting a win to her cohort's feed).
TRAINEES = policy(        LOGIN,    OK,      OK,       REFUSED, REFUSED, REFUSED)
# A cohort's page: its members, its mentors, admins.
COHORT_MEMBERS = policy(  LOGIN,    OK,      REFUSED,  OK,      REFUSED, OK)
# /cohorts/<id>/*: the cohort's mentors and admins (mentoring.can_coach).
COACHES = policy(         LOGIN,    REFUSED, REFUSED,  OK,      REFUSED, OK)
# Pages for any mentor (each sees her own cohorts in them) and admins.
MENTORS = policy(         LOGIN,    REFUSED, REFUSED,  OK,      OK,      OK)
# /admin/*: admins only; the pages do not exist for anyone else.
ADMINS = policy(          LOGIN,    REFUSED, REFUSED,  REFUSED, REFUSED, OK)
# A visible post of the home cohort: its members, its mentors, admins.
POST_READERS = policy(    LOGIN,    OK,      REFUSED,  OK,      REFUSED, OK)
# Moderation of a home cohort post: its mentors and admins.
MODERATORS = COACHES
# Her own post: only she may delete it.
AUTHOR = HERS
# A photo in a shared post: like the post, but a visitor gets the same 404 as a wrong id.
PHOTO_VIEWERS = policy(   REFUSED,  OK,      REFUSED,  OK,      REFUSED, OK)
# API (with a bearer token; anonymous: no token at all).
API_PUBLIC = PUBLIC
API_ANY_TOKEN = policy(   REFUSED,  OK,      OK,       OK,      OK,      OK)
API_MENTORS = policy(     REFUSED,  REFUSED, REFUSED,  OK,      OK,      OK)
API_COACHES = policy(     REFUSED,  REFUSED, REFUSED,  OK,      REFUSED, OK)
# WeChat's callback: the one-time state is the proof; without it, refused whoever asks.
ONE_TIME = policy(        REFUSED,  REFUSED, REFUSED,  REFUSED, REFUSED, REFUSED)
# After WeChat found no account: a visitor without that WeChat in her session goes to the login page.
WECHAT_VISITORS = policy( LOGIN,    HOME,    HOME,     HOME,    HOME,    HOME)
# Signed by a shop (HMAC), not by a person: every token and cookie is refused (401).
API_SIGNED = policy(      REFUSED,  REFUSED, REFUSED,  REFUSED, REFUSED, REFUSED)
# Trainees' actions (the camp, the feed, correcting her own check-in): mentors and admins get 403 (or 404:
# they have no check-in of their own to correct).
API_TRAINEES = policy(    REFUSED,  OK,      OK,       REFUSED, REFUSED, REFUSED)
# A home cohort post: its members, its mentors, admins (as POST_READERS).
API_POST_READERS = policy(REFUSED,  OK,      REFUSED,  OK,      REFUSED, OK)
# Her own things by id (her quiz attempt, her post to delete): nobody else's.
API_HERS = policy(        REFUSED,  OK,      REFUSED,  REFUSED, REFUSED, REFUSED)

ROUTES = {
    # public
    "GET /healthz": PUBLIC,
    "GET /static/<filename>": PUBLIC,
    "GET /favicon.ico": PUBLIC,
    "GET /forgot": PUBLIC,                              # what to do without a password
    "GET /bootstrap/static/<filename>": PUBLIC,
    "GET /": PUBLIC,                                    # landing page, or her home (mentors: their cohorts)
    "POST /language": PUBLIC,
    "GET /invite/<code>/poster.png": PUBLIC,
    "GET /unsubscribe/<token>": PUBLIC,                 # the signed token is the proof
    "POST /unsubscribe/<token>": PUBLIC,
    "GET /reset/<token>": PUBLIC,                       # the one-time link is the proof
    "POST /reset/<token>": PUBLIC,
    "GET /join": PUBLIC,
    "POST /join": PUBLIC,
    "POST /logout": LOGOUT,
    "GET /login": VISITORS,
    "POST /login": VISITORS,
    "GET /invite/<code>": VISITORS,
    "POST /invite/<code>": VISITORS,
    # anyone logged in: her own account, the courses and quizzes, her check-ins, her inbox
    "GET /me": LOGGED_IN,                               # the "me" tab
    "POST /account/email": LOGGED_IN,
    "GET /account/password": LOGGED_IN,
    "POST /account/password": LOGGED_IN,
    "GET /account/tokens": LOGGED_IN,
    "POST /account/tokens": LOGGED_IN,
    "POST /account/tokens/<token_id>/revoke": HERS,
    "GET /preferences": LOGGED_IN,
    "POST /preferences": LOGGED_IN,
    "GET /inbox": LOGGED_IN,
    "POST /inbox/read": LOGGED_IN,
    "GET /courses": LOGGED_IN,
    "GET /courses/<slug>": LOGGED_IN,
    "GET /courses/<slug>/<lesson_slug>": LOGGED_IN,
    "POST /courses/<slug>/<lesson_slug>/done": LOGGED_IN,
    "POST /courses/<slug>/<lesson_slug>/undo": LOGGED_IN,
    "GET /quizzes/<slug>": LOGGED_IN,
    "POST /quizzes/<slug>/start": LOGGED_IN,
    "GET /checkin": LOGGED_IN,
    "POST /checkin": LOGGED_IN,
    "GET /progress": LOGGED_IN,
    "GET /share": LOGGED_IN,
    "GET /rankings": policy(LOGIN, OK, OK, OK, REFUSED, OK),   # ?cohort=<home>: mentors of it and admins
    "GET /feed": LOGGED_IN,                                     # her cohort's (mentors: to their cohorts)
    # the camp and her things
    "GET /today": CAMP,
    "POST /today/<task_key>": CAMP,
    "GET /calendar": CAMP,
    "POST /feed": TRAINEES,
    "GET /posters/milestone/<milestone_key>.png": policy(LOGIN, OK, REFUSED, REFUSED, REFUSED, REFUSED),
    "GET /attempts/<attempt_id>": HERS,
    "POST /attempts/<attempt_id>": HERS,
    "POST /attempts/<attempt_id>/autosave": HERS,
    "GET /attempts/<attempt_id>/result": HERS,
    # the wins feed
    "POST /feed/<post_id>/like": POST_READERS,
    "POST /feed/<post_id>/comment": POST_READERS,
    "POST /feed/<post_id>/delete": AUTHOR,
    "POST /feed/<post_id>/pin": MODERATORS,
    "POST /feed/<post_id>/highlight": MODERATORS,
    "POST /feed/<post_id>/hide": MODERATORS,
    "GET /photos/<photo_id>.jpg": PHOTO_VIEWERS,
    "GET /photos/<photo_id>-<size>.jpg": PHOTO_VIEWERS,     # the thumbnail and medium size
    # cohorts
    "GET /cohorts/<cohort_id>": COHORT_MEMBERS,
    "GET /cohorts": MENTORS,
    "GET /cohorts/compare": COACHES,                    # ?ids=<home>
    "GET /cohorts/<cohort_id>/dashboard": COACHES,
    "GET /cohorts/<cohort_id>/attention": COACHES,
    "POST /cohorts/<cohort_id>/bulk": COACHES,
    "GET /cohorts/<cohort_id>/export.csv": COACHES,
    "GET /cohorts/<cohort_id>/feed": COACHES,
    "GET /cohorts/<cohort_id>/numbers": COACHES,
    "GET /cohorts/<cohort_id>/trainees/<trainee_id>": COACHES,
    "POST /cohorts/<cohort_id>/trainees/<trainee_id>/contacted": COACHES,
    "POST /cohorts/<cohort_id>/trainees/<trainee_id>/notes": COACHES,
    "POST /cohorts/<cohort_id>/trainees/<trainee_id>/nudge": COACHES,
    "POST /cohorts/<cohort_id>/trainees/<trainee_id>/task-checkins/<task_checkin_id>/pin": COACHES,
    # mentors' tools
    "GET /review": MENTORS,
    "GET /review/<attempt_id>": COACHES,           # an attempt of the home trainee
    "POST /review/<attempt_id>": COACHES,
    "GET /import": MENTORS,
    "POST /import/preview": MENTORS,
    "POST /import/confirm": MENTORS,
    # admins
    "GET /admin/audit": ADMINS,
    "GET /admin/cohorts": ADMINS,
    "GET /admin/cohorts/new": ADMINS,
    "POST /admin/cohorts/new": ADMINS,
    "GET /admin/cohorts/<cohort_id>/edit": ADMINS,
    "POST /admin/cohorts/<cohort_id>/edit": ADMINS,
    "GET /admin/users": ADMINS,
    "GET /admin/users/<account_id>": ADMINS,
    "POST /admin/users/<account_id>/deactivate": ADMINS,
    "POST /admin/users/<account_id>/move": ADMINS,
    "POST /admin/users/<account_id>/reactivate": ADMINS,
    "POST /admin/users/<account_id>/reset-link": ADMINS,
    "GET /admin/outbox": ADMINS,
    "POST /admin/outbox/retry": ADMINS,
    "GET /admin/metrics": ADMINS,
    "GET /admin/reminders/effect": ADMINS,
    "GET /admin/shops": ADMINS,
    "POST /admin/shops": ADMINS,
    "POST /admin/shops/<shop_id>/rotate": ADMINS,
    "GET /admin/cohorts/<cohort_id>/shop-ids": ADMINS,
    "POST /admin/cohorts/<cohort_id>/shop-ids": ADMINS,
    "POST /admin/shop-ids/<member_id>/delete": ADMINS,
    # the API: bearer tokens only
    "GET /api/v1/openapi.json": API_PUBLIC,
    "GET /api/v1/courses": API_ANY_TOKEN,
    "GET /api/v1/quizzes/<slug>": API_ANY_TOKEN,
    "POST /api/v1/quizzes/<slug>/attempts": API_ANY_TOKEN,
    "GET /api/v1/checkins": API_ANY_TOKEN,
    "POST /api/v1/checkins": API_ANY_TOKEN,
    "GET /api/v1/progress": API_ANY_TOKEN,
    "GET /api/v1/today": API_ANY_TOKEN,
    "GET /api/v1/cohorts": API_MENTORS,
    "GET /api/v1/cohorts/<cohort_id>/trainees": API_COACHES,
    # WeChat and SMS (walked with both configured, against local stand-ins)
    "GET /auth/wechat": PUBLIC,                         # to WeChat's consent page (logged in: to bind)
    "GET /auth/wechat/callback": ONE_TIME,
    "GET /auth/wechat/welcome": WECHAT_VISITORS,
    "POST /auth/wechat/welcome": WECHAT_VISITORS,
    "POST /auth/wechat/bind": WECHAT_VISITORS,
    "GET /auth/wechat/join/<code>": VISITORS,           # without a WeChat in her session: the invite page
    "POST /auth/wechat/join/<code>": VISITORS,
    "POST /account/wechat/unbind": LOGGED_IN,
    "POST /preferences/channels": LOGGED_IN,
    "POST /auth/sms/send": VISITORS,
    "POST /auth/sms/login": VISITORS,
    "GET /auth/sms/reset": VISITORS,
    "GET /api/v1/wechat/jssdk": API_PUBLIC,             # for our pages' share cards: no token
    "POST /api/v1/hooks/orders": API_SIGNED,
    "POST /api/v1/today/checkins": API_TRAINEES,
    "GET /api/v1/calendar": API_TRAINEES,
    "GET /api/v1/courses/<slug>/lessons/<lesson_slug>": API_ANY_TOKEN,
    "PUT /api/v1/courses/<slug>/lessons/<lesson_slug>/done": API_ANY_TOKEN,
    "DELETE /api/v1/courses/<slug>/lessons/<lesson_slug>/done": API_ANY_TOKEN,
    "GET /api/v1/feed": API_TRAINEES,
    "POST /api/v1/feed": API_TRAINEES,
    "DELETE /api/v1/feed/<post_id>": API_HERS,
    "PUT /api/v1/feed/<post_id>/like": API_POST_READERS,
    "DELETE /api/v1/feed/<post_id>/like": API_POST_READERS,
    "POST /api/v1/feed/<post_id>/comments": API_POST_READERS,
    "GET /api/v1/inbox": API_ANY_TOKEN,
    "POST /api/v1/inbox/read": API_ANY_TOKEN,
    "GET /api/v1/preferences": API_ANY_TOKEN,
    "PUT /api/v1/preferences": API_ANY_TOKEN,
    "POST /api/v1/quizzes/<slug>/start": API_ANY_TOKEN,
    "GET /api/v1/attempts/<attempt_id>": API_HERS,
    "PUT /api/v1/attempts/<attempt_id>/answers": API_HERS,
    "POST /api/v1/attempts/<attempt_id>/submit": API_HERS,
    "PUT /api/v1/checkins/<day>": API_TRAINEES,   # her check-in of today: each trainee has one, mentors none
}
PUBLIC_WITHOUT_TOKEN = {"GET /api/v1/openapi.json", "GET /api/v1/wechat/jssdk"}


# --- the home cohort and the people --------------------------------------------------------------

def photo_of(user):
    return photos.save_upload(db.session, user, FileStorage(io.BytesIO(jpeg()), "p.jpg"), utcnow())


class World:
    """What the walk needs: the people, their tokens, and the ids to put in URLs."""


def seed(content) -> World:
    now = utcnow()
    sync_content(db.session, content, now)
    db.session.commit()
    w = World()
    w.home, w.other = make_cohort("Home cohort", "HOME1"), make_cohort("Other cohort", "OTHER1")
    w.people = {
        "trainee": make_user("mei@example.com", cohort=w.home, name="Mei", locale="en"),
        "other_trainee": make_user("bo@example.com", cohort=w.other, name="Bo", locale="en"),
        "mentor": make_user("coach@example.com", role=Role.MENTOR, cohort=w.home, locale="en"),
        "other_mentor": make_user("coach2@example.com", role=Role.MENTOR, cohort=w.other, locale="en"),
        "admin": make_user("admin@example.com", role=Role.ADMIN, locale="en"),
    }
    mei = w.people["trainee"]
    # Admins' actions on accounts are tried on Lan; the reset link is Yu's (a new link for Lan
    # would not spoil it).
    w.lan = make_user("lan@example.com", cohort=w.home, name="Lan", locale="en")
    w.yu = make_user("yu@example.com", cohort=w.home, name="Yu", locale="en")

    # Her check-in: enough for the first milestone (her poster).
    record_checkin(db.session, mei, {"date": local_today(mei, now).isoformat(), "earnings": "150",
                                     "orders": "3"}, now)
    # Her camp 打卡 on day 1, shared with a photo: a feed post.
    task = db.session.scalar(sa.select(CampTask).where(CampTask.day == 1))
    checkin = TaskCheckin(user_id=mei.id, task=task, day=local_today(mei, now), text="Day 1 done")
    db.session.add(checkin)
    db.session.flush()
    photo = photo_of(mei)
    photo.checkin_id = checkin.id
    checkin_post = feed.share_checkin(db.session, checkin, now)
    # Her wins: one to read, like and pin; one to hide; one to delete.
    w.post = feed.post_win(db.session, mei, "First order!", [photo_of(mei)], now)
    w.post_to_hide = feed.post_win(db.session, mei, "Second order!", [], now)
    w.post_to_delete = feed.post_win(db.session, mei, "Oops", [], now)
    db.session.commit()
    assert checkin_post is not None
    w.task_checkin, w.photo, w.task = checkin, photo, task

    # Her quizzes: one attempt open, one essay waiting for review.
    w.quiz = quizzes.find_quiz(db.session, "group-building")
    w.attempt = quizzes.start_attempt(db.session, mei, w.quiz, now)
    writing = quizzes.find_quiz(db.session, "content-creation-writing")
    essay_attempt = quizzes.start_attempt(db.session, mei, writing, now)
    essays = [q for q in essay_attempt.questions if q["type"] == "essay"]
    quizzes.submit_attempt(db.session, essay_attempt, {q["id"]: "My essay, at some length." for q in essays}, now)
    db.session.commit()
    assert essay_attempt.state == QuizAttempt.AWAITING_REVIEW, essay_attempt.state
    w.essay_attempt, w.essay_id = essay_attempt, essays[0]["id"]

    # Tokens: each person's for the API, and one of hers to revoke.
    w.tokens = {name: create_token(db.session, user, "matrix", now)[1] for name, user in w.people.items()}
    w.token_to_revoke = create_token(db.session, mei, "old phone", now)[0]
    w.reset_token = admin.create_reset_link(db.session, w.people["admin"], w.yu, now)
    w.unsubscribe = unsubscribe_token(mei.id, "nudge")
    db.session.commit()
    w.milestone_key = "first-week"
    seed_the_others(w, now)
    return w


def seed_the_others(w: World, now) -> None:
    """Bo's things in the other cohort, and Lan's post in the home one: for the mixed-up ids."""
    bo, lan = w.people["other_trainee"], w.lan
    w.bo_checkin, _ = record_checkin(db.session, bo, {"date": local_today(bo, now).isoformat(), "earnings": "20"}, now)
    checkin = TaskCheckin(user_id=bo.id, task=w.task, day=local_today(bo, now), text="Bo's day 1")
    db.session.add(checkin)
    db.session.flush()
    w.bo_photo = photo_of(bo)
    w.bo_photo.checkin_id = checkin.id
    feed.share_checkin(db.session, checkin, now)
    w.bo_task_checkin = checkin
    w.bo_post = feed.post_win(db.session, bo, "Bo's order", [photo_of(bo)], now)
    w.lan_post = feed.post_win(db.session, lan, "Lan's order", [], now)
    w.bo_attempt = quizzes.start_attempt(db.session, bo, w.quiz, now)
    writing = quizzes.find_quiz(db.session, "content-creation-writing")
    w.bo_essay_attempt = quizzes.start_attempt(db.session, bo, writing, now)
    w.api_post_to_delete_id = feed.post_win(db.session, w.people["trainee"], "Oops (API)", [], now).id
    shop = shops.create_shop(db.session, "Matrix shop", now)
    w.shop_id = shop.id  # ids, not rows: the walk deletes the mapping
    w.shop_member_id = shops.map_external_id(db.session, shop, w.people["trainee"], "matrix-1", now).id
    quizzes.submit_attempt(db.session, w.bo_essay_attempt,
                           {q["id"]: "Bo's essay." for q in w.bo_essay_attempt.questions if q["type"] == "essay"}, now)
    w.bo_token = create_token(db.session, bo, "Bo's phone", now)[0]
    db.session.commit()


@pytest.fixture(scope="module")
def walk(database_url, content, tmp_path_factory):
    with FakeWechat() as wechat, FakeTencentSms() as sms:
        yield from _walk(database_url, content, tmp_path_factory, {**wechat.config, **sms.config()})


def _walk(database_url, content, tmp_path_factory, services):
    app = create_app(_test_config(database_url, UPLOAD_DIR=str(tmp_path_factory.mktemp("uploads")), **services))
    app.test_client_class = Client
    with app.app_context():
        world = seed(content)
        yield app, world
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        db.engine.dispose()


# --- filling URLs and forms ----------------------------------------------------------------------

def url_values(w: World, rule: str) -> dict[str, str]:
    values = {
        "cohort_id": w.home.id, "trainee_id": w.people["trainee"].id, "account_id": w.lan.id,
        "attempt_id": w.attempt.id, "task_checkin_id": w.task_checkin.id, "post_id": w.post.id,
        "photo_id": w.photo.id, "milestone_key": w.milestone_key, "task_key": w.task.key,
        "token_id": w.token_to_revoke.id, "code": w.home.invite_code, "slug": "group-building",
        "lesson_slug": "warm-contacts", "filename": "app.css", "size": "thumb",
        "shop_id": w.shop_id, "member_id": w.shop_member_id, "day": local_today(w.people["trainee"], utcnow()),
    }
    special = {
        "/bootstrap/static/<filename>": {"filename": "css/bootstrap.min.css"},
        "/reset/<token>": {"token": w.reset_token},
        "/unsubscribe/<token>": {"token": w.unsubscribe},
        "/review/<attempt_id>": {"attempt_id": w.essay_attempt.id},
        "/feed/<post_id>/hide": {"post_id": w.post_to_hide.id},
        "/feed/<post_id>/delete": {"post_id": w.post_to_delete.id},
        "/quizzes/<slug>": {"slug": w.quiz.slug},
        "/quizzes/<slug>/start": {"slug": w.quiz.slug},
        "/api/v1/quizzes/<slug>": {"slug": w.quiz.slug},
        "/api/v1/quizzes/<slug>/attempts": {"slug": w.quiz.slug},
        "/api/v1/quizzes/<slug>/start": {"slug": w.quiz.slug},
        "/api/v1/feed/<post_id>": {"post_id": w.api_post_to_delete_id},
    }
    return {**values, **special.get(rule, {})}


QUERIES = {  # aimed at the home cohort where a page takes it from the query string
    "/cohorts/compare": {"ids": "{home}"},
    "/rankings": {"cohort": "{home}"},
    "/api/v1/wechat/jssdk": {"url": "http://127.0.0.1:5000/"},
}


def form_data(w: World, rule: str) -> dict[str, str]:
    """Harmless: incomplete forms, wrong passwords, a word of text; `next` leads to a neutral page."""
    data = {"next": "/healthz", "body": "Hello", "lang": "en", "code": w.home.invite_code, "on": "0",
            "do": "like", "name": "matrix", "identifier": "nobody@example.com", "password": "wrong",
            "current_password": "wrong", "reason": "matrix", "all": "1"}
    special = {
        "/admin/cohorts/<cohort_id>/edit": {},      # nothing: refused by validation, the cohort unchanged
        "/admin/cohorts/new": {},
        "/admin/users/<account_id>/move": {},
        "/review/<attempt_id>": {"question_id": w.essay_id},    # no scores: 422
        "/import/preview": {"text": "not,a,shop,file"},
        "/import/confirm": {"csv": base64.b64encode(b"not,a,shop,file").decode(), "digest": "0"},
        "/feed": {"text": "A win"},
        "/checkin": {"next": "/healthz"},                # no numbers: 422
        "/today/<task_key>": {"text": ""},               # no proof: 422
        "/attempts/<attempt_id>": {"action": "save"},
    }
    return special.get(rule, data)


API_BODIES = {"/api/v1/checkins": {}, "/api/v1/quizzes/<slug>/attempts": {"answers": {}}}


def plain(rule: str) -> str:
    """/feed/<int:post_id>/like -> /feed/<post_id>/like: the table does not care about converters."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"<\1>", rule)


def classify(response) -> str:
    status = response.status_code
    if status in (301, 302, 303, 307, 308):
        path = urlsplit(response.location).path
        return LOGIN if path == "/login" else HOME if path == "/" else OK
    if status in (401, 403, 404):
        return REFUSED
    if 200 <= status < 300 or status in (409, 422):
        return OK
    return f"status {status}"


def concrete(rule, w: World) -> str:
    url = rule.build(url_values(w, plain(rule.rule)), append_unknown=False)[1]
    query = {k: v.format(home=w.home.id) for k, v in QUERIES.get(plain(rule.rule), {}).items()}
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


# --- the test ------------------------------------------------------------------------------------

def routes(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield f"{method} {plain(rule.rule)}", method, rule


def test_every_route_is_in_the_table(walk):
    app, _ = walk
    found = {key for key, _, _ in routes(app)}
    assert not found - set(ROUTES), f"classify these routes in ROUTES: {sorted(found - set(ROUTES))}"
    assert not set(ROUTES) - found, f"no longer routes: {sorted(set(ROUTES) - found)}"


def test_the_table_keeps_the_prefix_rules():
    for key, rules in ROUTES.items():
        path = key.split(" ", 1)[1]
        if path.startswith("/admin/"):
            assert rules == ADMINS, key
        if path.startswith("/api/"):
            assert rules in (API_PUBLIC, API_ANY_TOKEN, API_MENTORS, API_COACHES, API_SIGNED, API_TRAINEES,
                             API_POST_READERS, API_HERS), key
            assert rules["anonymous"] == REFUSED or key in PUBLIC_WITHOUT_TOKEN, key
        if path.startswith("/cohorts/<cohort_id>/"):
            assert rules == COACHES, key
        if rules not in (PUBLIC, LOGOUT, VISITORS, PHOTO_VIEWERS, ONE_TIME) \
                and not path.startswith("/api/"):
            assert rules["anonymous"] == LOGIN, f"{key}: a page that needs a login sends visitors to it"


def test_each_person_gets_what_the_table_says(walk):
    app, w = walk
    clients = {name: app.test_client() for name in PERSONAS}
    for name, user in w.people.items():
        sign_in(clients[name], user)

    wrong, checked = [], 0
    for key, method, rule in routes(app):
        if key not in ROUTES:
            continue  # test_every_route_is_in_the_table says which
        url = concrete(rule, w)
        is_api = rule.rule.startswith("/api/")
        for name in PERSONAS:
            client = clients[name]
            expected = ROUTES[key][name]
            if is_api:
                body = API_BODIES.get(plain(rule.rule)) if method == "POST" else None
                # The session cookie opens nothing: 401, as to anyone without a token.
                response = client.open(url, method=method, json=body)
                want = 200 if key in PUBLIC_WITHOUT_TOKEN else 401
                if response.status_code != want:
                    wrong.append(f"{key} as {name} with cookies only: {response.status_code}, expected {want}")
                got = classify(response)    # anonymous: no cookie, no token
                if name != "anonymous":
                    got = classify(client.open(url, method=method, json=body,
                                               headers={"Authorization": f"Bearer {w.tokens[name]}"}))
            else:
                data = form_data(w, plain(rule.rule)) if method == "POST" else None
                response = client.open(url, method=method, data=data)
                got = classify(response)
                response.close()
            checked += 1
            if got != expected:
                wrong.append(f"{key} as {name}: {got}, expected {expected}")
            if key == "POST /logout" and name != "anonymous":
                sign_in(client, w.people[name])
    assert not wrong, "\n".join(wrong)
    assert checked == len(ROUTES) * len(PERSONAS)


# --- mixed-up ids: her own cohort in the URL, someone else's thing in it (or the other way round) --------

def cross_probes(w: World) -> list[tuple[str, str, str, dict | None]]:
    """(person, method, url, form): each must be refused, and change nothing."""
    home, other, mei, bo = w.home.id, w.other.id, w.people["trainee"].id, w.people["other_trainee"].id
    today = local_today(w.people["trainee"], utcnow()).isoformat()
    mentor = [
        ("GET", f"/cohorts/{home}/trainees/{bo}", None),
        ("GET", f"/cohorts/{other}/trainees/{bo}", None),
        ("GET", f"/cohorts/{other}/trainees/{mei}", None),
        ("POST", f"/cohorts/{home}/trainees/{bo}/nudge", {"body": "Hello"}),
        ("POST", f"/cohorts/{home}/bulk", {"action": "nudge", "body": "Hello", "trainee": [str(mei), str(bo)]}),
        ("POST", f"/cohorts/{other}/bulk", {"action": "contacted", "trainee": str(bo)}),
        ("POST", f"/cohorts/{home}/trainees/{mei}/task-checkins/{w.bo_task_checkin.id}/pin", {"on": "1"}),
        ("POST", f"/cohorts/{home}/trainees/{mei}/notes", {"body": "Hello", "checkin_id": str(w.bo_checkin.id)}),
        ("POST", f"/cohorts/{home}/trainees/{mei}/notes", {"body": "Hello",
                                                          "task_checkin_id": str(w.bo_task_checkin.id)}),
        ("GET", f"/review/{w.bo_essay_attempt.id}", None),
        ("POST", f"/review/{w.bo_essay_attempt.id}", {"question_id": w.essay_id}),
        ("POST", f"/feed/{w.bo_post.id}/pin", {"on": "1"}),
        ("POST", f"/feed/{w.bo_post.id}/hide", {"reason": "x"}),
        ("POST", f"/feed/{w.bo_post.id}/comment", {"body": "Hello"}),
        ("GET", f"/photos/{w.bo_photo.id}.jpg", None),
        ("GET", f"/photos/{w.bo_photo.id}-thumb.jpg", None),
        ("GET", f"/cohorts/compare?ids={home},{other}", None),
        ("GET", f"/rankings?cohort={other}", None),
        ("GET", f"/cohorts/{other}/feed", None),
        ("GET", f"/cohorts/{other}/export.csv", None),
    ]
    trainee = [
        ("GET", f"/attempts/{w.bo_attempt.id}", None),
        ("POST", f"/attempts/{w.bo_attempt.id}", {"action": "submit"}),
        ("GET", f"/attempts/{w.bo_essay_attempt.id}/result", None),
        ("POST", f"/account/tokens/{w.bo_token.id}/revoke", None),
        ("POST", f"/feed/{w.bo_post.id}/like", None),
        ("POST", f"/feed/{w.bo_post.id}/comment", {"body": "Hello"}),
        ("POST", f"/feed/{w.lan_post.id}/delete", None),          # her cohort's, not hers
        ("POST", f"/feed/{w.lan_post.id}/hide", None),
        ("GET", f"/photos/{w.bo_photo.id}.jpg", None),
        ("GET", f"/photos/{w.bo_photo.id}-medium.jpg", None),
        ("GET", f"/cohorts/{other}", None),
        ("GET", f"/cohorts/{home}/trainees/{mei}", None),
    ]
    probes = [("mentor", *p) for p in mentor] + [("trainee", *p) for p in trainee]
    # A mentor's import may not touch another cohort's trainee.
    probes.append(("mentor", "POST", "/import/preview", {"text": f"email,date,earnings\nbo@example.com,{today},10"}))
    return probes


def test_mixed_up_ids_are_refused_and_change_nothing(walk):
    app, w = walk
    clients = {name: app.test_client() for name in ("trainee", "mentor")}
    for name, client in clients.items():
        sign_in(client, w.people[name])
    wrong = []
    for name, method, url, data in cross_probes(w):
        response = clients[name].open(url, method=method, data=data)
        got = classify(response)
        if url == "/import/preview":    # refused row by row, in the preview; confirming it imports nothing
            if response.status_code != 200 or "not in a cohort you coach" not in response.text:
                wrong.append(f"{method} {url} as {name}: {response.status_code}, the row was not refused")
            # The page offers no button (nothing to save); a hand-made confirmation saves nothing either.
            digest = imports.preview_import(db.session, w.people[name], data["text"], utcnow()).digest
            confirmed = clients[name].post("/import/confirm", data={
                "csv": base64.b64encode(data["text"].encode()).decode(), "digest": digest})
            if confirmed.status_code != 302:
                wrong.append(f"POST /import/confirm as {name}: {confirmed.status_code}")
        elif got != REFUSED:
            wrong.append(f"{method} {url} as {name}: {got} ({response.status_code}), expected refused")
        response.close()
    # The API: a mentor's token opens her cohorts only.
    response = clients["mentor"].get(f"/api/v1/cohorts/{w.other.id}/trainees",
                                     headers={"Authorization": f"Bearer {w.tokens['mentor']}"})
    if response.status_code != 404:
        wrong.append(f"GET /api/v1/cohorts/<other>/trainees as mentor: {response.status_code}")
    assert not wrong, "\n".join(wrong)

    db.session.expire_all()
    bo_post, bo_checkin = db.session.get(FeedPost, w.bo_post.id), db.session.get(TaskCheckin, w.bo_task_checkin.id)
    assert not bo_post.is_pinned and bo_post.hidden_at is None and not bo_checkin.is_pinned
    assert db.session.get(FeedPost, w.lan_post.id).deleted_at is None
    assert db.session.get(ApiToken, w.bo_token.id).revoked_at is None
    assert db.session.get(QuizAttempt, w.bo_attempt.id).state == QuizAttempt.IN_PROGRESS
    bo = w.people["other_trainee"].id
    assert not db.session.scalars(sa.select(MentorNote).where(MentorNote.trainee_id == bo)).all()
    assert not db.session.scalars(sa.select(FeedComment).where(FeedComment.post_id == w.bo_post.id)).all()
    assert db.session.get(Checkin, w.bo_checkin.id).earnings_fen == 2000
    assert not db.session.scalars(sa.select(InboxMessage).where(InboxMessage.recipient_id == bo)).all()
