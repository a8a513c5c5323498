import json
import random
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.access import Role
from app.database import utcnow
from app.extensions import db
from app.learning import service as learning
from app.quizzes import service
from app.quizzes.grading import correct_answer
from app.quizzes.models import QuizAttempt
from app.core.errors import DomainError
from tests.factories import api_headers
from tests.conftest import login, make_user
from tests.quiz_helpers import load_test_quizzes


@pytest.fixture
def quizzes(app, synced):
    return load_test_quizzes()


def right_answers(attempt) -> dict:
    answers = {}
    for q in attempt.questions:
        if q["type"] == "numerical":
            answers[q["id"]] = "5.99"
        elif q["type"] == "essay":
            answers[q["id"]] = "欢迎!你最近在忙什么?"
        elif q["type"] != "description":
            answers[q["id"]] = correct_answer(q)
    return answers


def form_of(attempt, answers) -> dict:
    """The form fields a browser would send for these answers."""
    data: dict = {"multiple": [q["id"] for q in attempt.questions if q["type"] == "multiple"]}
    for qid, answer in answers.items():
        if isinstance(answer, dict):
            data.update({f"q:{qid}:{left}": right for left, right in answer.items()})
        else:
            data[f"q:{qid}"] = answer
    return data


# --- the rules, called directly ------------------------------------------------------------

def test_an_attempt_draws_and_shuffles_but_keeps_every_question(quizzes, trainee):
    sample, _ = quizzes
    attempt = service.start_attempt(db.session, trainee, sample, utcnow(), rng=random.Random(1))
    assert sorted(q["id"] for q in attempt.questions) == sorted(q["id"] for q in sample.questions)
    assert attempt.max_score == 1 + 2 + 1 + 1 + 2 + 1
    sample.draw = 3
    db.session.delete(attempt)
    attempt = service.start_attempt(db.session, trainee, sample, utcnow(), rng=random.Random(2))
    assert sum(q["type"] != "description" for q in attempt.questions) == 3


def test_right_answers_pass_and_best_and_latest_scores_are_kept(quizzes, trainee):
    sample, _ = quizzes
    now = utcnow()
    first = service.start_attempt(db.session, trainee, sample, now)
    service.submit_attempt(db.session, first, {}, now)
    assert first.percent == 0 and first.is_passed is False
    second = service.start_attempt(db.session, trainee, sample, now)
    service.submit_attempt(db.session, second, right_answers(second), now)
    assert second.percent == 100 and second.is_passed
    status = service.quiz_status(db.session, trainee.id, sample)
    assert (status.best_percent, status.latest_percent, status.is_passed, status.failed_attempts) == (100, 100, True, 1)


def test_answers_are_saved_as_she_goes_and_survive_a_reload(quizzes, trainee):
    sample, _ = quizzes
    attempt = service.start_attempt(db.session, trainee, sample, utcnow())
    service.save_answers(db.session, attempt, {"word": "Moments"}, utcnow())
    service.save_answers(db.session, attempt, {"commission": "5.99"}, utcnow())
    db.session.commit()
    db.session.expire_all()
    again = service.start_attempt(db.session, trainee, sample, utcnow())  # "start" resumes
    assert again.id == attempt.id and again.answers == {"word": "Moments", "commission": "5.99"}
    service.save_answers(db.session, again, {"word": ""}, utcnow())  # a cleared field is forgotten
    assert again.answers == {"commission": "5.99"}


@pytest.mark.parametrize("answers", [
    {"not-in-attempt": "x"}, {"pick": "x-no-such-option"}, {"which": ["x-nope"]}, {"order": {"x-nope": "x-nope"}},
    {"word": "Moments", "pick": "x-no-such-option"},  # one bad answer spoils the lot: nothing is half-saved
])
def test_tampered_answers_are_refused_and_change_nothing(quizzes, trainee, answers):
    sample, _ = quizzes
    attempt = service.start_attempt(db.session, trainee, sample, utcnow())
    service.save_answers(db.session, attempt, {"word": "Moments"}, utcnow())
    with pytest.raises(DomainError) as refused:
        service.submit_attempt(db.session, attempt, answers, utcnow())
    assert refused.value.status == 422
    assert attempt.state == QuizAttempt.IN_PROGRESS and attempt.answers == {"word": "Moments"}


def test_submitting_twice_is_refused(quizzes, trainee):
    sample, _ = quizzes
    attempt = service.start_attempt(db.session, trainee, sample, utcnow())
    service.submit_attempt(db.session, attempt, right_answers(attempt), utcnow())
    score = attempt.score
    with pytest.raises(DomainError):
        service.submit_attempt(db.session, attempt, {}, utcnow())
    assert attempt.score == score


