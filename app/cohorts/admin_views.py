"""Admin pages: cohorts and invites, accounts, the audit log. Anyone but an admin gets 404."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.accounts.models import User
from app.camp.poster_views import invite_is_open
from app.cohorts import admin
from app.cohorts.forms import CohortForm, MoveForm
from app.cohorts.models import Cohort
from app.database import utcnow
from app.extensions import db
from app.core.calendar import default_timezone
from app.core.access import require_admin
from app.core.errors import DomainError, put_on_form

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROLE_LABELS = {"trainee": _l("Trainee"), "mentor": _l("Mentor"), "admin": _l("Admin")}
# Actions recorded by other parts (mentors' notes, nudges…) show their code until they get a label here.
ACTION_LABELS = {
    "cohort.create": _l("Cohort created"), "cohort.update": _l("Cohort changed"),
    "user.move": _l("Trainee moved"), "user.deactivate": _l("Account deactivated"),
    "user.reactivate": _l("Account reactivated"), "user.reset_link": _l("Password reset link created"),
}


@bp.context_processor
def labels():
    return {"role_labels": ROLE_LABELS, "action_labels": ACTION_LABELS}


bp.before_request(require_admin)


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


# --- cohorts -----------------------------------------------------------------------------------

@bp.get("/cohorts")
def cohorts():
    return render_template("cohorts/admin/cohorts.html", rows=admin.list_cohorts(db.session))


def _cohort_form(cohort: Cohort | None) -> CohortForm:
    if request.method == "POST":
        form = CohortForm()  # only what was sent: an unticked mentor must not come back from the row
    elif cohort is None:
        form = CohortForm(data={"start_date": utcnow().date(), "invite_code": admin.new_invite_code(db.session),
                                "timezone": current_user.timezone or default_timezone()})
    else:
        form = CohortForm(data={
            "name": cohort.name, "start_date": cohort.start_date, "timezone": cohort.timezone,
            "mentors": [m.id for m in cohort.mentors], "invite_code": cohort.invite_code,
            "invite_expires_at": cohort.invite_expires_at, "seat_limit": cohort.seat_limit,
            "rank_by_earnings": cohort.rank_by_earnings, "robot_kind": cohort.robot_kind or "", "robot_webhook": cohort.robot_webhook or "",
            "robot_secret": ""})  # the secret is never sent back to the browser
    form.mentors.choices = [(m.id, m.name) for m in admin.mentor_choices(db.session, cohort)]
    return form


def _edit_cohort(cohort: Cohort | None):
    form = _cohort_form(cohort)
    if form.validate_on_submit():
        data = admin.CohortData(
            name=form.name.data, start_date=form.start_date.data, timezone=form.timezone.data,
            mentor_ids=tuple(form.mentors.data or ()), invite_code=form.invite_code.data,
            invite_expires_at=form.invite_expires_at.data, seat_limit=form.seat_limit.data,
            rank_by_earnings=form.rank_by_earnings.data, robot_kind=form.robot_kind.data, robot_webhook=form.robot_webhook.data,
            robot_secret=form.robot_secret.data)
        try:
            saved = admin.save_cohort(db.session, current_user, cohort, data, utcnow())
        except DomainError as e:
            db.session.rollback()
            put_on_form(form, e)
        else:
            db.session.commit()
            flash(_("Cohort saved.") if cohort else _("Cohort created. Send the invite link to its trainees."),
                  "success")
            return redirect(url_for("admin.edit_cohort", cohort_id=saved.id))
    status = 422 if request.method == "POST" else 200
    return render_template("cohorts/admin/cohort_form.html", form=form, cohort=cohort,
                           poster_open=invite_is_open(cohort)), status


@bp.route("/cohorts/new", methods=["GET", "POST"])
def new_cohort():
    return _edit_cohort(None)


@bp.route("/cohorts/<int:cohort_id>/edit", methods=["GET", "POST"])
def edit_cohort(cohort_id: int):
    return _edit_cohort(db.get_or_404(Cohort, cohort_id))


# --- users -------------------------------------------------------------------------------------

@bp.get("/users")
def users():
    q = request.args.get("q", "")
    page = admin.find_users(db.session, q, request.args.get("page", 1))
    return render_template("cohorts/admin/users.html", q=q, page=page)


def _user_page(user: User, status: int = 200, move_form: MoveForm | None = None, reset_link: str | None = None):
    if move_form is None:
        move_form = MoveForm(formdata=None, cohort=user.cohort_id)
    move_form.cohort.choices = [(c.id, c.name) for c in admin.cohort_choices(db.session)]
    response = current_app.make_response((render_template(
        "cohorts/admin/user.html", user=user, move_form=move_form, reset_link=reset_link), status))
    return _no_store(response) if reset_link else response


@bp.get("/users/<int:account_id>")
def user(account_id: int):
    return _user_page(db.get_or_404(User, account_id))


def _act(account_id: int, action, success: str):
    """Run one admin action on a user, then back to her page with what happened."""
    user = db.get_or_404(User, account_id)
    try:
        action(db.session, current_user, user, utcnow())
    except DomainError as e:
        db.session.rollback()
        flash(str(e.message), "danger")
        return _user_page(db.get_or_404(User, account_id), e.status)
    db.session.commit()
    flash(success, "success")
    return redirect(url_for("admin.user", account_id=account_id))


@bp.post("/users/<int:account_id>/move")
def move(account_id: int):
    user = db.get_or_404(User, account_id)
    form = MoveForm()
    if form.validate_on_submit():
        try:
            cohort = db.session.get(Cohort, form.cohort.data) if form.cohort.data is not None else None
            admin.move_user(db.session, current_user, user, cohort, utcnow())
        except DomainError as e:
            db.session.rollback()
            user = db.get_or_404(User, account_id)
            form.cohort.errors.append(e.message)
        else:
            db.session.commit()
            flash(_("%(name)s is now in %(cohort)s.", name=user.name, cohort=user.cohort.name), "success")
            return redirect(url_for("admin.user", account_id=account_id))
    return _user_page(user, 422, move_form=form)


@bp.post("/users/<int:account_id>/deactivate")
def deactivate(account_id: int):
    return _act(account_id, admin.deactivate_user,
                _("Account deactivated: she is logged out everywhere and cannot log in."))


@bp.post("/users/<int:account_id>/reactivate")
def reactivate(account_id: int):
    return _act(account_id, admin.reactivate_user, _("Account reactivated: she can log in again."))


@bp.post("/users/<int:account_id>/reset-link")
def reset_link(account_id: int):
    user = db.get_or_404(User, account_id)
    try:
        token = admin.create_reset_link(db.session, current_user, user, utcnow())
    except DomainError as e:
        db.session.rollback()
        flash(str(e.message), "danger")
        return _user_page(db.get_or_404(User, account_id), e.status)
    db.session.commit()
    # Shown on this response only (never flashed or stored): it cannot be shown again.
    return _user_page(user, reset_link=url_for("accounts.reset_password", token=token, _external=True))


# --- audit -------------------------------------------------------------------------------------

@bp.get("/audit")
def audit_log():
    page, names = admin.audit_page(db.session, request.args.get("page", 1))
    return render_template("cohorts/admin/audit.html", page=page, names=names)
