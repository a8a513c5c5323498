"""milestones/camp.yml: every malformed case reported as path:line, the real file valid, sync idempotent."""
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.camp.models import CampTask
from app.checkins.models import Programme
from app.content import load_content
from app.content.sync import sync_courses, sync_milestones
from app.database import utcnow
from app.extensions import db
from tests.factories import content_problems, edit_file
from tests.conftest import REPO

CAMP = "milestones/camp.yml"

# A small valid plan; the line numbers below are the ones the assertions refer to.
VALID = """\
unlock_at: "08:00"
makeup: {per_week: 1, within_hours: 48}
tasks:
  - key: invite
    day: 1
    title: {zh: 邀请熟人, en: Invite people you know}
    body:
      zh: 列出30个人。
      en: List 30 people.
    lesson: group-building/warm-contacts
    proof: [text, number]
    number_label: {zh: 群人数, en: Members}
  - key: welcome
    day: 2
    title: {zh: 欢迎语, en: Welcome}
    body: {zh: 发欢迎语。, en: Post a welcome.}
    lesson: group-building/welcome-and-rules
    proof: [photo]
"""
#  1 unlock_at  2 makeup  3 tasks  4 - key: invite  5 day  6 title  7 body  8 zh  9 en  10 lesson  11 proof
#  12 number_label  13 - key: welcome  14 day  15 title  16 body  17 lesson  18 proof


@pytest.fixture
def root(tmp_path) -> Path:
    """A copy of the real courses and milestones, with the small camp plan above."""
    shutil.copytree(REPO / "courses", tmp_path / "courses")
    shutil.copytree(REPO / "milestones", tmp_path / "milestones")
    (tmp_path / CAMP).write_text(VALID, encoding="utf-8")
    return tmp_path


def test_the_small_plan_is_valid_and_attached_to_the_programme(root):
    content = load_content(root)
    assert content.problems == []
    camp = content.programme.camp
    assert camp.settings == {"unlock_at": "08:00", "makeup": {"per_week": 1, "within_hours": 48}}
    assert [(t.key, t.day, t.proof, t.lesson) for t in camp.tasks] == [
        ("invite", 1, ["text", "number"], "group-building/warm-contacts"),
        ("welcome", 2, ["photo"], "group-building/welcome-and-rules")]
    assert camp.tasks[0].title == {"zh": "邀请熟人", "en": "Invite people you know"}
    assert camp.tasks[0].body_html["en"] == "<p>List 30 people.</p>"
    assert camp.tasks[0].number_label == {"zh": "群人数", "en": "Members"}


