"""Share posters: the PNGs, their QR codes, their words, and who may have which.

Examples of each poster (zh and en) are written to test-output/posters/ (git-ignored) to look at.
"""
import io
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
import zxingcpp
from PIL import Image

from app.camp import poster_views, posters
from app.checkins.service import record_checkin
from app.extensions import db
from tests.conftest import REPO, login, make_cohort, make_user
from tests.factories import make_trainee

OUTPUT = REPO / "test-output" / "posters"
START = date(2026, 5, 4)  # day 1 of the cohort
NOW = datetime(2026, 5, 10, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(timezone.utc)  # day 7
BASE = "http://127.0.0.1:5000"


def decode(png: bytes) -> tuple[Image.Image, list[str]]:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image, [barcode.text for barcode in zxingcpp.read_barcodes(image)]


def save(name: str, png: bytes) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / name).write_bytes(png)


def assert_poster(png: bytes, url: str) -> None:
    image, texts = decode(png)
    assert image.format == "PNG"
    assert image.size == (posters.WIDTH, posters.HEIGHT) == (1080, 1920)
    assert texts == [url]


# --- the drawing ---------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_invite_poster_is_a_phone_sized_png_whose_qr_code_is_the_invite_url(app, lang):
    url = f"{BASE}/invite/SPRING1"
    png = posters.invite_poster("春季一期 · 小B成长营" if lang == "zh" else "Spring cohort",
                                "王老师" if lang == "zh" else "Teacher Wang", url, lang)
    save(f"invite-{lang}.png", png)
    assert_poster(png, url)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_milestone_poster_is_a_phone_sized_png_whose_qr_code_is_the_invite_url(app, lang):
    url = f"{BASE}/invite/SPRING1"
    if lang == "zh":
        png = posters.milestone_poster("美美", "第一周赚到 ¥100", "第 5 天达成 · 2026年5月8日\n累计收入 ¥123.50",
                                       "春季一期", url, "zh")
    else:
        png = posters.milestone_poster("Mei", "¥100 in the first week",
                                       "Reached on day 5 · May 8, 2026\nEarned so far: ¥123.50", "Spring cohort", url, "en")
    save(f"milestone-{lang}.png", png)
    assert_poster(png, url)


def test_long_names_wrap_and_the_qr_code_still_reads(app):
    url = f"{BASE}/invite/" + "LONGCODE" * 4
    name = "2026 春季一期 · 小B成长营 · 社群团购带货实战班 第三组（上海）再加上一段很长很长的说明文字"
    assert_poster(posters.invite_poster(name, "一位名字非常非常非常非常非常非常长的导师🌸", url, "zh"), url)
    assert_poster(posters.milestone_poster(None, "A very long milestone title " * 4, None, None, url, "en"), url)


def test_the_same_input_gives_the_same_bytes(app):
    args = ("Spring cohort", "Teacher Wang", f"{BASE}/invite/SPRING1", "en")
    assert posters.invite_poster(*args) == posters.invite_poster(*args)
    assert posters.invite_poster(*args) != posters.invite_poster(*args[:3], "zh")


def test_the_qr_code_is_scaled_by_whole_pixels_with_its_quiet_zone():
    qr = posters.qr_image(f"{BASE}/invite/SPRING1")
    assert qr.width == qr.height and 400 <= qr.width <= 560
    pixels = qr.convert("L")
    assert {colour for _, colour in pixels.getcolors()} == {0, 255}  # nearest neighbour: no grey
    assert all(pixels.getpixel((x, 10)) == 255 for x in range(qr.width))  # the quiet zone


def test_chinese_is_drawn_with_the_cjk_font():
    face = posters.font(64)
    assert face.getname() == ("Noto Sans CJK SC", "Regular")
    left, top, right, bottom = face.getbbox("学")
    assert right - left > 30 and bottom - top > 30
    assert posters.has_glyph("学") and posters.has_glyph("¥") and not posters.has_glyph("🌸")
    assert posters.drawable("美美🌸\n小店 ") == "美美 小店"


def test_cjk_text_wraps_by_measured_width_and_keeps_punctuation_off_line_starts():
    face = posters.font(48)
    text = "和我们一起学习，从自己的微信群开始赚钱。每天进步一点点，第一周就能赚到第一笔钱！"
    lines = posters.wrap(text, face, 400, max_lines=99)
    assert len(lines) > 2 and "".join(lines) == text
    assert all(face.getlength(line) <= 400 for line in lines)
    assert not [line for line in lines if line[0] in posters.NO_LINE_START]
    english = posters.wrap("Learn with us and start earning from your own WeChat group", face, 400, max_lines=99)
    assert " ".join(english) == "Learn with us and start earning from your own WeChat group"  # breaks between words
    cut = posters.wrap(text, face, 400, max_lines=2)
    assert len(cut) == 2 and cut[-1].endswith("…") and face.getlength(cut[-1]) <= 400


