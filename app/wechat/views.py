"""WeChat pages: one-tap login (网页授权), joining or binding after it, unbinding, and the JS-SDK
signature for share cards. Thin: app/wechat/service.py decides, app/wechat/client.py talks to WeChat.
"""
import secrets
from dataclasses import asdict
from urllib.parse import urlencode, urlsplit

from flask import (Blueprint, abort, after_this_request, current_app, flash, jsonify, redirect, render_template,
                   request, session, url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required, user_logged_in
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.accounts import service as accounts
from app.accounts.forms import JoinForm, LoginForm, MobileJoinForm
from app.accounts.views import start_session
from app.core.errors import DomainError
from app.database import utcnow
from app.extensions import db
from app.i18n import safe_next
from app.wechat import client, jssdk, service, share
from app.wechat.service import STATE_VALID, Pending, WechatProblem

bp = Blueprint("wechat", __name__)

NONCE_KEY = "wechat_nonce"      # ties each state to this browser session
# An openid WeChat confirmed and no account has, while she joins or binds: a signed cookie of its
# own, since logging in starts a new session; bound by whichever login follows (_bind_pending).
PENDING_COOKIE = "wx_pending"
SEEN_COOKIE = "wx_seen"         # this browser logged in with WeChat before: the silent scope will do


def in_wechat() -> bool:
    return "MicroMessenger" in (request.user_agent.string or "")


def _configured_or_404() -> None:
    if not client.is_configured():
        abort(404)


def _visitors_only():
    """The pages after an unknown WeChat: for visitors; someone logged in is sent home."""
    _configured_or_404()
    return redirect(url_for("home.home")) if current_user.is_authenticated else None


# --- the trip to WeChat and back ---------------------------------------------------------------

@bp.get("/auth/wechat")
def start():
    """Send her browser to WeChat's consent page (silent for a known browser), with a fresh state."""
    _configured_or_404()
    next_path = safe_next(request.args.get("next"), url_for("home.home"))
    if current_user.is_authenticated:
        purpose, scope, user_id = "bind", "snsapi_base", current_user.id
    else:
        purpose, user_id = "login", None
        scope = "snsapi_base" if request.cookies.get(SEEN_COOKIE) else "snsapi_userinfo"   # her nickname, to join
    nonce = session.get(NONCE_KEY) or session.setdefault(NONCE_KEY, secrets.token_urlsafe(24))
    state = service.start(db.session, nonce, utcnow(), purpose=purpose, scope=scope, next_path=next_path,
                          user_id=user_id)
    db.session.commit()
    config = current_app.config
    callback = config["BASE_URL"].rstrip("/") + url_for("wechat.callback")
    # WeChat reads these parameters in this order, and wants the fragment.
    query = urlencode([("appid", config["WECHAT_APP_ID"]), ("redirect_uri", callback), ("response_type", "code"),
                       ("scope", scope), ("state", state)])
    return redirect(f"{config['WECHAT_OPEN_BASE'].rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect")


@bp.get("/auth/wechat/callback")
def callback():
    _configured_or_404()
    now = utcnow()
    try:
        state = service.use_state(db.session, request.args.get("state", ""), session.get(NONCE_KEY), now)
        db.session.commit()   # spent, whatever follows
        code = request.args.get("code", "")
        if not code:   # she declined on WeChat's page
            return _problem("code", 403)
        try:
            answer = client.exchange_code(code)
        except client.WechatError as e:
            return _problem("unreachable" if e.errcode is None else "code", 502 if e.errcode is None else 403)
        openid, unionid = answer["openid"], answer.get("unionid")
        if state.purpose == "bind":
            if not current_user.is_authenticated or current_user.id != state.user_id:
                raise WechatProblem("state")
            service.bind(db.session, current_user, openid, now, unionid=unionid)
            db.session.commit()
            flash(_("WeChat is bound to your account: next time, log in with one tap."), "success")
            return redirect(url_for("accounts.change_password"))
        user = service.account_of(db.session, openid)
        if user is not None:
            if not user.is_active:
                flash(_("This account has been closed. Ask your mentor."), "danger")
                return redirect(url_for("accounts.login"))
            start_session(user)
            user.last_login_at = now
            db.session.commit()
            response = redirect(safe_next(state.next_path, url_for("home.home")))
            response.set_cookie(SEEN_COOKIE, "1", max_age=365 * 24 * 3600, httponly=True, samesite="Lax")
            return response
        nickname = None
        if state.scope == "snsapi_userinfo" and answer.get("access_token"):
            try:
                nickname = client.user_info(answer["access_token"], openid).get("nickname")
            except client.WechatError:
                pass   # a nickname is a convenience: she types her name
        code = _invite_code(state.next_path)
        response = redirect(url_for("wechat.join", code=code) if code else url_for("wechat.welcome"))
        response.set_cookie(PENDING_COOKIE, _pending_signer().dumps(asdict(Pending(openid, unionid, nickname))),
                            max_age=int(STATE_VALID.total_seconds()), httponly=True, samesite="Lax",
                            secure=current_app.config["SECURE_COOKIES"])
        return response
    except WechatProblem as e:
        db.session.rollback()
        return _problem(e.problem, 409 if e.problem in ("taken", "already") else 403)


def _problem(problem: str, status: int):
    return render_template("wechat/problem.html", message=service.PROBLEMS[problem]), status


def _invite_code(next_path: str) -> str | None:
    """She started from an invite page: join that cohort."""
    parts = urlsplit(next_path).path.strip("/").split("/")
    return parts[1] if len(parts) == 2 and parts[0] == "invite" and parts[1] else None


def _pending_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="wechat-pending")


