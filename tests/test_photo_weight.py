"""Pages with photos stay light: lists show lazily loaded thumbnails, and the first view of a feed page
with 20 photos (ten wins of two phone photos each) weighs at most 300 KB as it travels.

The budget is measured as the bytes headless Chromium really loads at 390x844 with an empty cache
(thumbnails below the fold wait for her to scroll). Without a browser, on each database backend, the
page is checked for what makes that true (thumbnails only, lazy, sized) and the sum of every response
it could need, were all 20 thumbnails fetched at once, is reported and kept under twice the budget.
"""
import io
import random
import re
import threading

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from PIL import Image, ImageDraw
from werkzeug.datastructures import FileStorage
from werkzeug.serving import make_server

from app import create_app
from app.camp import feed, photos
from app.camp.models import FeedPost
from app.database import utcnow
from app.extensions import db
from tests.factories import PASSWORD, login, make_cohort, make_user
from tests.test_browser import PHONE, browser, log_in  # noqa: F401 (fixtures)

BUDGET = 300 * 1024
WINS, PER_WIN = 10, 2


def realistic_photo(seed: int, size=(2048, 1536)) -> bytes:
    """A stand-in for a phone photo of an order: colour fields, shapes, text and sensor grain; ~0.8 MB
    as a JPEG, like the real ones."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (8, 6), rng.randbytes(8 * 6 * 3)).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y, w, h = rng.randrange(size[0]), rng.randrange(size[1]), rng.randrange(40, 600), rng.randrange(40, 400)
        shape = draw.rectangle if rng.random() < 0.5 else draw.ellipse
        shape((x, y, x + w, y + h), fill=tuple(rng.randrange(256) for _ in range(3)))
    for _ in range(60):
        draw.text((rng.randrange(size[0]), rng.randrange(size[1])), "Order 39.90 shipped " * 3,
                  fill=(20, 20, 20), font_size=rng.randrange(24, 64))
    image = Image.blend(image, Image.effect_noise(size, 40).convert("RGB"), 0.12)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def post_wins(author) -> list:
    """WINS posts of PER_WIN photos each, uploaded as she would (through save_uploads)."""
    posted = []
    for n in range(WINS):
        files = [FileStorage(io.BytesIO(realistic_photo(n * PER_WIN + i)), f"IMG_{n}{i}.jpg") for i in range(PER_WIN)]
        stored = photos.save_uploads(db.session, author, files, utcnow())
        posted.append(feed.post_win(db.session, author, f"第{n + 1}单！", stored, utcnow()))
        db.session.commit()
    return posted


def test_a_feed_page_with_20_photos_shows_lazy_thumbnails_of_at_most_30_kb(app):
    mei = make_user("mei@example.com", cohort=make_cohort("Spring", "SPRING1"), name="美美")
    post_wins(mei)
    client = app.test_client()
    assert login(client, mei.email).status_code == 302
    gzip = {"Accept-Encoding": "gzip"}
    page = client.get("/feed", headers=gzip)
    html = page.text
    thumbs = re.findall(r'<img src="(/photos/\d+-thumb\.jpg)"', html)
    assert len(thumbs) == WINS * PER_WIN
    # Every list image: the thumbnail, lazy, its size given (no layout shift); the full size on tap.
    for tag in re.findall(r"<img [^>]*>", html):
        assert 'loading="lazy"' in tag and re.search(r'width="\d+" height="\d+"', tag), tag
    assert len(re.findall(r'href="/photos/\d+\.jpg"', html)) == WINS * PER_WIN
    assets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html) + re.findall(r'<script[^>]* src="([^"]+)"', html)
    sizes = {"/feed": len(page.data)}
    for url in assets + thumbs:
        response = client.get(url, headers=gzip)
        assert response.status_code == 200, url
        sizes[url] = len(response.data)
    thumb_bytes = [sizes[url] for url in thumbs]
    assert max(thumb_bytes) <= 30_000
    total = sum(sizes.values())
    full = sum(photo.size for win in db.session.scalars(sa.select(FeedPost)) for photo in win.photos)
    print(f"\nfeed with {len(thumbs)} photos, every response summed: {total} B "
          f"(page {sizes['/feed']} B, assets {sum(sizes[u] for u in assets)} B, thumbnails {sum(thumb_bytes)} B; "
          f"the full sizes would be {full} B)")
    assert total <= 2 * BUDGET


@pytest.fixture(scope="module")
def photo_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weight")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'academy.db'}", "SECRET_KEY": "weight",
                      "UPLOAD_DIR": str(folder / "uploads")})
    with app.app_context():
        upgrade()
        mei = make_user("mei@example.com", cohort=make_cohort("Spring", "SPRING1"), name="美美")
        post_wins(mei)
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.browser
def test_the_first_view_of_a_feed_page_with_20_photos_loads_at_most_300_kb(browser, photo_server):  # noqa: F811
    login_context = browser.new_context(**PHONE)
    log_in(login_context.new_page(), photo_server, "mei@example.com", PASSWORD)
    state = login_context.storage_state()
    login_context.close()

    context = browser.new_context(**PHONE, storage_state=state)  # her cookies, nothing cached
    page = context.new_page()
    finished = []
    page.on("requestfinished", lambda request: finished.append(request))
    assert page.goto(photo_server + "/feed", wait_until="networkidle").status == 200
    page.wait_for_timeout(500)  # lazy images near the fold start as layout settles
    sizes = {request.url.removeprefix(photo_server): request.sizes() for request in finished}
    shown = page.locator(".post-photos img").count()
    context.close()

    assert shown == WINS * PER_WIN
    assert not [url for url in sizes if re.fullmatch(r"/photos/\d+\.jpg", url)]  # no full size until a tap
    loaded = [url for url in sizes if url.endswith("-thumb.jpg")]
    assert loaded, "no thumbnail was loaded"
    total = sum(s["responseBodySize"] + s["responseHeadersSize"] for s in sizes.values())
    print(f"\nfirst view of /feed: {len(sizes)} requests, {len(loaded)} of {shown} thumbnails, {total} B")
    assert total <= BUDGET