@pytest.mark.parametrize("old, new, expected", [
    ('unlock_at: "08:00"', 'unlock_at: "8:00"', '1: unlock_at: a time as "HH:MM" in quotes, e.g. "08:00"'),
    ('unlock_at: "08:00"', "unlock_at: 20:00", '1: unlock_at: a time as "HH:MM" in quotes, e.g. "08:00"'),
    ('unlock_at: "08:00"', 'unlock_at: "24:00"', '1: unlock_at: a time as "HH:MM" in quotes, e.g. "08:00"'),
    ('unlock_at: "08:00"\n', "", "1: unlock_at: missing"),
    ('unlock_at: "08:00"', 'unlock_at: "08:00"\ntimezone: Asia/Shanghai',
     "2: timezone: unknown field (expected: makeup, tasks, unlock_at)"),
    ("per_week: 1", "per_week: one", "2: makeup.per_week: must be an integer from 0 to 7"),
    ("within_hours: 48", "within_hours: 48, grace: 2",
     "2: makeup.grace: unknown field (expected: per_week, within_hours)"),
    ("makeup: {per_week: 1, within_hours: 48}", "makeup: 1",
     "2: makeup: expected per_week: and within_hours: under it"),
    ("    day: 1\n", "    day: 0\n", "5: task invite: day: must be an integer from 1 to 365"),
    ("    day: 2\n", "    day: 366\n", "14: task welcome: day: must be an integer from 1 to 365"),
    ("    day: 2\n", "    day: 1\n", "14: task welcome: day: 1 already has the task invite (one task a day)"),
    ("key: welcome", "key: invite", "13: task invite: key: also used by the task on line 4"),
    ("key: welcome", "key: Welcome!", "13: task Welcome!: key: lowercase letters, digits and dashes, "
                                      "at most 80 characters"),
    ("    lesson: group-building/welcome-and-rules", "    lesson: group-building/no-such-lesson",
     "17: task welcome: lesson: no lesson 'group-building/no-such-lesson' (write course/lesson)"),
    ("proof: [photo]", "proof: [video]", "18: task welcome: proof: a list of one or more of text, photo, number, "
                                         "e.g. [text, photo]"),
    ("proof: [photo]", "proof: []", "18: task welcome: proof: a list of one or more of text, photo, number, "
                                    "e.g. [text, photo]"),
    ("proof: [photo]", "proof: [photo, photo]", "18: task welcome: proof: a list of one or more of text, photo, "
                                                "number, e.g. [text, photo]"),
    ("    number_label: {zh: 群人数, en: Members}\n", "",
     "11: task invite: number_label: missing (proof has number: say what to count)"),
    ("proof: [photo]", "proof: [photo]\n    number_label: {zh: 人数, en: Count}",
     "19: task welcome: number_label: only for a task whose proof has number"),
    ("title: {zh: 欢迎语, en: Welcome}", "title: {zh: 欢迎语}", '15: task welcome: title: missing "en"'),
    ("title: {zh: 欢迎语, en: Welcome}", "title: {zh: 欢迎语, en: Welcome, fr: Bienvenue}",
     '15: task welcome: title: unknown language "fr" (expected zh and en)'),
    ("      en: List 30 people.", "      en: '  '", "9: task invite: body.en: must be non-empty text"),
    ("title: {zh: 欢迎语, en: Welcome}", "title: Welcome", "15: task welcome: title: expected zh: and en: under it"),
    ("    proof: [photo]", "    proof: [photo]\n    points: 3",
     "19: task welcome: points: unknown field (expected: body, day, key, lesson, number_label, proof, title)"),
    ("    body: {zh: 发欢迎语。, en: Post a welcome.}\n", "", "13: task welcome: body: missing"),
    ("    proof: [photo]\n", "    proof: [photo]\n  - just a line\n",
     "19: tasks[3]: expected a task (key:, day:, title: ...)"),
    ("    day: 1\n", "    day: [1\n", "6: YAML: expected ',' or ']', but got ':'"),  # found on the next line
])
def test_each_problem_is_reported_with_the_file_and_line(root, old, new, expected):
    edit_file(root / CAMP, old, new)
    assert content_problems(root) == [f"{CAMP}:{expected}"]


def test_tasks_must_be_a_list(root):
    (root / CAMP).write_text('unlock_at: "08:00"\nmakeup: {per_week: 1, within_hours: 48}\ntasks: every day\n',
                             encoding="utf-8")
    assert content_problems(root) == [f"{CAMP}:3: tasks: expected a list of tasks (- key: ..., day: ...)"]


def test_every_problem_of_the_file_is_reported_at_once(root):
    edit_file(root / CAMP, 'unlock_at: "08:00"', 'unlock_at: "8am"')
    edit_file(root / CAMP, "    day: 2\n", "    day: 1\n")
    edit_file(root / CAMP, "proof: [photo]", "proof: [sound]")
    assert content_problems(root) == [
        f'{CAMP}:1: unlock_at: a time as "HH:MM" in quotes, e.g. "08:00"',
        f"{CAMP}:18: task welcome: proof: a list of one or more of text, photo, number, e.g. [text, photo]"]


def test_a_title_too_long_for_its_column_is_refused(root):
    edit_file(root / CAMP, "en: Welcome}", f"en: {'W' * 201}}}")
    assert content_problems(root) == [f"{CAMP}:15: task welcome: title.en: one line of at most 200 characters"]


# --- the real plan ------------------------------------------------------------------------------------