def pending() -> Pending | None:
    """The WeChat she came with, for ten minutes after WeChat confirmed it."""
    try:
        data = _pending_signer().loads(request.cookies.get(PENDING_COOKIE, ""), max_age=STATE_VALID.total_seconds())
        return Pending(**data)
    except (BadSignature, TypeError):
        return None


def _bind_pending(sender, user, **extra) -> None:
    """Once she is in (password, SMS code or a new account), bind the WeChat she came with."""
    found = pending()
    if found is None:
        return

    @after_this_request
    def forget(response):
        response.delete_cookie(PENDING_COOKIE)
        return response

    try:
        service.bind(db.session, user, found.openid, utcnow(), unionid=found.unionid, nickname=found.nickname)
    except WechatProblem as e:
        db.session.rollback()
        flash(e.message, "warning")
        return
    db.session.commit()
    flash(_("WeChat is bound to your account: next time, log in with one tap."), "success")


# --- unknown WeChat: join or bind ---------------------------------------------------------------

@bp.route("/auth/wechat/welcome", methods=["GET", "POST"])
def welcome():
    """WeChat knows her, we do not: join with an invite code, or bind the account she has."""
    if (away := _visitors_only()) is not None:
        return away
    found = pending()
    if found is None:
        return redirect(url_for("accounts.login"))
    code_form = JoinForm(prefix="invite")
    if code_form.validate_on_submit():
        cohort = accounts.find_cohort_by_code(db.session, code_form.code.data)
        if cohort:
            return redirect(url_for("wechat.join", code=cohort.invite_code))
        code_form.code.errors.append(_("No cohort has this invite code. Check it with your mentor."))
    login_form = LoginForm(prefix="bind")
    status = 422 if code_form.errors else 200
    return render_template("wechat/welcome.html", found=found, code_form=code_form, login_form=login_form), status


