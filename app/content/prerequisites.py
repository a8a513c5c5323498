"""Lessons that must come first: a lesson's `requires:` (Chinese front matter), and the camp plan
that must not schedule a task before the lessons its own lesson requires."""
from app.content.camp import CampSpec
from app.content.loader import CourseSpec, Problem


def _lessons(courses: list[CourseSpec]) -> dict:
    return {f"{c.slug}/{lesson.slug}": lesson for c in courses for lesson in c.lessons}


def check_requires(courses: list[CourseSpec]) -> list[Problem]:
    """Each `requires:` is a list of course/lesson naming other lessons, with no cycle."""
    problems, lessons = [], _lessons(courses)
    for key, lesson in lessons.items():
        wanted = lesson.requires
        if wanted is None:
            continue
        if not isinstance(wanted, list) or not all(isinstance(w, str) for w in wanted):
            problems.append(Problem(lesson.source_path, lesson.requires_line,
                                    "requires: a list of lessons as course/lesson"))
            lesson.requires = None
            continue
        for name in wanted:
            if name == key or name not in lessons:
                problems.append(Problem(lesson.source_path, lesson.requires_line,
                                        f"requires: {'a lesson cannot require itself' if name == key else f'no lesson {name!r}'} "
                                        "(write course/lesson)"))
        lesson.requires = [w for w in wanted if w in lessons and w != key]
    for key, lesson in lessons.items():
        if _reaches(lessons, key, key, set()):
            problems.append(Problem(lesson.source_path, lesson.requires_line,
                                    f"requires: {key} ends up requiring itself (a cycle)"))
    return problems


def _reaches(lessons: dict, start: str, target: str, seen: set) -> bool:
    for name in lessons[start].requires or []:
        if name == target or (name not in seen and not seen.add(name) and _reaches(lessons, name, target, seen)):
            return True
    return False


def check_camp_order(courses: list[CourseSpec], camp: CampSpec | None) -> list[Problem]:
    """Each task's lesson's prerequisites are taught by a task on an earlier day."""
    if camp is None:
        return []
    lessons, problems = _lessons(courses), []
    first_day: dict[str, int] = {}
    for task in camp.tasks:
        first_day.setdefault(task.lesson, task.day)
    for task in camp.tasks:
        lesson = lessons.get(task.lesson)
        for name in (lesson.requires or []) if lesson else []:
            day = first_day.get(name)
            if day is None or day >= task.day:
                when = f"it comes on day {day}" if day else "no task of the plan teaches it"
                problems.append(Problem(camp.source_path, task.line,
                                        f"task {task.key} (day {task.day}): its lesson {task.lesson} requires "
                                        f"{name} first, but {when}"))
    return problems
