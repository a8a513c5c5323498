"""`academy demo --trainees N`: a second demo cohort with N synthetic trainees, for the cohort numbers.

The trainees' lessons, quiz attempts and check-ins follow plausible spreads: some ahead (¥100 by
day 7, ¥1,000 by day 30), many in the middle, some behind, some quiet (they stopped checking in
after a few days), a few who never checked in; a few fail a quiz twice, some essays wait for a
mentor. Everything is drawn from random.Random seeded by the trainee's number, so trainee 17 is
the same whatever N: running again with the same N changes nothing, and a larger N only adds the
trainees missing. Rows are inserted in bulk, and the password hash is computed once for all.
"""
import random
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from app.accounts.models import User
from app.core.access import Role
from app.checkins.models import Checkin
from app.cohorts.models import Cohort
from app.demo.seed import DEMO_PASSWORD, seed_demo
from app.learning.models import Course, Lesson, LessonProgress
from app.quizzes import grading, versions
from app.quizzes import service as quiz_service
from app.quizzes.models import EssayReview, Quiz, QuizAttempt, intern_questions
from app.core.calendar import default_timezone, zone

SCALE_CODE = "DEMOSCALE"
SCALE_DAYS_AGO = 34          # the cohort is on day 35 the day it is first seeded
MENTOR_EMAIL = "mentor@demo.local"
MOBILE_PREFIX = "199"
SEED = 2026
BATCH = 2000                 # rows per INSERT statement batch

# In each block of 20 trainees: 3 ahead, 9 in the middle, 4 behind, 3 quiet, 1 who never checks in.
AHEAD, MIDDLE, BEHIND, QUIET, NEVER = "ahead", "middle", "behind", "quiet", "never"
BLOCK = [AHEAD] * 3 + [MIDDLE] * 9 + [BEHIND] * 4 + [QUIET] * 3 + [NEVER]
CHECKIN_DAYS = (1, 3, 5, 7, 10, 14, 21, 30)
CHECKIN_ODDS = {AHEAD: 0.8, MIDDLE: 0.5, BEHIND: 0.35, QUIET: 0.6, NEVER: 0.0}
LESSON_SHARE = {AHEAD: (0.85, 1.0), MIDDLE: (0.4, 0.9), BEHIND: (0.1, 0.5), QUIET: (0.0, 0.3), NEVER: (0.0, 0.07)}
# Quiz outcome odds: passed first time, failed then passed, failed twice, started and left open.
QUIZ_ODDS = {AHEAD: (0.8, 0.18, 0.02, 0.0), MIDDLE: (0.55, 0.33, 0.07, 0.05), BEHIND: (0.35, 0.35, 0.2, 0.1),
             QUIET: (0.5, 0.1, 0.1, 0.3), NEVER: (0.0, 0.0, 0.0, 1.0)}
AWAITING_ODDS = {AHEAD: 0.3, MIDDLE: 0.5, BEHIND: 0.6, QUIET: 0.8, NEVER: 1.0}
NOTES = ["", "", "", "", "", "", "今天群里很热闹", "发了三条朋友圈", "老客户回购了", "有点忙，没怎么发", "试了新品，反馈不错"]
ESSAYS = ["欢迎新朋友进群！我是小美，每天分享实用好物。你最近在找什么？",
          "上周我给孩子买了这款保温杯，一整天都是热的。你们家有没有类似的烦恼？",
          "大家好，群规很简单：友善交流，不发广告。有问题随时问我～"]


def scale_cohort_name(count: int) -> str:
    return f"Demo cohort ({count} trainees)"


def trainee_mobile(number: int) -> str:
    return f"{MOBILE_PREFIX}{number:08d}"


# --- what the content offers, read once ---------------------------------------------------------------

@dataclass
class QuizPlan:
    quiz: Quiz
    lesson_ids: list[int]                    # the lessons of its course, in order
    variants: list[list[dict]]               # question sets as drawn for an attempt
    has_essays: bool = False
    layouts: list[list] = field(default_factory=list)  # each variant as an attempt stores it
    # per auto-graded question: (right answer, its result, wrong answer, its result)
    sheet: dict[str, tuple] = field(default_factory=dict)


@dataclass
class Content:
    lessons: list[int] = field(default_factory=list)     # active lesson ids, in catalogue order
    quizzes: list[QuizPlan] = field(default_factory=list)


