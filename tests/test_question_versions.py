"""Question versions (issue 18, item 5): each version of a question is stored once, keyed by its content's
digest; an attempt keeps the versions it drew, in order, its shuffles, her answers and marks (≤ 2 KB); a
content change never alters an attempt; the migration turns old copies into versions and back."""
import copy
import json
import os
import random
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app import create_app
from app.content.sync import sync_courses
from app.core.access import Role
from app.database import compact_json, utcnow
from app.extensions import db
from app.quizzes import grading, service, versions
from app.quizzes.models import QuestionVersion, QuizAttempt, load_questions
from tests.conftest import BACKENDS, _test_config, count_queries
from tests.factories import api_headers, make_cohort, make_user
from tests.quiz_helpers import load_test_quizzes

BEFORE = "0ffe39411b06"  # the last revision whose attempts kept a copy of their questions


@pytest.fixture
def quizzes(app, synced):
    return load_test_quizzes()


def answers_for(questions: list[dict], right: bool = True) -> dict:
    """Right (or, where there is a wrong option, wrong) answers to each question."""
    answers = {}
    for q in questions:
        if q["type"] == "numerical":
            answers[q["id"]] = "5.99" if right else "7"
        elif q["type"] == "essay":
            answers[q["id"]] = "欢迎新朋友!你最近在找什么好物?"
        elif q["type"] == "short":
            answers[q["id"]] = "moments" if right else "抖音"
        elif q["type"] in ("single", "truefalse") and not right:
            answers[q["id"]] = min(q["options"], key=lambda o: o["weight"])["id"]
        elif q["type"] != "description":
            answers[q["id"]] = grading.correct_answer(q)
    return answers


def stored_bytes(attempt_id: int) -> int:
    """The bytes of an attempt's own JSON (layout, answers, marks) as the database holds them."""
    row = db.session.execute(sa.select(sa.cast(QuizAttempt.layout, sa.Text), sa.cast(QuizAttempt.answers, sa.Text),
                                       sa.cast(QuizAttempt.marks, sa.Text)).where(QuizAttempt.id == attempt_id)).one()
    return sum(len(text.encode()) for text in row)


# --- versions, without a database ----------------------------------------------------------------------

QUESTION = {"id": "pick", "type": "single", "points": 1.0, "text": {"zh": "选一个", "en": "Pick one"},
            "options": [{"id": f"x{i}", "text": {"zh": str(i), "en": str(i)}, "weight": float(i == 2)}
                        for i in range(4)]}


def test_a_drawn_question_is_its_version_and_her_order_and_joins_back():
    rng = random.Random(3)
    seen = set()
    for _ in range(20):
        drawn = copy.deepcopy(QUESTION)
        rng.shuffle(drawn["options"])
        version, order = versions.split(drawn)
        assert versions.join(version, order) == drawn
        seen.add(versions.digest(version))
    assert len(seen) == 1  # one version whatever the shuffle
    edited = copy.deepcopy(QUESTION)
    edited["options"][2]["weight"] = 0.0
    assert versions.digest(versions.split(edited)[0]) not in seen  # an edit is a new version
    assert versions.split(copy.deepcopy(QUESTION))[0]["options"] == QUESTION["options"]  # id order here


def test_marks_keep_points_and_rightness_and_the_feedback_comes_back_from_the_version():
    question = {**QUESTION, "options": [{**o, "feedback": {"zh": f"反馈{o['id']}", "en": o["id"]}}
                                        for o in QUESTION["options"]]}
    essay = {"id": "essay", "type": "essay", "points": 10.0, "text": {"zh": "写", "en": "Write"}, "rubric": []}
    answers = {"pick": "x1", "essay": "你好"}
    results = {"pick": {"points": 0.0, "max_points": 1.0, "is_correct": False,
                        "feedback": [{"zh": "反馈x1", "en": "x1"}]},
               "essay": {"points": 7.5, "max_points": 10.0, "is_correct": False, "feedback": []}}
    marks = versions.pack_marks([question, essay], results)
    assert marks == [[0, 0], [7.5, 0]]
    assert versions.unpack_marks([question, essay], marks, answers) == results
    with pytest.raises(ValueError):
        versions.pack_marks([question], results)  # a result for a question not drawn


