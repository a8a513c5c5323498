"""milestones/programme.yml's diagnosis (lessons, order, stages) and the lessons' prerequisites that
the camp plan must follow: each problem reported as path:line."""
import shutil
from pathlib import Path

import pytest

from tests.factories import content_problems, edit_file
from tests.conftest import REPO

PROGRAMME = "milestones/programme.yml"
CAMP = "milestones/camp.yml"


@pytest.fixture
def root(tmp_path) -> Path:
    for folder in ("courses", "milestones"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    return tmp_path


def test_the_real_programme_has_growing_stages_and_circulation_first(content):
    diagnosis = content.programme.diagnosis
    assert diagnosis["order"][0] == "circulation"
    assert diagnosis["lessons"]["circulation"] == "group-building/daily-rhythm"
    traffic = [s["references"]["traffic"] for s in diagnosis["stages"]]
    assert diagnosis["stages"][0]["from_day"] == 1 and 30 <= traffic[0] <= 50 and traffic == sorted(traffic)


@pytest.mark.parametrize("old, new, message", [
    ("traffic: group-building/warm-contacts", "traffic: group-building/nope",
     "diagnosis.lessons.traffic: no lesson 'group-building/nope' (write course/lesson)"),
    ("order: [circulation, monetization, traffic]", "order: [circulation, traffic]",
     "diagnosis.order: each of traffic, circulation, monetization once, the first named first"),
    ("      from_day: 8\n", "      from_day: 1\n",
     "diagnosis.stages[2].from_day: the first stage starts on day 1 and each later one after the last"),
    ("references: {traffic: 50,", "references: {traffic: 0,", "diagnosis.stages[2].references.traffic: must be above 0"),
    ("    - key: growing\n", "    - key: first-orders\n",
     "diagnosis.stages[3].key: lowercase letters, digits and dashes, once each"),
])
def test_each_problem_of_the_diagnosis_is_reported_with_its_line(root, old, new, message):
    line = edit_file(root / PROGRAMME, old, new)
    assert content_problems(root) == [f"{PROGRAMME}:{line}: {message}"]


def test_a_task_before_the_lesson_its_own_lesson_requires_is_refused(root):
    # The first group order requires the daily rhythm: swap their days.
    edit_file(root / CAMP, "  - key: daily-rhythm-first-question\n    day: 6\n",
         "  - key: daily-rhythm-first-question\n    day: 8\n")
    line = edit_file(root / CAMP, "  - key: first-group-order\n", "  - key: first-group-order\n")
    assert content_problems(root) == [
        f"{CAMP}:{line}: task first-group-order (day 7): its lesson group-building/first-group-order requires "
        "group-building/daily-rhythm first, but it comes on day 8"]


def test_a_required_lesson_no_task_teaches_is_refused(root):
    edit_file(root / "courses/group-building/repeat-buyers.md", "  - group-building/first-group-order\n",
         "  - group-building/first-group-order\n  - content-creation/planting-grass\n")
    line = edit_file(root / CAMP, "  - key: buyer-notebook-restock\n", "  - key: buyer-notebook-restock\n")
    assert content_problems(root) == [
        f"{CAMP}:{line}: task buyer-notebook-restock (day 16): its lesson group-building/repeat-buyers requires "
        "content-creation/planting-grass first, but no task of the plan teaches it"]


@pytest.mark.parametrize("requires, message", [
    ("  - group-building/nope\n", "requires: no lesson 'group-building/nope' (write course/lesson)"),
    ("  - group-building/repeat-buyers\n", "requires: a lesson cannot require itself (write course/lesson)"),
])
def test_a_lesson_requiring_an_unknown_lesson_or_itself_is_refused(root, requires, message):
    edit_file(root / "courses/group-building/repeat-buyers.md", "  - group-building/first-group-order\n", requires)
    assert content_problems(root) == [f"courses/group-building/repeat-buyers.md:9: {message}"]


def test_a_cycle_of_prerequisites_is_refused(root):
    edit_file(root / "courses/group-building/daily-rhythm.md", "order: 3\n",
         "order: 3\nrequires:\n  - group-building/repeat-buyers\n")
    found = content_problems(root)
    assert any("requires: group-building/daily-rhythm ends up requiring itself (a cycle)" in p for p in found), found


def test_requires_belongs_in_the_chinese_file_only(root):
    edit_file(root / "courses/group-building/repeat-buyers.en.md", "title: Bring buyers back\n",
         "title: Bring buyers back\nrequires: [group-building/first-group-order]\n")
    assert content_problems(root) == ["courses/group-building/repeat-buyers.en.md:3: requires: unknown field "
                              "(expected: minutes, objectives, order, summary, title)"]
