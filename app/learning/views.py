from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.content import snapshot
from app.database import utcnow
from app.extensions import db
from app.learning import service

bp = Blueprint("learning", __name__)


@bp.get("/courses")
@login_required
def courses():
    return render_template("learning/courses.html", catalogue=service.catalogue(db.session, current_user.id))


@bp.get("/courses/<slug>")
@login_required
def course(slug: str):
    item = service.catalogue(db.session, current_user.id).course(slug)
    if item is None:
        abort(404)
    return render_template("learning/course.html", item=item)


@bp.get("/courses/<slug>/<lesson_slug>")
@login_required
def lesson(slug: str, lesson_slug: str):
    """The content comes from the shared snapshot: her progress is the page's one query (on this lesson; on a
    course's last lesson, through the catalogue, to lead on to what comes next: no dead end)."""
    lesson = snapshot.current(db.session).lesson(slug, lesson_slug)
    if lesson is None:
        abort(404)
    previous, following = service.neighbours(lesson.course.lessons, lesson)
    if following:
        is_done, after = service.is_lesson_done(db.session, current_user.id, lesson.id), None
    else:
        catalogue = service.catalogue(db.session, current_user.id)
        item = catalogue.course(slug)
        is_done = next(i.is_done for i in item.lessons if i.lesson.id == lesson.id)
        after = catalogue.step_after(item)
    return render_template("learning/lesson.html", course=lesson.course, lesson=lesson, is_done=is_done,
                           previous=previous, following=following, after=after, step_url=step_url)


def step_url(step) -> str:
    """The page of a catalogue step: a lesson, or a quiz (its status)."""
    if hasattr(step, "quiz"):
        return url_for("quizzes.quiz", slug=step.quiz.slug)
    return url_for("learning.lesson", slug=step.course.slug, lesson_slug=step.slug)


@bp.post("/courses/<slug>/<lesson_slug>/done")
@login_required
def mark_done(slug: str, lesson_slug: str):
    lesson = service.find_lesson(db.session, slug, lesson_slug) or abort(404)
    service.mark_lesson_done(db.session, current_user, lesson, utcnow())
    db.session.commit()
    catalogue = service.catalogue(db.session, current_user.id)
    item = catalogue.course(slug)
    following = service.neighbours([i.lesson for i in item.lessons], lesson)[1]
    flash(_("Lesson done. %(done)d of %(total)d lessons in this course.", done=item.lessons_done,
            total=item.lessons_total), "success")
    if following:
        return redirect(url_for("learning.lesson", slug=slug, lesson_slug=following.slug))
    after = catalogue.step_after(item)  # no dead end: the course's quiz, or the next course
    return redirect(step_url(after) if after else url_for("learning.course", slug=slug))


@bp.post("/courses/<slug>/<lesson_slug>/undo")
@login_required
def mark_not_done(slug: str, lesson_slug: str):
    lesson = service.find_lesson(db.session, slug, lesson_slug) or abort(404)
    service.mark_lesson_not_done(db.session, current_user, lesson, utcnow())
    db.session.commit()
    return redirect(url_for("learning.lesson", slug=slug, lesson_slug=lesson_slug))
