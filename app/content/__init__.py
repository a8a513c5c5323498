"""Content as files: courses/, quizzes/ (and later milestones/), checked and synced."""
from dataclasses import dataclass, field
from pathlib import Path

from app.content.loader import CourseSpec, Problem, load_courses
from app.content.milestones import MilestoneSpec, ProgrammeSpec, load_milestones
from app.content.prerequisites import check_camp_order, check_requires
from app.content.quiz_folder import load_quizzes
from app.content.quizzes import QuizSpec


@dataclass
class Content:
    courses: list[CourseSpec] = field(default_factory=list)
    quizzes: list[QuizSpec] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    programme: ProgrammeSpec | None = None
    milestones: list[MilestoneSpec] = field(default_factory=list)


def load_content(root: Path) -> Content:
    """Everything under root, with every problem found; never stops at the first."""
    courses, problems = load_courses(root)
    quizzes, quiz_problems = load_quizzes(root, courses)
    problems += check_requires(courses)
    programme, milestones, milestone_problems = load_milestones(root, courses)
    milestone_problems += check_camp_order(courses, programme.camp if programme else None)
    return Content(courses, quizzes, problems + quiz_problems + milestone_problems, programme, milestones)