def test_json_columns_are_written_compact_with_chinese_as_utf8():
    assert compact_json({"a": [1, 2], "b": "欢迎"}) == '{"a":[1,2],"b":"欢迎"}'
    assert compact_json({"b": "\ud800"}) == '{"b":"\\ud800"}'  # a lone surrogate stays escaped


# --- attempts over versions ----------------------------------------------------------------------------

def test_attempts_share_versions_and_each_stays_under_2_kb(quizzes, trainee, cohort):
    sample, _ = quizzes
    sample.max_attempts = 0
    others = [make_user(f"t{n}@example.com", cohort=cohort) for n in range(3)]
    for n, user in enumerate([trainee, *others]):
        attempt = service.start_attempt(db.session, user, sample, utcnow(), rng=random.Random(n))
        service.submit_attempt(db.session, attempt, answers_for(attempt.questions, right=n % 2 == 0), utcnow())
        db.session.commit()
        assert stored_bytes(attempt.id) <= 2048
    assert db.session.scalar(sa.select(sa.func.count(QuestionVersion.id))) == len(sample.questions)
    layouts = db.session.scalars(sa.select(QuizAttempt.layout)).all()
    assert len({json.dumps(layout) for layout in layouts}) == 4  # each her own order, the same versions
    assert {tuple(sorted(versions.version_ids(layout))) for layout in layouts} == {
        tuple(sorted(db.session.scalars(sa.select(QuestionVersion.id))))}


def test_the_questions_of_many_attempts_load_in_one_query(quizzes, trainee, cohort):
    sample, writing = quizzes
    started = [service.start_attempt(db.session, user, quiz, utcnow())
               for user in (trainee, make_user("two@example.com", cohort=cohort)) for quiz in (sample, writing)]
    db.session.commit()
    expected = {attempt.id: copy.deepcopy(attempt.questions) for attempt in started}
    db.session.expunge_all()
    attempts = db.session.scalars(sa.select(QuizAttempt)).all()
    with count_queries() as n:
        load_questions(db.session, attempts)
        assert {attempt.id: attempt.questions for attempt in attempts} == expected
    assert n() == 1


def test_grading_follows_the_version_she_drew_not_the_edited_quiz(quizzes, trainee):
    sample, _ = quizzes
    attempt = service.start_attempt(db.session, trainee, sample, utcnow())
    db.session.commit()
    drawn = copy.deepcopy(attempt.questions)
    right = answers_for(drawn)
    edited = copy.deepcopy(sample.questions)  # the content changes: the right option of "pick" is now wrong
    pick = next(q for q in edited if q["id"] == "pick")
    for option in pick["options"]:
        option["weight"] = 1.0 - option["weight"]
    sample.questions = edited
    db.session.commit()
    db.session.expire_all()
    attempt = db.session.get(QuizAttempt, attempt.id)
    assert attempt.questions == drawn
    service.submit_attempt(db.session, attempt, right, utcnow())
    assert attempt.results["pick"]["is_correct"] and attempt.percent == 100.0
    assert db.session.scalar(sa.select(sa.func.count(QuestionVersion.id))) == len(sample.questions)
    again = service.start_attempt(db.session, trainee, sample, utcnow())  # a new attempt: the new version
    assert db.session.scalar(sa.select(sa.func.count(QuestionVersion.id))) == len(sample.questions) + 1
    assert next(q for q in again.questions if q["id"] == "pick") != next(q for q in drawn if q["id"] == "pick")


# --- the migration -------------------------------------------------------------------------------------