def _content(session: Session, seed: int) -> Content:
    rows = session.execute(sa.select(Lesson.id, Lesson.course_id).join(Lesson.course)
                           .where(Course.is_archived.is_(False), Lesson.is_archived.is_(False))
                           .order_by(Course.position, Course.id, Lesson.position, Lesson.id)).all()
    by_course: dict[int, list[int]] = {}
    for lesson_id, course_id in rows:
        by_course.setdefault(course_id, []).append(lesson_id)
    quizzes = session.scalars(sa.select(Quiz).join(Quiz.course)
                              .where(Quiz.is_archived.is_(False), Course.is_archived.is_(False))
                              .order_by(Course.position, Course.id, Quiz.position, Quiz.id)).all()
    rng = random.Random(f"{seed}:quizzes")
    plans = [QuizPlan(q, by_course.get(q.course_id, []), [quiz_service.draw_questions(q, rng) for _ in range(3)],
                      any(question["type"] == "essay" for question in q.questions)) for q in quizzes]
    for plan in plans:
        plan.layouts = [intern_questions(session, variant) for variant in plan.variants]
        for q in plan.quiz.questions:
            if q["type"] not in ("description", "essay"):
                right, wrong = (grading.check_answer(q, _right_answer(q)), grading.check_answer(q, _wrong_answer(q)))
                plan.sheet[q["id"]] = (right, _result(grading.grade(q, right)), wrong, _result(grading.grade(q, wrong)))
    return Content([lesson_id for lesson_id, _ in rows], plans)


# --- answers that grade as wanted ----------------------------------------------------------------------

def _right_answer(question: dict):
    if question["type"] == "numerical":  # correct_answer() may show a range ("12 – 15"): answer a number in it
        return f'{max(question["ranges"], key=lambda r: r["weight"])["low"]:g}'
    return grading.correct_answer(question)


def _wrong_answer(question: dict):
    kind = question["type"]
    if kind in ("single", "truefalse"):
        return min(question["options"], key=lambda o: o["weight"])["id"]
    if kind == "multiple":
        return sorted(o["id"] for o in question["options"] if o["weight"] <= 0)[:1] or None
    if kind == "matching":
        rights = [pair["right_id"] for pair in question["pairs"]]
        return {pair["id"]: rights[(k + 1) % len(rights)] for k, pair in enumerate(question["pairs"])}
    if kind == "numerical":
        return "0"
    return None  # short: left empty


def _result(graded: grading.Graded) -> dict:
    return {"points": graded.points, "max_points": graded.max_points, "is_correct": graded.is_correct,
            "feedback": graded.feedback}


def _sheet(plan: QuizPlan, want_pass: bool, awaiting: bool, rng: random.Random):
    """(questions, answers, results, essay reviews [(question id, scores)]) for one submitted attempt."""
    questions = rng.choice(plan.variants)
    auto = [q["id"] for q in questions if q["type"] not in ("description", "essay")]
    essays = [q for q in questions if q["type"] == "essay"]
    share = rng.uniform(0.75, 1.0) if want_pass else rng.uniform(0.2, 0.6)
    right = {qid: rng.random() < share for qid in auto}
    essay_share = rng.uniform(0.7, 1.0) if want_pass else rng.uniform(0.2, 0.5)
    reviews = [] if awaiting else [(q["id"], [round(2 * essay_share * c["points"]) / 2 for c in q["rubric"]])
                                   for q in essays]
    essay_points = sum(sum(scores) for _, scores in reviews)
    total = sum(q.get("points", 0) for q in questions)

    def passes() -> bool:
        points = essay_points + sum(plan.sheet[qid][1 if right[qid] else 3]["points"] for qid in auto)
        return 100 * points / total >= plan.quiz.pass_mark

    if not awaiting and total:  # nudge the answers until the attempt passes or fails as planned
        order = list(auto)
        rng.shuffle(order)
        for qid in order:
            if passes() == want_pass:
                break
            right[qid] = want_pass
    answers, results = {}, {}
    for q in questions:
        if q["type"] == "description":
            results[q["id"]] = _result(grading.grade(q, None))
        elif q["type"] == "essay":
            answers[q["id"]] = rng.choice(ESSAYS)
            graded = grading.grade(q, answers[q["id"]])
            scores = next((scores for qid, scores in reviews if qid == q["id"]), None)
            if scores is not None:
                graded = grading.Graded(round(sum(scores), 4), graded.max_points, sum(scores) >= q["points"])
            results[q["id"]] = _result(graded)
        else:
            right_answer, right_result, wrong_answer, wrong_result = plan.sheet[q["id"]]
            answer, results[q["id"]] = (right_answer, right_result) if right[q["id"]] else (wrong_answer, wrong_result)
            if answer is not None:
                answers[q["id"]] = answer
    return questions, answers, results, reviews


