"""`academy content check`: every malformed content file is reported as `path:line: message`.

Pure unit tests: each one writes a small, valid content tree in tmp_path, breaks exactly
one thing, and asserts the exact path and line of the single problem reported.
"""
from pathlib import Path

import pytest

from app import create_app
from app.content.loader import load_courses
from app.content.render import render_markdown
from tests.factories import assert_one_problem, edit_file

REPO = Path(__file__).resolve().parent.parent

COURSE_YML = """\
order: 1
title:
  zh: 基础
  en: Basics
summary:
  zh: 基础课的摘要。
  en: What the basics are for.
"""

# Line numbers below are the ones the assertions refer to.
ZH = """\
---
title: 第一步
order: 1
minutes: 5
summary: 第一课的摘要。
objectives:
  - 做一件事
---
## 为什么重要

正文。
"""
#   1 ---  2 title  3 order  4 minutes  5 summary  6 objectives  7 item  8 ---  9 ## ...  11 正文。

EN = """\
---
title: First steps
summary: What the first lesson is about.
objectives:
  - Do one thing
---
## Why it matters

Body.
"""
#   1 ---  2 title  3 summary  4 objectives  5 item  6 ---  7 ## ...  9 Body.

C = "courses/basics"
ZH_PATH, EN_PATH, YML_PATH = f"{C}/first-steps.md", f"{C}/first-steps.en.md", f"{C}/course.yml"


def write_course(root: Path, slug: str = "basics", order: int = 1, lessons=("first-steps",)) -> Path:
    """A valid course: course.yml plus a Chinese and an English file per lesson."""
    folder = root / "courses" / slug
    folder.mkdir(parents=True)
    (folder / "course.yml").write_text(COURSE_YML.replace("order: 1", f"order: {order}"), encoding="utf-8")
    for i, lesson in enumerate(lessons, 1):
        (folder / f"{lesson}.md").write_text(ZH.replace("order: 1", f"order: {i}"), encoding="utf-8")
        (folder / f"{lesson}.en.md").write_text(EN, encoding="utf-8")
    return folder


def course_problems(root: Path) -> list[str]:
    return [str(p) for p in load_courses(root)[1]]


def edited(name: str, old: str, new: str):
    return lambda folder: edit_file(folder / name, old, new)


def test_valid_course_has_no_problems(tmp_path):
    write_course(tmp_path, lessons=("first-steps", "second-step"))
    courses, found = load_courses(tmp_path)
    assert found == []
    [course] = courses
    assert (course.slug, course.title["en"]) == ("basics", "Basics")
    assert [(lesson.slug, lesson.order) for lesson in course.lessons] == [("first-steps", 1), ("second-step", 2)]
    assert "<h2>" in course.lessons[0].body_html["zh"]


MD, EN_MD, YML = "first-steps.md", "first-steps.en.md", "course.yml"
OBJECTIVES = "objectives:\n  - 做一件事\n"
OBJ_ERROR = "objectives: must be a list of 1 to 4 non-empty lines"

