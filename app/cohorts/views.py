from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.cohorts.models import Cohort
from app.extensions import db
from app.core import access
from app.core.members import trainee_count

bp = Blueprint("cohorts", __name__)


@bp.get("/cohorts/<int:cohort_id>")
@login_required
def cohort(cohort_id: int):
    cohort = db.session.get(Cohort, cohort_id)
    # Another cohort's page answers exactly like a missing one: nothing to learn from probing.
    if cohort is None or not access.can_view_cohort(current_user, cohort):
        abort(404)
    if current_user.is_staff:
        return redirect(url_for("mentor.cohort_dashboard", cohort_id=cohort.id))
    return render_template("cohorts/cohort.html", cohort=cohort,
                           trainee_count=trainee_count(db.session, cohort.id))