def test_the_attempt_limit_holds(quizzes, trainee):
    sample, _ = quizzes  # max_attempts: 2
    for _ in range(2):
        service.submit_attempt(db.session, service.start_attempt(db.session, trainee, sample, utcnow()), {}, utcnow())
    with pytest.raises(DomainError):
        service.start_attempt(db.session, trainee, sample, utcnow())
    assert db.session.scalar(sa.select(sa.func.count(QuizAttempt.id))) == 2


def test_after_the_time_limit_only_what_was_saved_in_time_counts(quizzes, trainee):
    sample, _ = quizzes
    sample.time_limit_minutes = 10
    start = utcnow()
    attempt = service.start_attempt(db.session, trainee, sample, start)
    service.save_answers(db.session, attempt, {"word": "Moments"}, start + timedelta(minutes=5))
    late = start + timedelta(minutes=11)
    with pytest.raises(DomainError) as refused:
        service.submit_attempt(db.session, attempt, right_answers(attempt), late)
    assert "Time is up" in str(refused.value.message) or "时间" in str(refused.value.message)
    assert attempt.state == QuizAttempt.GRADED and attempt.answers == {"word": "Moments"}
    assert attempt.score == 1 and attempt.submitted_at == attempt.deadline_at
    # Within the grace period a slow network still gets through.
    second = service.start_attempt(db.session, trainee, sample, start)
    service.submit_attempt(db.session, second, right_answers(second), second.deadline_at + timedelta(seconds=20))
    assert second.percent == 100


def test_an_overdue_attempt_is_finished_when_she_comes_back(quizzes, trainee):
    sample, _ = quizzes
    sample.time_limit_minutes = 5
    start = utcnow()
    attempt = service.start_attempt(db.session, trainee, sample, start)
    service.expire_overdue(db.session, trainee.id, start + timedelta(hours=1))
    assert attempt.state == QuizAttempt.GRADED


def test_another_trainees_attempt_is_not_hers(quizzes, trainee, cohort):
    sample, _ = quizzes
    other = make_user("other@example.com", cohort=cohort)
    attempt = service.start_attempt(db.session, other, sample, utcnow())
    with pytest.raises(DomainError):
        service.get_own_attempt(db.session, trainee, attempt.id)


def test_essays_wait_for_review_then_the_mentor_score_grades_the_attempt(quizzes, trainee, cohort):
    _, writing = quizzes
    mentor = make_user("coach@example.com", role=Role.MENTOR, cohort=cohort)
    outsider = make_user("far@example.com", role=Role.MENTOR)
    attempt = service.start_attempt(db.session, trainee, writing, utcnow())
    service.submit_attempt(db.session, attempt, right_answers(attempt), utcnow())
    assert attempt.state == QuizAttempt.AWAITING_REVIEW and attempt.percent is None
    assert service.quiz_status(db.session, trainee.id, writing).label == "awaiting_review"
    assert [a.id for a in service.review_queue(db.session, mentor)] == [attempt.id]
    assert service.review_queue(db.session, outsider) == []
    with pytest.raises(DomainError):
        service.review_essay(db.session, outsider, attempt, "welcome", [5, 5], "", utcnow())
    with pytest.raises(DomainError):
        service.review_essay(db.session, mentor, attempt, "welcome", [6, 5], "", utcnow())  # over the criterion
    service.review_essay(db.session, mentor, attempt, "welcome", [4, 3], "很温暖!", utcnow())
    assert attempt.state == QuizAttempt.GRADED and attempt.score == 8 and attempt.percent == pytest.approx(72.73)
    assert attempt.is_passed and service.review_queue(db.session, mentor) == []


def test_a_course_is_complete_when_its_lessons_are_done_and_its_quizzes_passed(quizzes, trainee):
    sample, _ = quizzes
    for lesson in learning.catalogue(db.session, trainee.id).course("product-selection").lessons:
        learning.mark_lesson_done(db.session, trainee, lesson.lesson, utcnow())
    item = learning.catalogue(db.session, trainee.id).course("product-selection")
    assert item.done == 5 and item.total == 6 and not item.is_complete
    attempt = service.start_attempt(db.session, trainee, sample, utcnow())
    service.submit_attempt(db.session, attempt, right_answers(attempt), utcnow())
    item = learning.catalogue(db.session, trainee.id).course("product-selection")
    assert item.done == item.total == 6 and item.is_complete