@bp.post("/auth/wechat/bind")
def bind_with_password():
    """She has an account: her password proves it, and the WeChat she came with is bound to it."""
    if (away := _visitors_only()) is not None:
        return away
    found = pending()
    if found is None:
        return redirect(url_for("accounts.login"))
    login_form = LoginForm(prefix="bind")
    if login_form.validate_on_submit():
        address = (request.remote_addr or "unknown")[:64]
        result = accounts.authenticate(db.session, login_form.identifier.data, login_form.password.data, address,
                                       utcnow(), current_app.config)
        db.session.commit()
        if result.user:
            start_session(result.user)   # binds the pending WeChat
            return redirect(url_for("home.home"))
        login_form.password.errors.append(
            _("Too many attempts. Try again in %(n)d minutes.", n=result.retry_minutes) if result.error == "throttled"
            else _("This account has been closed. Ask your mentor.") if result.error == "inactive"
            else _("Wrong mobile number, email or password."))
    return render_template("wechat/welcome.html", found=found, code_form=JoinForm(prefix="invite"),
                           login_form=login_form), 422


@bp.route("/auth/wechat/join/<code>", methods=["GET", "POST"])
def join(code: str):
    """A newcomer from WeChat joins her cohort: her name and mobile number, no password to invent."""
    if (away := _visitors_only()) is not None:
        return away
    found = pending()
    if found is None:
        return redirect(url_for("accounts.invite", code=code))
    cohort = accounts.find_cohort_by_code(db.session, code)
    if cohort is None:
        abort(404)
    problem = accounts.invite_problem(db.session, cohort, utcnow())
    if problem is not None:
        return render_template("cohorts/admin/invite_closed.html", cohort=cohort, message=problem), 403
    form = MobileJoinForm(data=None if request.method == "POST" else {"name": found.nickname or ""})
    if form.validate_on_submit():
        try:
            user = accounts.register_without_password(
                db.session, cohort, name=form.name.data, mobile=form.mobile.data, timezone=form.timezone.data,
                locale=request.cookies.get("lang"), now=utcnow())
        except DomainError as e:
            db.session.rollback()
            if e.code == "invite_closed":
                return render_template("cohorts/admin/invite_closed.html", cohort=cohort, message=e.message), 403
            (form.name if e.field == "name" else form.mobile).errors.append(e.message)
        else:
            db.session.commit()
            start_session(user)   # binds the pending WeChat
            flash(_("Welcome to %(cohort)s! Start with your first lesson.", cohort=cohort.name), "success")
            response = redirect(url_for("home.home"))
            response.set_cookie(SEEN_COOKIE, "1", max_age=365 * 24 * 3600, httponly=True, samesite="Lax")
            return response
    status = 422 if request.method == "POST" else 200
    return render_template("wechat/join.html", form=form, cohort=cohort, found=found), status


# --- her account page: unbind -----------------------------------------------------------------

@bp.post("/account/wechat/unbind")
@login_required
def unbind():
    if service.unbind(db.session, current_user):
        db.session.commit()
        flash(_("WeChat is no longer bound to your account."), "success")
    return redirect(url_for("accounts.change_password"))


# --- JS-SDK signature for share cards -----------------------------------------------------------

@bp.get("/api/v1/wechat/jssdk")
def jssdk_config():
    """appId, timestamp, nonceStr and signature for wx.config() on one of our pages."""
    if not client.is_configured():
        return jsonify(error="not_configured", message="WeChat is not configured on this server."), 404
    url = request.args.get("url", "")
    if not jssdk.is_our_page(url, current_app.config["BASE_URL"]):
        return jsonify(error="bad_url", message="url must be the full address of one of this site's pages."), 422
    try:
        signed = jssdk.sign_page(db.session, url.split("#", 1)[0], utcnow())
    except client.WechatError as e:
        db.session.rollback()
        current_app.logger.warning("jssdk ticket failed: %s", e)
        return jsonify(error="wechat_unavailable", message="WeChat could not be reached; try again."), 503
    db.session.commit()
    return jsonify(signed)


def init_app(app) -> None:
    """The blueprint is in the factory's list; here, what every page and every login needs."""
    user_logged_in.connect(_bind_pending, app)

    @app.context_processor
    def wechat_flags():
        configured = client.is_configured(app.config)
        return {"wechat_login": configured and in_wechat() and not current_user.is_authenticated,
                "wechat_configured": configured, "wechat_share": share.share_card,
                "wechat_binding_for": lambda user: service.binding_of(db.session, user.id) if configured else None}