def test_the_real_plan_is_valid_and_covers_the_first_week_and_the_month(content):
    camp = content.programme.camp
    days = [t.day for t in camp.tasks]
    assert days[:7] == [1, 2, 3, 4, 5, 6, 7] and {10, 14, 21, 30} <= set(days)
    assert camp.settings == {"unlock_at": "08:00", "makeup": {"per_week": 1, "within_hours": 48}}
    lessons = {f"{c.slug}/{l.slug}" for c in content.courses for l in c.lessons}
    for task in camp.tasks:
        assert task.lesson in lessons and task.proof and task.title["zh"] and task.title["en"]
        assert ("number" in task.proof) == (task.number_label is not None), task.key


def test_academy_content_check_passes_on_the_real_files():
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"})
    result = app.test_cli_runner().invoke(args=["content", "check", "--root", str(REPO)])
    assert result.exit_code == 0, result.output
    assert "ok:" in result.output


def test_academy_content_check_names_a_broken_camp_file(root):
    edit_file(root / CAMP, "proof: [photo]", "proof: [video]")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"})
    result = app.test_cli_runner().invoke(args=["content", "check", "--root", str(root)])
    assert result.exit_code == 1
    assert f"{CAMP}:18: task welcome: proof:" in result.output


# --- sync --------------------------------------------------------------------------------------------

def sync_content_files(root: Path, now=None):
    content = load_content(root)
    assert not content.problems, content.problems
    report = sync_courses(db.session, content.courses, now or utcnow())
    sync_milestones(db.session, content.programme, content.milestones, now or utcnow(), report)
    db.session.commit()
    return report


def tasks() -> dict[str, CampTask]:
    return {t.key: t for t in db.session.scalars(sa.select(CampTask))}


def test_sync_stores_the_tasks_and_the_rules_and_twice_changes_nothing(app, root):
    first = sync_content_files(root)
    assert {"camp task invite", "camp task welcome"} <= set(first.created)
    stored = tasks()
    assert (stored["invite"].day, stored["invite"].proof, stored["invite"].lesson_key) == (
        1, ["text", "number"], "group-building/warm-contacts")
    assert stored["invite"].number_label_en == "Members" and stored["welcome"].number_label_zh == ""
    assert stored["welcome"].body_html_zh == "<p>发欢迎语。</p>"
    programme = db.session.scalar(sa.select(Programme))
    assert programme.camp == {"unlock_at": "08:00", "makeup": {"per_week": 1, "within_hours": 48}}
    before = [(t.id, t.updated_at, t.content_hash) for t in tasks().values()]
    second = sync_content_files(root, utcnow() + timedelta(hours=1))
    assert not second.changed, second
    assert [(t.id, t.updated_at, t.content_hash) for t in tasks().values()] == before


def test_an_edited_task_is_updated_a_removed_one_archived_and_it_comes_back(app, root):
    sync_content_files(root)
    invite_id = tasks()["invite"].id
    edit_file(root / CAMP, "en: Invite people you know", "en: Invite 30 people you know")
    edit_file(root / CAMP, "  - key: welcome\n", "  - key: welcome-later\n")
    report = sync_content_files(root)
    assert report.updated == ["camp task invite"]
    assert report.created == ["camp task welcome-later"] and report.archived == ["camp task welcome"]
    stored = tasks()
    assert stored["invite"].id == invite_id and stored["invite"].title_en == "Invite 30 people you know"
    assert stored["welcome"].is_archived and not stored["welcome-later"].is_archived
    edit_file(root / CAMP, "  - key: welcome-later\n", "  - key: welcome\n")
    report = sync_content_files(root)
    assert "camp task welcome" in report.updated and not tasks()["welcome"].is_archived


def test_changing_the_unlock_time_updates_the_programme(app, root):
    sync_content_files(root)
    edit_file(root / CAMP, 'unlock_at: "08:00"', 'unlock_at: "07:30"')
    assert sync_content_files(root).updated == ["programme"]
    assert db.session.scalar(sa.select(Programme)).camp["unlock_at"] == "07:30"


def test_without_camp_yml_every_task_is_archived(app, root):
    sync_content_files(root)
    (root / CAMP).unlink()
    report = sync_content_files(root)
    assert sorted(report.archived) == ["camp task invite", "camp task welcome"]
    assert db.session.scalar(sa.select(Programme)).camp == {}