# --- through the web -------------------------------------------------------------------------

def test_the_page_never_contains_the_answer_key(quizzes, logged_in):
    sample, _ = quizzes
    response = logged_in.post(f"/quizzes/{sample.slug}/start")
    page = logged_in.get(response.location).text
    for word in ("weight", "right_id", "feedback", "Right.", "Too high", "5.985", "Moments", "第一步\" selected"):
        assert word not in page, word


def test_taking_a_quiz_in_the_browser_forms(quizzes, logged_in, trainee):
    sample, _ = quizzes
    take_url = logged_in.post(f"/quizzes/{sample.slug}/start").location
    attempt = db.session.scalar(sa.select(QuizAttempt))
    answers = right_answers(attempt)
    saved = logged_in.post(take_url, data={**form_of(attempt, {"word": "moments"}), "action": "save"})
    assert saved.status_code == 302
    assert 'value="moments"' in logged_in.get(take_url).text  # still there after a reload
    done = logged_in.post(take_url, data={**form_of(attempt, answers), "action": "submit"})
    assert done.status_code == 302 and done.location.endswith("/result")
    result = logged_in.get(done.location).text
    assert 'id="score-percent">100%' in result and "Right." not in result  # no wrong answers: no right-answer hints
    again = logged_in.post(take_url, data={**form_of(attempt, {}), "action": "submit"})
    assert again.status_code == 302 and again.location.endswith("/result")  # already submitted


def test_a_tampered_form_is_refused_with_a_message_and_keeps_the_saved_answers(quizzes, logged_in):
    sample, _ = quizzes
    take_url = logged_in.post(f"/quizzes/{sample.slug}/start").location
    attempt = db.session.scalar(sa.select(QuizAttempt))
    logged_in.post(take_url, data={"q:word": "Moments", "action": "save"})
    response = logged_in.post(take_url, data={"q:word": "x", "q:pick": "x-forged", "action": "submit"},
                              headers={"Accept-Language": "en"})
    assert response.status_code == 422 and "does not fit its question" in response.text
    assert db.session.get(QuizAttempt, attempt.id).answers == {"word": "Moments"}


def test_autosave_answers_json(quizzes, logged_in):
    sample, _ = quizzes
    take_url = logged_in.post(f"/quizzes/{sample.slug}/start").location
    response = logged_in.post(take_url + "/autosave", data={"q:commission": "6"})
    assert response.status_code == 200 and "saved_at" in response.json
    assert db.session.scalar(sa.select(QuizAttempt)).answers == {"commission": "6"}