@pytest.fixture(params=BACKENDS)
def empty_url(request, tmp_path):
    """A database of its own (PostgreSQL: a schema of its own), dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    base = create_app(_test_config(os.environ["TEST_DATABASE_URL"])).config["SQLALCHEMY_DATABASE_URI"]
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS question_versions_test CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA question_versions_test"))
    yield base + ("&" if "?" in base else "?") + "options=-csearch_path%3Dquestion_versions_test"
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA question_versions_test CASCADE"))
    engine.dispose()


def old_attempt(quiz, user, number: int, seed: int, answers_of, submitted: bool) -> dict:
    """An attempt row as the code before question versions wrote it: the drawn questions copied, and
    after submitting each question's points, max points, rightness and feedback."""
    questions = service.draw_questions(quiz, random.Random(seed))
    answers = answers_of(questions)
    row = {"quiz_id": quiz.id, "user_id": user.id, "number": number, "questions": questions, "answers": answers,
           "results": {}, "max_score": float(sum(q["points"] for q in questions)), "started_at": utcnow(),
           "state": QuizAttempt.IN_PROGRESS, "score": None, "percent": None, "is_passed": None,
           "saved_at": utcnow(), "submitted_at": None, "deadline_at": None}
    if submitted:
        results = {}
        for q in questions:
            graded = grading.grade(q, answers.get(q["id"]))
            results[q["id"]] = {"points": graded.points, "max_points": graded.max_points,
                                "is_correct": graded.is_correct, "feedback": graded.feedback}
        score = round(sum(r["points"] or 0 for r in results.values()), 4)
        waiting = any(r["points"] is None for r in results.values())
        row.update(results=results, score=score, submitted_at=utcnow(),
                   state=QuizAttempt.AWAITING_REVIEW if waiting else QuizAttempt.GRADED)
        if not waiting:
            row.update(percent=round(100 * score / row["max_score"], 2))
            row["is_passed"] = row["percent"] >= quiz.pass_mark
    return row


