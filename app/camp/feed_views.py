"""The cohort's wins feed (晒单) and the photos in it.

Anything she may not see answers 404, like a post or photo that does not exist, so ids cannot be
probed. Rules live in app/camp/feed.py; these views only read the form and redirect.
"""
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.camp import feed, photos
from app.camp.models import FeedPost, Photo
from app.cohorts.mentor_views import coached_cohort_or_404
from app.database import utcnow
from app.extensions import db
from app.i18n import safe_next
from app.core.errors import DomainError, commit_or_flash

bp = Blueprint("feed", __name__)


def _page() -> int:
    raw = request.args.get("page", "1")
    return min(int(raw), 10_000) if raw.isdecimal() and int(raw) > 0 else 1


def _here() -> str:
    return request.full_path if request.query_string else request.path


def _render(cohort, *, moderate: bool, draft: str = "", error: str = "", status: int = 200):
    page = feed.feed_for(db.session, current_user, cohort, _page()) if cohort else None
    return render_template("camp/feed.html", cohort=cohort, feed=page, moderate=moderate, next_url=_here(),
                           draft=draft, error=error, max_photos=photos.MAX_PHOTOS,
                           max_comment=feed.MAX_COMMENT, max_post=feed.MAX_POST), status


@bp.get("/feed")
@login_required
def feed_page():
    if current_user.is_staff:
        return redirect(url_for("mentor.cohorts"))  # their feeds are per cohort, with moderation
    return _render(current_user.cohort, moderate=False)


@bp.post("/feed")
@login_required
def post_win():
    if not current_user.is_trainee or current_user.cohort is None:
        abort(404)
    text = request.form.get("text", "")
    try:
        post = feed.publish_win(db.session, current_user, text, request.files.getlist("photos"), utcnow())
        db.session.commit()
    except DomainError as e:
        db.session.rollback()
        # The page again with her text kept: typing it twice on a phone is what makes people give up.
        return _render(current_user.cohort, moderate=False, draft=text[:feed.MAX_POST], error=str(e.message),
                       status=422)
    flash(_("Shared with your cohort."), "success")
    return redirect(url_for("feed.feed_page") + f"#post-{post.id}")


@bp.get("/cohorts/<int:cohort_id>/feed")
@login_required
def cohort_feed(cohort_id: int):
    return _render(coached_cohort_or_404(cohort_id), moderate=True)


def _post_or_404(post_id: int) -> FeedPost:
    post = db.session.get(FeedPost, post_id)
    if not feed.can_see_post(current_user, post):
        abort(404)
    return post


def _act(post_id: int, action, done: str | None = None):
    """Run one action on a post she may see; 404 for the rest; back to where she was."""
    post = _post_or_404(post_id)
    ok, _result = commit_or_flash(action, post, utcnow())
    if ok and done:
        flash(done, "success")
    fallback = (url_for("feed.cohort_feed", cohort_id=post.cohort_id) if current_user.is_staff
                else url_for("feed.feed_page"))
    return redirect(safe_next(request.form.get("next"), fallback) + f"#post-{post.id}")


@bp.post("/feed/<int:post_id>/like")
@login_required
def like(post_id: int):
    if request.form.get("do") == "unlike":
        return _act(post_id, lambda post, now: feed.unlike(db.session, current_user, post))
    return _act(post_id, lambda post, now: feed.like(db.session, current_user, post, now))


@bp.post("/feed/<int:post_id>/comment")
@login_required
def comment(post_id: int):
    return _act(post_id, lambda post, now: feed.comment(db.session, current_user, post,
                                                        request.form.get("body", ""), now))


@bp.post("/feed/<int:post_id>/delete")
@login_required
def delete(post_id: int):
    return _act(post_id, lambda post, now: feed.delete_own(db.session, current_user, post, now), _("Deleted."))


def _on() -> bool:
    return request.form.get("on", "1") == "1"


@bp.post("/feed/<int:post_id>/pin")
@login_required
def pin(post_id: int):
    return _act(post_id, lambda post, now: feed.pin(db.session, current_user, post, _on()))


@bp.post("/feed/<int:post_id>/highlight")
@login_required
def highlight(post_id: int):
    return _act(post_id, lambda post, now: feed.highlight(db.session, current_user, post, _on()))


@bp.post("/feed/<int:post_id>/hide")
@login_required
def hide(post_id: int):
    return _act(post_id, lambda post, now: feed.hide(db.session, current_user, post, now,
                                                     reason=request.form.get("reason", "")),
                _("Hidden from the cohort."))


@bp.get("/photos/<int:photo_id>.jpg", defaults={"size": "full"})
@bp.get("/photos/<int:photo_id>-<any(thumb, medium):size>.jpg")
def photo(photo_id: int, size: str):
    """Not login_required: a visitor gets the same 404 as a wrong id, not a login page. Every size
    follows the same rule (feed.can_see_photo)."""
    item = db.session.get(Photo, photo_id)
    if not feed.can_see_photo(db.session, current_user, item):
        abort(404)
    if size != "full" and item.thumb_width is None:
        abort(404)  # made later by `academy photos sizes`; until then pages link the full size
    key = photos.sized_key(item.storage_key, size)
    try:
        data = photos.get_storage().open(key)
    except FileNotFoundError:
        abort(404)
    except photos.StorageUnavailable:
        abort(503)
    response = Response(data, mimetype="image/jpeg")
    # Private: no shared cache (a proxy, a CDN) may keep a photo for someone else.
    response.headers["Cache-Control"] = "private, max-age=86400"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(key)  # the file never changes under its key
    return response.make_conditional(request)