def test_a_trainee_cannot_open_another_trainees_attempt(quizzes, client, cohort, trainee):
    sample, _ = quizzes
    other = make_user("other@example.com", cohort=cohort)
    attempt = service.start_attempt(db.session, other, sample, utcnow())
    db.session.commit()
    login(client, trainee.email)
    for url in (f"/attempts/{attempt.id}", f"/attempts/{attempt.id}/result", f"/review/{attempt.id}"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/attempts/{attempt.id}", data={"action": "submit"}).status_code == 404


def test_hidden_answers_until_passed(quizzes, logged_in):
    sample, _ = quizzes
    sample.hide_answers_until_passed = True
    db.session.commit()
    take_url = logged_in.post(f"/quizzes/{sample.slug}/start").location
    result = logged_in.get(logged_in.post(take_url, data={"action": "submit"}).location).text
    assert "白皮书" not in result and "<strong>正确答案</strong>" not in result
    assert "通过这个测验后会显示正确答案" in result or "shown once you pass" in result


def test_mentor_reviews_an_essay_and_the_trainee_sees_the_comment(make_app, quizzes, cohort, trainee):
    _, writing = quizzes
    mentor = make_user("coach@example.com", role=Role.MENTOR, cohort=cohort)
    app = make_app()
    her, coach = app.test_client(), app.test_client()
    login(her, trainee.email)
    login(coach, mentor.email)
    take_url = her.post(f"/quizzes/{writing.slug}/start").location
    result_url = her.post(take_url, data={"q:welcome": "**欢迎**大家!", "q:easy": "true", "action": "submit"}).location
    assert "等待批改" in her.get(result_url).text or "Awaiting" in her.get(result_url).text
    queue = coach.get("/review").text
    attempt = db.session.scalar(sa.select(QuizAttempt))
    assert f"/review/{attempt.id}" in queue
    page = coach.get(f"/review/{attempt.id}").text
    assert "<strong>欢迎</strong>" in page
    bad = coach.post(f"/review/{attempt.id}", data={"score-welcome-0": "9", "score-welcome-1": "1",
                                                     "comment-welcome": "keep me"})
    assert bad.status_code == 422 and "keep me" in bad.text  # what she typed stays
    ok = coach.post(f"/review/{attempt.id}", data={"score-welcome-0": "5", "score-welcome-1": "4",
                                                    "comment-welcome": "很温暖,<script>x</script>再加一个问题"})
    assert ok.status_code == 302
    result = her.get(result_url).text
    assert "很温暖" in result and "<script>x" not in result and 'id="score-percent">90.91%' in result


def test_quiz_status_shows_on_the_course_page(quizzes, logged_in):
    page = logged_in.get("/courses/product-selection").text
    assert 'data-quiz="sample"' in page and "0/6" in page


# --- the API ---------------------------------------------------------------------------------

@pytest.fixture
def token(app, trainee):
    return api_headers(trainee)


def test_api_needs_a_bearer_token_and_ignores_cookies(quizzes, logged_in):
    assert logged_in.get("/api/v1/courses").status_code == 401
    assert logged_in.get("/api/v1/courses", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_api_courses_with_lessons_and_quizzes(quizzes, client, token):
    courses = client.get("/api/v1/courses", headers={**token, "Accept-Language": "en"}).json
    product = next(c for c in courses if c["slug"] == "product-selection")
    assert product["title"] == "Choosing products that earn" and len(product["lessons"]) == 5
    assert product["quizzes"][0]["slug"] == "sample" and product["quizzes"][0]["status"] == "not_started"


def test_api_quiz_has_questions_without_answers(quizzes, client, token):
    quiz = client.get("/api/v1/quizzes/sample", headers=token).json
    assert len(quiz["questions"]) == 7
    text = json.dumps(quiz, ensure_ascii=False)
    for secret in ("weight", "right_id", "feedback", "explanation", "5.985", "Moments", "ranges", "answers\""):
        assert secret not in text, secret


def test_api_attempt_is_graded_under_the_same_rules(quizzes, client, token):
    sample, _ = quizzes
    answers = right_answers(type("A", (), {"questions": sample.questions})())
    first = client.post("/api/v1/quizzes/sample/attempts", json={"answers": answers}, headers=token)
    assert first.status_code == 201 and first.json["percent"] == 100 and first.json["passed"]
    assert client.post("/api/v1/quizzes/sample/attempts", json={"answers": {}}, headers=token).status_code == 201
    third = client.post("/api/v1/quizzes/sample/attempts", json={"answers": {}}, headers=token)
    assert third.status_code == 409  # max_attempts: 2
    assert client.post("/api/v1/quizzes/sample/attempts", json={"answers": {"nope": 1}}, headers=token).status_code == 422
    assert client.post("/api/v1/quizzes/sample/attempts", json=[1], headers=token).status_code == 422


def test_api_refuses_a_forged_option_and_stores_nothing(quizzes, client, token):
    response = client.post("/api/v1/quizzes/sample/attempts", json={"answers": {"pick": "x-forged"}}, headers=token)
    assert response.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count(QuizAttempt.id))) == 0


def test_openapi_documents_the_quiz_endpoints(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3")
    assert {"/api/v1/courses", "/api/v1/quizzes/{slug}", "/api/v1/quizzes/{slug}/attempts"} <= set(spec["paths"])


def test_tokens_create_prints_the_token_alone_on_the_last_line(app, trainee):
    result = app.test_cli_runner().invoke(args=["tokens", "create", trainee.email])
    assert result.exit_code == 0
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"xa_[A-Za-z0-9_-]{40,}", last)


def test_quiz_pages_issue_a_bounded_number_of_queries(make_app, quizzes, trainee):
    from tests.conftest import count_queries
    sample, _ = quizzes
    sample.max_attempts = 0
    db.session.commit()
    app = make_app()
    client = app.test_client()
    login(client, trainee.email)

    def measure():
        attempt = service.start_attempt(db.session, trainee, sample, utcnow())
        service.submit_attempt(db.session, attempt, right_answers(attempt), utcnow())
        db.session.commit()
        counts = []
        for url in ("/", "/courses/product-selection", f"/quizzes/{sample.slug}", f"/attempts/{attempt.id}/result"):
            with app.app_context(), count_queries() as n:
                assert client.get(url).status_code == 200
            counts.append(n())
        return counts

    measure()  # the first request builds the process's content snapshot
    few = measure()
    for _ in range(10):
        measure()
    assert measure() == few and max(few) <= 12, few  # the same count with 1 or 12 attempts