def test_the_milestone_lines_leave_out_her_name_when_she_hides_it(app):
    named = posters.milestone_lines("美美", "第一周赚到 ¥100", "第 5 天达成\n累计收入 ¥120", "春季一期", "zh")
    assert ("name", "美美") in named
    assert [text for role, text in named if role == "detail"] == ["第 5 天达成", "累计收入 ¥120"]
    assert ("title", "第一周赚到 ¥100") in named
    for hidden in (None, "", "🌸"):
        lines = posters.milestone_lines(hidden, "第一周赚到 ¥100", "第 5 天达成", "春季一期", "zh")
        assert "name" not in dict(lines)
        assert not [text for _, text in lines if "美美" in text]
    assert "detail" not in dict(posters.milestone_lines("美美", "第一周赚到 ¥100", None, None, "zh"))


def test_the_invite_lines_name_the_mentor_only_when_there_is_one(app):
    assert "mentor" in dict(posters.invite_lines("春季一期", "王老师", "zh"))
    lines = dict(posters.invite_lines("Spring cohort", None, "en"))
    assert "mentor" not in lines and lines["title"] == "Spring cohort"
    assert lines["footer"] == "Xiaob Academy · Scan to join"


# --- the invite poster's route -------------------------------------------------------------------

def test_the_invite_poster_answers_for_an_open_invite_with_its_absolute_url(make_app, tmp_path):
    app = make_app(BASE_URL="https://academy.example.com/", UPLOAD_DIR=str(tmp_path))
    with app.app_context():
        cohort = make_cohort("Spring cohort", "SPRING1")
        make_user("wang@example.com", role="mentor", cohort=cohort, name="Teacher Wang")
        client = app.test_client()
        # Behind a proxy the request comes in on another host: the QR code still has BASE_URL.
        response = client.get("/invite/spring1/poster.png", base_url="http://10.0.0.5:8000")
        assert response.status_code == 200
        assert response.mimetype == "image/png"
        assert response.headers["Cache-Control"] == "public, max-age=300"
        assert_poster(response.data, "https://academy.example.com/invite/SPRING1")
        again = client.get("/invite/SPRING1/poster.png", headers={"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304


def test_the_invite_poster_is_in_the_viewers_language(client, cohort, monkeypatch):
    calls = []
    monkeypatch.setattr(posters, "invite_poster", lambda *args: calls.append(args) or args[3].encode())
    shown = [client.get("/invite/SPRING1/poster.png", base_url="http://127.0.0.1:5180").data,
             client.get("/invite/SPRING1/poster.png", headers={"Accept-Language": "en-US,en;q=0.9"}).data]
    client.set_cookie("lang", "en")
    shown.append(client.get("/invite/SPRING1/poster.png").data)
    assert shown == [b"zh", b"en", b"en"]
    assert [call[3] for call in calls] == ["zh", "en"]  # the third: the English one, drawn once and stored
    # No mentor: just the cohort. ACADEMY_BASE_URL unset: the QR code follows the address asked for.
    assert calls[0][:3] == ("Spring cohort", None, "http://127.0.0.1:5180/invite/SPRING1")
    assert calls[1][2] == "http://localhost/invite/SPRING1"


@pytest.mark.parametrize("problem", ["unknown", "expired", "archived", "full"])
def test_no_invite_poster_for_an_invite_nobody_can_use(client, cohort, problem):
    if problem == "expired":
        cohort.invite_expires_at = datetime.now(timezone.utc) - timedelta(minutes=1)
    elif problem == "archived":
        cohort.is_archived = True
    elif problem == "full":
        cohort.seat_limit = 1
        make_user("first@example.com", cohort=cohort)
    db.session.commit()
    code = "NOPE" if problem == "unknown" else "SPRING1"
    assert client.get(f"/invite/{code}/poster.png").status_code == 404


# --- her milestone poster ------------------------------------------------------------------------

@pytest.fixture
def spring(synced):
    return make_cohort("Spring cohort", "SPRING1", START)


def earn(user, n: int, yuan: str):
    record_checkin(db.session, user, {"date": (START + timedelta(days=n - 1)).isoformat(), "earnings": yuan}, NOW)
    db.session.commit()


@pytest.fixture
def spy(monkeypatch):
    """The milestone poster's arguments, the real poster drawn all the same."""
    calls = []
    real = posters.milestone_poster

    def record(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(posters, "milestone_poster", record)
    return calls


def test_her_milestone_poster_once_she_reached_it_and_not_before(client, spring, spy):
    mei = make_trainee("mei@example.com", spring, name="美美")
    with time_machine.travel(NOW, tick=False):
        assert login(client, mei.email).status_code == 302
        assert client.get("/posters/milestone/first-week.png").status_code == 404  # not reached
        earn(mei, 2, "60")
        assert client.get("/posters/milestone/first-week.png").status_code == 404  # ¥60 of ¥100
        earn(mei, 5, "45.50")
        response = client.get("/posters/milestone/first-week.png")
        assert response.status_code == 200 and response.mimetype == "image/png"
        assert "private" in response.headers["Cache-Control"]
        assert client.get("/posters/milestone/first-month.png").status_code == 404  # ¥1,000 not reached
        assert client.get("/posters/milestone/no-such-milestone.png").status_code == 404
    assert_poster(response.data, "http://localhost/invite/SPRING1")  # ACADEMY_BASE_URL unset: this request's host
    name, title, detail, cohort_name, url, lang = spy[-1]
    assert (name, title, cohort_name, lang) == ("美美", "¥100 in the first week", "Spring cohort", "en")
    assert detail == "Reached on day 5 · May 8, 2026"  # no earnings: she does not share them


def test_the_poster_shows_her_earnings_only_if_she_shares_them_and_her_name_only_if_she_wants(client, spring, spy):
    mei = make_trainee("mei@example.com", spring, name="美美")
    mei.shares_earnings = True
    db.session.commit()
    earn(mei, 1, "100")
    earn(mei, 3, "23.50")
    with time_machine.travel(NOW, tick=False):
        login(client, mei.email)
        assert client.get("/posters/milestone/first-week.png").status_code == 200
        assert client.get("/posters/milestone/first-week.png?anonymous=1").status_code == 200
    (name, _, detail, *_), (hidden, *_) = spy
    assert name == "美美" and hidden is None
    assert detail == "Reached on day 1 · May 4, 2026\nEarned so far: ¥123.50"


def test_another_trainee_gets_no_poster_for_a_milestone_she_did_not_reach(client, spring):
    mei = make_trainee("mei@example.com", spring, name="美美", locale=None)
    ana = make_trainee("ana@example.com", spring, name="安娜", locale=None)
    earn(mei, 1, "150")
    with time_machine.travel(NOW, tick=False):
        assert client.get("/posters/milestone/first-week.png").status_code == 302  # logged out: log in
        login(client, ana.email)
        assert client.get("/posters/milestone/first-week.png").status_code == 404
        client.post("/logout")
        login(client, mei.email)
        assert client.get("/posters/milestone/first-week.png").status_code == 200


def test_the_day_she_reached_a_member_count_is_when_it_last_got_there():
    milestone = SimpleNamespace(metric="group_members", target=100)
    item = SimpleNamespace(milestone=milestone, due=date(2026, 6, 2))
    days = [date(2026, 5, d) for d in (5, 10, 15, 20)]
    her = [SimpleNamespace(day=d, group_members=n) for d, n in zip(days, (120, 90, None, 101))]
    assert poster_views.reached_on(item, her) == date(2026, 5, 20)
    money = SimpleNamespace(milestone=SimpleNamespace(metric="earnings", target=100_00), due=date(2026, 5, 10))
    her = [SimpleNamespace(day=d, earnings_fen=f) for d, f in zip(days, (60_00, 50_00, 0, 0))]
    assert poster_views.reached_on(money, her) == date(2026, 5, 10)


# --- the page that shows them --------------------------------------------------------------------

def test_the_share_page_shows_her_posters_to_long_press(client, spring):
    mei = make_trainee("mei@example.com", spring, name="美美")
    earn(mei, 1, "150")
    with time_machine.travel(NOW, tick=False):
        login(client, mei.email)
        page = client.get("/share").text
        assert "Press and hold the image to save it" in page
        assert 'src="/posters/milestone/first-week.png"' in page
        assert 'src="/invite/SPRING1/poster.png"' in page
        assert "<script" not in page.lower()
        assert 'src="/posters/milestone/first-week.png?anonymous=1"' in client.get("/share?anonymous=1").text
        assert 'href="/share"' in client.get("/progress").text
        for src in ("/posters/milestone/first-week.png", "/invite/SPRING1/poster.png"):
            assert client.get(src).status_code == 200, src


def test_the_share_page_without_a_milestone_or_an_open_invite(client, spring):
    mei = make_trainee("mei@example.com", spring)
    spring.is_archived = True
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        login(client, mei.email)
        page = client.get("/share").text
    assert "poster.png" not in page and "No posters yet." in page
    client.post("/logout")
    assert client.get("/share").status_code == 302  # logged out: log in first


def test_a_mentor_finds_the_invite_posters_of_the_cohorts_she_coaches(client, spring):
    other = make_cohort("Autumn cohort", "AUTUMN1", START)
    make_user("wang@example.com", role="mentor", cohort=spring, name="Teacher Wang", locale="en")
    login(client, "wang@example.com")
    page = client.get("/share").text
    assert 'src="/invite/SPRING1/poster.png"' in page and other.invite_code not in page
    assert "/posters/milestone/" not in page