def test_the_migration_turns_copies_into_versions_and_back_and_grading_and_review_are_unchanged(empty_url, content):
    # 1. A database as it was before, its attempts written by the old code (default json.dumps: escaped
    #    Chinese, spaces), with an essay already reviewed.
    old_app = create_app(_test_config(empty_url, SQLALCHEMY_ENGINE_OPTIONS={}))
    with old_app.app_context():
        upgrade(revision=BEFORE)
        sync_courses(db.session, content.courses, utcnow())
        db.session.commit()
        sample, writing = load_test_quizzes()
        cohort = make_cohort("Old cohort", "OLD1")
        mei, lan = make_user("mei@example.com", cohort=cohort), make_user("lan@example.com", cohort=cohort)
        mentor = make_user("coach@example.com", role=Role.MENTOR, cohort=cohort)
        table = sa.Table("quiz_attempts", sa.MetaData(), autoload_with=db.engine)
        reviews = sa.Table("essay_reviews", sa.MetaData(), autoload_with=db.engine)
        rows = [old_attempt(sample, mei, 1, 1, answers_for, True),
                old_attempt(sample, mei, 2, 2, lambda qs: answers_for(qs, right=False), True),
                old_attempt(sample, lan, 1, 3, lambda qs: dict(list(answers_for(qs).items())[:2]), False),
                old_attempt(writing, mei, 1, 4, answers_for, True),
                old_attempt(writing, lan, 1, 5, answers_for, True)]
        reviewed = rows[4]
        ids = [db.session.execute(sa.insert(table).values(row).returning(table.c.id)).scalar_one() for row in rows]
        reviewed["results"]["welcome"].update(points=8.0, is_correct=False)
        reviewed.update(score=reviewed["score"] + 8, state=QuizAttempt.GRADED)
        reviewed.update(percent=round(100 * reviewed["score"] / reviewed["max_score"], 2))
        reviewed["is_passed"] = reviewed["percent"] >= writing.pass_mark
        db.session.execute(table.update().where(table.c.id == ids[4]).values(
            results=reviewed["results"], score=reviewed["score"], state=reviewed["state"],
            percent=reviewed["percent"], is_passed=reviewed["is_passed"]))
        db.session.execute(sa.insert(reviews).values(
            attempt_id=ids[4], question_id="welcome", reviewer_id=mentor.id, scores=[4, 4], points=8.0,
            comment="很温暖", reviewed_at=utcnow()))
        db.session.commit()
        before = {row.id: row._asdict() for row in db.session.execute(sa.select(table))}
        distinct_questions = len(sample.questions) + len(writing.questions)
        assert '\\u' in db.session.scalar(sa.select(sa.cast(table.c.questions, sa.Text)).where(table.c.id == ids[0]))
        db.session.remove()
        db.engine.dispose()

    # 2. Upgraded: the same questions, answers and results, read from the versions.
    app = create_app(_test_config(empty_url))
    with app.app_context():
        upgrade()
        assert db.session.scalar(sa.select(sa.func.count(QuestionVersion.id))) == distinct_questions
        for attempt_id, row in before.items():
            attempt = db.session.get(QuizAttempt, attempt_id)
            assert attempt.questions == row["questions"], attempt_id
            assert attempt.results == row["results"] and attempt.answers == row["answers"], attempt_id
            assert (attempt.state, attempt.score, attempt.percent, attempt.is_passed) == (
                row["state"], row["score"], row["percent"], row["is_passed"])
            if attempt.state != QuizAttempt.IN_PROGRESS:
                regraded = sum(grading.grade(q, attempt.answers.get(q["id"])).points or 0 for q in attempt.questions)
                essays = sum(r.points for r in attempt.reviews)
                assert attempt.state == QuizAttempt.AWAITING_REVIEW or round(regraded + essays, 4) == attempt.score
            if attempt_id != ids[3]:  # the essay waiting for review is bigger: her own writing
                assert stored_bytes(attempt_id) <= 2048
        assert [(r.attempt_id, r.points, r.comment) for r in db.session.get(QuizAttempt, ids[4]).reviews] == [
            (ids[4], 8.0, "很温暖")]  # the essay review is still there

        # What she sees through the API is what the copies said.
        headers = api_headers(db.session.get(QuizAttempt, ids[0]).user)
        client = app.test_client()
        first = client.get(f"/api/v1/attempts/{ids[0]}", headers=headers).get_json()
        assert first["percent"] == before[ids[0]]["percent"] and [q["id"] for q in first["questions"]] == [
            q["id"] for q in before[ids[0]]["questions"] if q["type"] != "description"]
        wrong = client.get(f"/api/v1/attempts/{ids[1]}", headers=headers).get_json()
        pick = next(q for q in wrong["questions"] if q["id"] == "pick")
        assert pick["feedback"] == [f["zh"] for f in before[ids[1]]["results"]["pick"]["feedback"]]
        assert "太高" in pick["feedback"][0] and pick["is_correct"] is False

        # Grading and review go on as before: her open attempt is submitted, the waiting essay reviewed.
        open_attempt = db.session.get(QuizAttempt, ids[2])
        service.submit_attempt(db.session, open_attempt, None, utcnow())
        assert open_attempt.score == round(sum(grading.grade(q, before[ids[2]]["answers"].get(q["id"])).points
                                               for q in before[ids[2]]["questions"]), 4)
        waiting = db.session.get(QuizAttempt, ids[3])
        service.review_essay(db.session, db.session.get(QuizAttempt, ids[4]).reviews[0].reviewer, waiting,
                             "welcome", [5, 5], "好", utcnow())
        assert waiting.state == QuizAttempt.GRADED and waiting.percent == 100.0
        assert waiting.results["welcome"] == {"points": 10.0, "max_points": 10.0, "is_correct": True, "feedback": []}
        db.session.commit()
        after = {a.id: (copy.deepcopy(a.questions), copy.deepcopy(a.results), copy.deepcopy(a.answers))
                 for a in db.session.scalars(sa.select(QuizAttempt))}

        # 3. Downgraded: the copies come back as the old code would have them.
        db.session.remove()
        downgrade(revision=BEFORE)
        table = sa.Table("quiz_attempts", sa.MetaData(), autoload_with=db.engine)
        back = {row.id: row._asdict() for row in db.session.execute(sa.select(table))}
        assert "layout" not in table.c and not sa.inspect(db.engine).has_table("question_versions")
        for attempt_id, (questions, results, answers) in after.items():
            assert (back[attempt_id]["questions"], back[attempt_id]["results"], back[attempt_id]["answers"]) == (
                questions, results, answers)
        assert back[ids[0]] == before[ids[0]] and back[ids[1]] == before[ids[1]]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(
            sa.Table("essay_reviews", sa.MetaData(), autoload_with=db.engine))) == 2
        db.session.remove()
        upgrade()  # and up again, for the next test's database
        db.session.remove()
        db.engine.dispose()