BROKEN = [
    # front matter
    ("yaml-error-front-matter", edited(MD, "minutes: 5", "minutes: 5: 6"), f"{ZH_PATH}:4: YAML: mapping values are not allowed"),
    ("yaml-error-english", edited(EN_MD, "summary: What", "summary: [What"), f"{EN_PATH}:4: YAML: "),
    ("front-matter-missing", lambda c: (c / MD).write_text("## 为什么重要\n\n正文。\n", encoding="utf-8"),
     f"{ZH_PATH}:1: front matter missing"),
    ("front-matter-unclosed", edited(MD, "---\n## ", "## "), f"{ZH_PATH}:1: front matter not closed"),
    ("front-matter-empty", lambda c: (c / MD).write_text("---\n---\n## 标题\n\n正文。\n", encoding="utf-8"),
     f"{ZH_PATH}:2: empty: fields expected"),
    ("front-matter-list", lambda c: (c / MD).write_text("---\n- a\n---\n## 标题\n", encoding="utf-8"),
     f"{ZH_PATH}:2: expected a mapping"),
    # fields
    ("missing-title", edited(MD, "title: 第一步\n", ""), f"{ZH_PATH}:2: title: missing"),
    ("missing-order", edited(MD, "order: 1\n", ""), f"{ZH_PATH}:2: order: missing"),
    ("missing-minutes", edited(MD, "minutes: 5\n", ""), f"{ZH_PATH}:2: minutes: missing"),
    ("missing-summary", edited(MD, "summary: 第一课的摘要。\n", ""), f"{ZH_PATH}:2: summary: missing"),
    ("missing-objectives", edited(MD, OBJECTIVES, ""), f"{ZH_PATH}:2: objectives: missing"),
    ("missing-english-title", edited(EN_MD, "title: First steps\n", ""), f"{EN_PATH}:2: title: missing"),
    ("minutes-text", edited(MD, "minutes: 5", "minutes: ten"), f"{ZH_PATH}:4: minutes: must be an integer from 1 to 60"),
    ("minutes-zero", edited(MD, "minutes: 5", "minutes: 0"), f"{ZH_PATH}:4: minutes: must be an integer from 1 to 60"),
    ("minutes-too-many", edited(MD, "minutes: 5", "minutes: 61"), f"{ZH_PATH}:4: minutes: must be an integer"),
    ("minutes-float", edited(MD, "minutes: 5", "minutes: 5.5"), f"{ZH_PATH}:4: minutes: must be an integer"),
    ("order-text", edited(MD, "order: 1", "order: first"), f"{ZH_PATH}:3: order: must be an integer"),
    ("order-quoted", edited(MD, "order: 1", 'order: "1"'), f"{ZH_PATH}:3: order: must be an integer"),
    ("title-number", edited(MD, "title: 第一步", "title: 123"), f"{ZH_PATH}:2: title: must be non-empty text"),
    ("summary-blank", edited(MD, "summary: 第一课的摘要。", 'summary: " "'), f"{ZH_PATH}:5: summary: must be non-empty text"),
    ("objectives-not-list", edited(MD, OBJECTIVES, "objectives: 做一件事\n"), f"{ZH_PATH}:6: {OBJ_ERROR}"),
    ("objectives-empty", edited(MD, OBJECTIVES, "objectives: []\n"), f"{ZH_PATH}:6: {OBJ_ERROR}"),
    ("objectives-five", edited(MD, OBJECTIVES, "objectives:\n" + "  - 做一件事\n" * 5), f"{ZH_PATH}:6: {OBJ_ERROR}"),
    ("objectives-blank-item", edited(MD, OBJECTIVES, 'objectives:\n  - ""\n'), f"{ZH_PATH}:6: {OBJ_ERROR}"),
    ("unknown-field", edited(MD, "minutes: 5\n", "minutes: 5\nlevel: 2\n"), f"{ZH_PATH}:5: level: unknown field"),
    ("duplicate-key", edited(MD, "minutes: 5\n", "minutes: 5\nminutes: 6\n"), f"{ZH_PATH}:5: minutes: given twice"),
    ("order-in-english", edited(EN_MD, "summary:", "order: 1\nsummary:"),
     f"{EN_PATH}:3: order: belongs in the Chinese file (first-steps.md)"),
    ("minutes-in-english", edited(EN_MD, "summary:", "minutes: 5\nsummary:"), f"{EN_PATH}:3: minutes: belongs in the Chinese file"),
    ("objectives-count-differs", edited(EN_MD, "  - Do one thing\n", "  - Do one thing\n  - And another\n"),
     f"{EN_PATH}:4: objectives: 2 in English but 1 in Chinese"),
    # YAML that used to crash the loader instead of being reported
    ("control-character", edited(MD, "summary: 第一课", "summary: 第一\x08课"), f"{ZH_PATH}:5: YAML: "),
    ("bad-int-tag", edited(MD, "minutes: 5", "minutes: !!int five"), f"{ZH_PATH}:4: YAML: "),
    # body
    ("empty-body", edited(MD, "## 为什么重要\n\n正文。\n", ""), f"{ZH_PATH}:9: body is empty"),
    ("empty-english-body", edited(EN_MD, "## Why it matters\n\nBody.\n", "\n \n"), f"{EN_PATH}:7: body is empty"),
    ("level-1-heading", edited(MD, "正文。\n", "正文。\n\n# 大标题\n"), f"{ZH_PATH}:13: use ## for headings"),
    ("level-1-heading-english", edited(EN_MD, "## Why", "# Why"), f"{EN_PATH}:7: use ## for headings"),
    # files in the course folder
    ("missing-english", lambda c: (c / EN_MD).unlink(), f"{ZH_PATH}:1: no English version (first-steps.en.md)"),
    ("english-without-chinese", lambda c: (c / "extra.en.md").write_text(EN, encoding="utf-8"),
     f"{C}/extra.en.md:1: English version of a lesson with no Chinese file (extra.md)"),
    ("unexpected-file", lambda c: (c / "notes.txt").write_text("todo\n", encoding="utf-8"), f"{C}/notes.txt:1: unexpected file"),
    ("non-utf8", lambda c: (c / MD).write_bytes(ZH.encode("gbk")), f"{ZH_PATH}:1: not UTF-8 text"),
    # course.yml
    ("course-yml-missing", lambda c: (c / YML).unlink(), f"{YML_PATH}:1: missing: every course folder needs a course.yml"),
    ("course-yaml-error", edited(YML, "en: Basics", "en: Basics: more"), f"{YML_PATH}:4: YAML: mapping values are not allowed"),
    ("course-title-missing-en", edited(YML, "  en: Basics\n", ""), f'{YML_PATH}:3: title: missing "en"'),
    ("course-title-not-mapping", edited(YML, "title:\n  zh: 基础\n  en: Basics\n", "title: Basics\n"),
     f"{YML_PATH}:2: title: expected zh: and en: under it"),
    ("course-unknown-language", edited(YML, "  en: Basics\n", "  en: Basics\n  fr: Bases\n"), f'{YML_PATH}:5: title: unknown language "fr"'),
    ("course-missing-summary", edited(YML, "summary:\n  zh: 基础课的摘要。\n  en: What the basics are for.\n", ""),
     f"{YML_PATH}:1: summary: missing"),
    ("course-order-text", edited(YML, "order: 1", "order: one"), f"{YML_PATH}:1: order: must be an integer from 0 to 999"),
    ("course-unknown-field", edited(YML, "order: 1\n", "order: 1\ncolor: red\n"), f"{YML_PATH}:2: color: unknown field"),
    ("course-duplicate-key", edited(YML, "order: 1\n", "order: 1\norder: 2\n"), f"{YML_PATH}:2: order: given twice"),
]