# --- one trainee -------------------------------------------------------------------------------------

def _at(day: date, rng: random.Random, earliest: int = 8, latest: int = 23) -> datetime:
    moment = datetime.combine(day, time(rng.randint(earliest, latest - 1), rng.randint(0, 59)), zone(default_timezone()))
    return moment.astimezone(ZoneInfo("UTC"))


def _split(total_fen: int, days: list[int], rng: random.Random) -> dict[int, int]:
    """A total spread over days, later days weighing more, in whole 10 fen, adding up exactly."""
    if not days:
        return {}
    weights = [rng.uniform(0.3, 1.7) * (0.6 + d / 8) for d in days]
    amounts = [int(total_fen * w / sum(weights)) // 10 * 10 for w in weights]
    amounts[-1] += total_fen - sum(amounts)
    return dict(zip(days, amounts))


def _earnings_plan(profile: str, rng: random.Random) -> tuple[float, float]:
    """(yuan by day 7, yuan by day 30)."""
    if profile == AHEAD:
        week = rng.uniform(105, 260)
        return week, rng.uniform(max(1010, week * 5), 2600)
    if profile == MIDDLE:
        week = rng.uniform(25, 150)
        return week, rng.uniform(week * 3 + 80, 1150)
    if profile == BEHIND:
        week = rng.uniform(0, 45)
        return week, rng.uniform(week + 20, 320)
    return rng.uniform(0, 60), 0.0


@dataclass
class Rows:
    checkins: list[dict] = field(default_factory=list)
    progress: list[dict] = field(default_factory=list)
    attempts: list[dict] = field(default_factory=list)
    reviews: list[list] = field(default_factory=list)  # per attempt: [(question id, scores)], in step


def _trainee(number: int, profile: str, cohort: Cohort, today: date, now: datetime, seed: int) -> tuple[dict, random.Random]:
    rng = random.Random(f"{seed}:{number}")
    late = rng.randint(1, 12) if rng.random() < 0.1 else 0
    registered = cohort.start_date + timedelta(days=late - (0 if late else rng.randint(1, 5)))
    registered = min(registered, today)
    user = {"name": f"学员{number:04d}", "email": None, "mobile": trainee_mobile(number), "role": Role.TRAINEE.value,
            "timezone": default_timezone(), "locale": None, "cohort_id": cohort.id, "is_active": True,
            "session_token": secrets.token_urlsafe(32), "created_at": None,
            "last_login_at": None, "_profile": profile, "_start": max(cohort.start_date, registered)}
    user["created_at"] = min(_at(registered, rng, 9, 22), now)
    return user, rng


def _activity(number: int, user: dict, rng: random.Random, content: Content, today: date, now: datetime,
              rows: Rows) -> None:
    profile, start = user["_profile"], user["_start"]
    last = (today - start).days  # her last day already over (today is not reported yet)
    if last < 1:
        return

    def on(day: int, earliest: int = 8, latest: int = 23) -> datetime:
        return min(_at(start + timedelta(days=day - 1), rng, earliest, latest), now)

    # Check-ins: what she earned each day, reported on the days she checks in (carried to the next one).
    week, month = _earnings_plan(profile, rng)
    stop = rng.randint(2, 6) if profile == QUIET else None
    daily = {**_split(round(week * 100), list(range(1, 8)), rng),
             **_split(round(max(0.0, month - week) * 100), list(range(8, 31)), rng)}
    later = sum(daily[d] for d in range(24, 31)) / 7
    for d in range(31, last + 1):
        daily[d] = int(later * rng.uniform(0.5, 1.5)) // 10 * 10
    members_start, members_end = rng.randint(20, 60), {
        AHEAD: rng.randint(150, 300), MIDDLE: rng.randint(60, 200), BEHIND: rng.randint(20, 90)}.get(
        profile, rng.randint(20, 70))
    members_end = max(members_start, members_end)
    active_share, per_order = rng.uniform(0.05, 0.4), rng.uniform(6, 25)
    odds, carried = CHECKIN_ODDS[profile], 0
    for d in range(1, last + 1):
        carried += daily.get(d, 0)
        if profile == NEVER or (stop is not None and d > stop):
            continue
        must = profile == AHEAD and d in (7, 30)
        if not (must or d == 1 or rng.random() < (0.9 if d in CHECKIN_DAYS else odds)):
            continue
        members = min(300, max(20, round(members_start + (members_end - members_start) * min(d, 30) / 30
                                         * rng.uniform(0.9, 1.1))))
        active = min(members * 2 // 5, max(-(-members // 20), round(members * active_share * rng.uniform(0.85, 1.15))))
        counted = rng.random() < 0.9  # now and then she types the earnings only
        moment = on(d, 19, 24)
        rows.checkins.append({
            "user_id": number, "day": start + timedelta(days=d - 1), "earnings_fen": carried,
            "orders": round(carried / 100 / per_order * rng.uniform(0.8, 1.2)) if counted else None,
            "group_members": members if counted else None, "active_members": active if counted else None,
            "posts": rng.randint(0, 4) if counted else None, "note": rng.choice(NOTES),
            "source": "api" if rng.random() < 0.15 else "web", "created_at": moment, "updated_at": moment})
        carried = 0
        user["last_login_at"] = moment

    # Lessons, mostly in catalogue order, spread over her first weeks; the next one often started.
    low, high = LESSON_SHARE[profile]
    lessons = list(content.lessons)
    if lessons and rng.random() < 0.15:
        k = rng.randrange(len(lessons) - 1) if len(lessons) > 1 else 0
        lessons[k:k + 2] = reversed(lessons[k:k + 2])
    count = round(len(lessons) * rng.uniform(low, high))
    span = max(1, min(last, stop or 21, 21))
    done: dict[int, int] = {}
    for k, lesson_id in enumerate(lessons[:count]):
        day = min(span, 1 + k * span // max(1, count) + rng.randint(0, 1))
        finished = on(day, 8, 23)
        done[lesson_id] = day
        rows.progress.append({"user_id": number, "lesson_id": lesson_id,
                              "started_at": finished - timedelta(minutes=rng.randint(4, 25)), "completed_at": finished})
    if count < len(lessons) and rng.random() < 0.5:
        rows.progress.append({"user_id": number, "lesson_id": lessons[count],
                              "started_at": on(span), "completed_at": None})

    # Quizzes, once most of the course's lessons are done.
    for plan in content.quizzes:
        course_done = [done[i] for i in plan.lesson_ids if i in done]
        if plan.lesson_ids and len(course_done) < 0.6 * len(plan.lesson_ids):
            continue
        if profile == NEVER and rng.random() < 0.7:
            continue
        day = min(last, max(course_done, default=1) + rng.randint(0, 2))
        first, retry, twice, _open = QUIZ_ODDS[profile]
        roll = rng.random()
        if plan.has_essays:
            outcome = "open" if roll > 1 - QUIZ_ODDS[profile][3] else (
                "awaiting" if rng.random() < AWAITING_ODDS[profile] else "reviewed")
        else:
            outcome = ("pass" if roll < first else "retry" if roll < first + retry
                       else "twice" if roll < first + retry + twice else "open")
        if outcome == "open" and plan.quiz.time_limit_minutes:
            continue  # a timed attempt left open would have been graded at its deadline
        plan_attempts = {"pass": [True], "retry": [False, True], "twice": [False, False], "open": [None],
                         "awaiting": ["awaiting"], "reviewed": [rng.random() < 0.85]}[outcome]
        if plan.quiz.max_attempts:
            plan_attempts = plan_attempts[:plan.quiz.max_attempts]
        started = on(day)
        for attempt_number, wanted in enumerate(plan_attempts, 1):
            submitted = min(started + timedelta(minutes=rng.randint(4, 15)), now)
            row = {"quiz_id": plan.quiz.id, "user_id": number, "number": attempt_number,
                   "started_at": started,
                   "deadline_at": (started + timedelta(minutes=plan.quiz.time_limit_minutes)
                                   if plan.quiz.time_limit_minutes else None),
                   "score": None, "percent": None, "is_passed": None, "submitted_at": None}
            reviews = []
            if wanted is None:
                questions = rng.choice(plan.variants)
                row.update(state=QuizAttempt.IN_PROGRESS, answers={}, marks=[], saved_at=None)
            else:
                awaiting = wanted == "awaiting"
                questions, answers, results, reviews = _sheet(plan, wanted is True, awaiting, rng)
                score = round(sum(r["points"] or 0 for r in results.values()), 4)
                row.update(answers=answers, marks=versions.pack_marks(questions, results), score=score,
                           saved_at=submitted, submitted_at=submitted)
                if awaiting:
                    row.update(state=QuizAttempt.AWAITING_REVIEW)
                else:
                    max_score = sum(q.get("points", 0) for q in questions)
                    percent = round(100 * score / max_score, 2) if max_score else 100.0
                    row.update(state=QuizAttempt.GRADED, percent=percent, is_passed=percent >= plan.quiz.pass_mark)
            row["layout"] = plan.layouts[plan.variants.index(questions)]
            row["max_score"] = float(sum(q.get("points", 0) for q in questions))
            rows.attempts.append(row)
            rows.reviews.append(reviews)
            started = min(submitted + timedelta(hours=rng.randint(1, 30)), now)


def _insert(session: Session, model, rows: list[dict]) -> None:
    """Core executemany on the table, in batches (the ORM's bulk insert may go row by row)."""
    for i in range(0, len(rows), BATCH):
        session.execute(sa.insert(model.__table__), rows[i:i + BATCH])


def seed_scale(session: Session, n: int, now: datetime, seed: int = SEED) -> Cohort:
    """The scale demo cohort with synthetic trainees 1..n (those missing are added; the others are left
    alone). Also seeds the small demo (its mentor coaches this cohort too). Does not commit."""
    seed_demo(session, now)
    today = now.astimezone(zone(default_timezone())).date()
    cohort = session.scalar(sa.select(Cohort).where(Cohort.invite_code == SCALE_CODE))
    if cohort is None:
        cohort = Cohort(name=scale_cohort_name(n), invite_code=SCALE_CODE, timezone=default_timezone(),
                        start_date=today - timedelta(days=SCALE_DAYS_AGO), created_at=now)
        session.add(cohort)
        session.flush()
    mentor = session.scalar(sa.select(User).where(User.email == MENTOR_EMAIL))
    if mentor is not None and mentor not in cohort.mentors:
        cohort.mentors.append(mentor)

    taken = set(session.scalars(sa.select(User.mobile).where(User.mobile.like(f"{MOBILE_PREFIX}%"))))
    missing = [number for number in range(1, n + 1) if trainee_mobile(number) not in taken]
    if missing:
        password_hash = generate_password_hash(DEMO_PASSWORD)  # once: scrypt per row would take minutes
        content = _content(session, seed)
        people = []
        for number in missing:
            block = (number - 1) // len(BLOCK)
            order = list(BLOCK)
            random.Random(f"{seed}:block:{block}").shuffle(order)
            people.append(_trainee(number, order[(number - 1) % len(BLOCK)], cohort, today, now, seed))
        rows = Rows()
        for number, (user, rng) in zip(missing, people):  # rows name her by number until she has an id
            _activity(number, user, rng, content, today, now, rows)
        _insert(session, User, [{k: v for k, v in user.items() if not k.startswith("_")} | {"password_hash": password_hash}
                                for user, _ in people])
        by_mobile = dict(session.execute(sa.select(User.mobile, User.id).where(
            User.cohort_id == cohort.id, User.mobile.like(f"{MOBILE_PREFIX}%"))).all())
        user_ids = {number: by_mobile[trainee_mobile(number)] for number in missing}
        for row in (*rows.checkins, *rows.progress, *rows.attempts):
            row["user_id"] = user_ids[row["user_id"]]
        _insert(session, Checkin, rows.checkins)
        _insert(session, LessonProgress, rows.progress)
        _insert(session, QuizAttempt, rows.attempts)
        reviewed = {(row["user_id"], row["quiz_id"], row["number"]): (row, reviews)
                    for row, reviews in zip(rows.attempts, rows.reviews) if reviews}
        if reviewed:
            attempt_ids = session.execute(
                sa.select(QuizAttempt.user_id, QuizAttempt.quiz_id, QuizAttempt.number, QuizAttempt.id)
                .where(QuizAttempt.user_id.in_(user_ids.values()), QuizAttempt.state == QuizAttempt.GRADED,
                       QuizAttempt.quiz_id.in_([p.quiz.id for p in content.quizzes if p.has_essays]))).all()
            reviewer = mentor.id if mentor is not None else None
            _insert(session, EssayReview, [
                {"attempt_id": attempt_id, "question_id": qid, "reviewer_id": reviewer, "scores": scores,
                 "points": round(sum(scores), 4), "comment": "",
                 "reviewed_at": min(reviewed[(user_id, quiz_id, number)][0]["submitted_at"] + timedelta(hours=5), now)}
                for user_id, quiz_id, number, attempt_id in attempt_ids if (user_id, quiz_id, number) in reviewed
                for qid, scores in reviewed[(user_id, quiz_id, number)][1]])
    count = session.scalar(sa.select(sa.func.count(User.id)).where(
        User.cohort_id == cohort.id, User.mobile.like(f"{MOBILE_PREFIX}%")))
    if cohort.name != scale_cohort_name(count):
        cohort.name = scale_cohort_name(count)
    session.flush()
    return cohort
