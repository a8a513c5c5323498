import shutil
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.content.loader import load_courses
from app.content.sync import sync_courses
from app.database import utcnow
from app.extensions import db
from app.learning import service
from app.learning.models import Course, Lesson, LessonProgress
from tests.conftest import REPO


@pytest.fixture
def content(tmp_path):
    """A copy of the real content that a test may change."""
    shutil.copytree(REPO / "courses", tmp_path / "courses")
    return tmp_path


def sync_course_files(root, now=None):
    courses, problems = load_courses(root)
    assert not problems, problems
    report = sync_courses(db.session, courses, now or utcnow())
    db.session.commit()
    return report


def stored_state():
    rows = db.session.execute(sa.select(Lesson.id, Lesson.slug, Lesson.updated_at, Lesson.content_hash,
                                        Lesson.is_archived).order_by(Lesson.id)).all()
    return rows + db.session.execute(sa.select(Course.id, Course.updated_at).order_by(Course.id)).all()


def test_sync_twice_changes_nothing(app, content):
    first = sync_course_files(content)
    assert len(first.created) == 4 + 22 and not first.updated and not first.archived
    before = stored_state()
    second = sync_course_files(content, utcnow() + timedelta(hours=1))
    assert not second.changed
    assert stored_state() == before


def test_an_edited_lesson_is_updated_in_place(app, content, trainee):
    sync_course_files(content)
    lesson = service.find_lesson(db.session, "group-building", "daily-rhythm")
    service.mark_lesson_done(db.session, trainee, lesson, utcnow())
    db.session.commit()
    path = content / "courses/group-building/daily-rhythm.en.md"
    path.write_text(path.read_text(encoding="utf-8").replace("## ", "## Edited: ", 1), encoding="utf-8")
    report = sync_course_files(content)
    assert report.updated == ["group-building/daily-rhythm"] and not report.created
    db.session.refresh(lesson)
    assert "Edited: " in lesson.body_html_en
    assert lesson.id in service.completed_lesson_ids(db.session, trainee.id)


def test_a_removed_lesson_is_archived_and_its_progress_kept(app, content, trainee):
    sync_course_files(content)
    lesson = service.find_lesson(db.session, "group-building", "daily-rhythm")
    service.mark_lesson_done(db.session, trainee, lesson, utcnow())
    db.session.commit()
    for suffix in (".md", ".en.md"):
        (content / f"courses/group-building/daily-rhythm{suffix}").unlink()
    report = sync_course_files(content)
    assert report.archived == ["courses/group-building/daily-rhythm.md"]
    db.session.refresh(lesson)
    assert lesson.is_archived
    assert db.session.scalar(sa.select(sa.func.count(LessonProgress.id))) == 1
    item = service.catalogue(db.session, trainee.id).course("group-building")
    assert item.total == 6 and item.done == 0  # archived lessons leave the catalogue

    shutil.copy(REPO / "courses/group-building/daily-rhythm.md", content / "courses/group-building/")
    shutil.copy(REPO / "courses/group-building/daily-rhythm.en.md", content / "courses/group-building/")
    report = sync_course_files(content)
    assert report.updated == ["group-building/daily-rhythm"]  # it comes back, with her progress
    item = service.catalogue(db.session, trainee.id).course("group-building")
    assert item.total == 7 and item.done == 1


def test_a_removed_course_is_archived(app, content):
    sync_course_files(content)
    shutil.rmtree(content / "courses/content-creation")
    report = sync_course_files(content)
    assert "content-creation" in report.archived
    assert [c.course.slug for c in service.catalogue(db.session, None).courses] == [
        "start-here", "group-building", "product-selection"]


def test_sync_command_refuses_while_any_file_has_a_problem(app, content):
    (content / "courses/group-building/daily-rhythm.en.md").unlink()
    result = app.test_cli_runner().invoke(args=["content", "sync", "--root", str(content)])
    assert result.exit_code == 1
    assert "courses/group-building/daily-rhythm.md:1: no English version" in result.output
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == 0


def test_sync_command_reports_what_it_did(app, content):
    runner = app.test_cli_runner()
    assert "26 created" in runner.invoke(args=["content", "sync", "--root", str(content)]).output
    assert "0 created, 0 updated, 0 archived" in runner.invoke(args=["content", "sync", "--root", str(content)]).output