@pytest.mark.parametrize("breakit, expected", [pytest.param(b, e, id=i) for i, b, e in BROKEN])
def test_each_problem_is_reported_with_path_and_line(tmp_path, breakit, expected):
    breakit(write_course(tmp_path))
    assert_one_problem(course_problems(tmp_path), expected)


def test_heading_inside_code_fence_is_fine(tmp_path):
    folder = write_course(tmp_path)
    edit_file(folder / MD, "正文。\n", "正文。\n\n```bash\n# a shell comment\n```\n\n~~~\n# also fine\n~~~\n")
    assert course_problems(tmp_path) == []


def test_duplicate_lesson_order(tmp_path):
    folder = write_course(tmp_path, lessons=("first-steps", "second-step"))
    edit_file(folder / "second-step.md", "order: 2", "order: 1")
    assert_one_problem(course_problems(tmp_path), f"{C}/second-step.md:3: order: 1 is also the order of first-steps.md")


def test_duplicate_course_order_points_at_the_order_line(tmp_path):
    write_course(tmp_path, slug="alpha", order=3)
    beta = write_course(tmp_path, slug="beta", order=3)
    edit_file(beta / YML, "order: 3\n", "")
    (beta / YML).write_text((beta / YML).read_text(encoding="utf-8") + "order: 3\n", encoding="utf-8")
    assert_one_problem(course_problems(tmp_path), "courses/beta/course.yml:7: order: 3 is also the order of alpha")


def test_bad_folder_slug(tmp_path):
    write_course(tmp_path, slug="Bad_Course")
    assert_one_problem(course_problems(tmp_path), 'courses/Bad_Course:1: folder name "Bad_Course"')


def test_bad_file_slug(tmp_path):
    write_course(tmp_path, lessons=("First_Steps",))
    assert_one_problem(course_problems(tmp_path), f'{C}/First_Steps.md:1: file name "First_Steps"')


def test_course_with_no_lessons(tmp_path):
    write_course(tmp_path, lessons=())
    assert_one_problem(course_problems(tmp_path), f"{YML_PATH}:1: the course has no lessons")


def test_courses_folder_missing(tmp_path):
    assert_one_problem(course_problems(tmp_path), "courses:1: folder missing")


def test_every_problem_in_every_file_is_reported(tmp_path):
    basics = write_course(tmp_path, lessons=("first-steps", "second-step"))
    edit_file(basics / MD, "minutes: 5", "minutes: ten")
    edit_file(basics / MD, "title: 第一步\n", "title: 第一步\nlevel: 2\n")  # shifts minutes to line 5
    edit_file(basics / MD, "正文。\n", "正文。\n\n# 大标题\n")
    edit_file(basics / EN_MD, "summary:", "order: 1\nsummary:")
    (basics / "second-step.en.md").unlink()
    edit_file(basics / YML, "  en: Basics\n", "")
    extra = write_course(tmp_path, slug="extra", order=2)
    edit_file(extra / MD, "summary: 第一课的摘要。", "summary: [unclosed")
    (extra / "stray.en.md").write_text(EN, encoding="utf-8")
    (tmp_path / "courses" / "empty").mkdir()

    assert sorted(p.split(": ")[0] for p in course_problems(tmp_path)) == sorted([
        f"{ZH_PATH}:3",   # level: unknown field
        f"{ZH_PATH}:5",   # minutes: ten
        f"{ZH_PATH}:14",  # "# " heading
        f"{EN_PATH}:3",   # order in the English file
        f"{C}/second-step.md:1",  # no English version
        f"{YML_PATH}:3",  # title: missing "en"
        "courses/empty/course.yml:1",  # missing course.yml
        "courses/extra/first-steps.md:6",  # YAML error (unclosed [ is found on the next line)
        "courses/extra/stray.en.md:1",  # English without Chinese
    ])


def test_repository_content_is_valid():
    courses, found = load_courses(REPO)
    assert found == []
    by_slug = {course.slug: course for course in courses}
    assert len(courses) >= 4
    assert {"start-here", "group-building", "product-selection", "content-creation"} <= set(by_slug)
    for slug in ("group-building", "product-selection", "content-creation"):
        assert len(by_slug[slug].lessons) >= 4, slug


# --- the command ---------------------------------------------------------------------------

def check_command(root: Path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"})
    return app.test_cli_runner().invoke(args=["content", "check", "--root", str(root)])


def test_command_fails_and_lists_every_problem(tmp_path):
    folder = write_course(tmp_path)
    edit_file(folder / MD, "minutes: 5", "minutes: ten")
    (folder / EN_MD).unlink()
    result = check_command(tmp_path)
    assert result.exit_code == 1
    assert f"{ZH_PATH}:4: minutes: must be an integer from 1 to 60" in result.output
    assert f"{ZH_PATH}:1: no English version (first-steps.en.md)" in result.output
    assert "2 problem(s)" in result.output


def test_command_passes_on_valid_content(tmp_path):
    write_course(tmp_path, lessons=("first-steps", "second-step"))
    result = check_command(tmp_path)
    assert result.exit_code == 0, result.output
    assert "ok: 1 courses, 2 lessons" in result.output


# --- rendering -----------------------------------------------------------------------------

def test_render_strips_raw_html():
    html = render_markdown("Hello <script>alert(1)</script> there\n\n<div onclick=\"x()\">box</div>\n")
    assert "<script" not in html and "onclick" not in html
    assert "Hello" in html


def test_render_checklist():
    html = render_markdown("- [ ] 发第一条朋友圈\n- [x] 建群\n")
    assert "<li>☐ 发第一条朋友圈</li>" in html
    assert "<li>☑ 建群</li>" in html


def test_render_wraps_tables():
    html = render_markdown("| 商品 | 利润 |\n|---|---|\n| 纸巾 | 3 |\n")
    assert html.startswith('<div class="table-responsive"><table class="table table-sm">')
    assert html.rstrip().endswith("</table></div>")
