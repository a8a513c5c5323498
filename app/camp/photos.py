"""Photo uploads: checked by content, re-encoded to a clean JPEG, kept in a storage.

    photo = save_upload(db.session, user, request.files["photo"], now)   # raises DomainError

Every check runs on the bytes in memory before anything is written, so a refused file leaves
no file and no row. The stored JPEG is rebuilt from pixels only: no EXIF (GPS, camera, time),
no XMP, no ICC profile, no comments. Keys are random; the user's file name is never used.

Settings: UPLOAD_MAX_BYTES (8 MB), UPLOAD_MAX_PIXELS (40 megapixels), UPLOAD_STORAGE ("local"),
UPLOAD_DIR (instance/uploads).
"""
import io
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from app.camp.models import Photo
from app.core.errors import DomainError

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
MAX_SIDE = 2048          # long side of the stored JPEG: sharp on any phone, ~0.5-1 MB
QUALITY = 85
MAX_PHOTOS = 3           # per check-in or post
# "MPO" is what Pillow calls an iPhone JPEG carrying a second (depth) picture: still a JPEG.
ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}
# ISO-BMFF brands of HEIC/HEIF files (an iPhone's "High Efficiency" photos), which Pillow cannot read.
HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}



# --- storage ---------------------------------------------------------------------------------

class Storage:
    """Where photo files live, by key. LocalStorage now; an S3-compatible bucket later is one more
    subclass with the same three methods (put_object / get_object / delete_object), chosen in
    get_storage() by UPLOAD_STORAGE = "s3"."""

    def save(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def open(self, key: str) -> bytes:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError


_KEY = re.compile(r"^[0-9a-f]{16,64}\.jpg$")


class LocalStorage(Storage):
    """Files in one directory, named by their key."""

    def __init__(self, directory):
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        # Our keys only: nothing that could climb out of the directory.
        if not _KEY.match(key):
            raise ValueError(f"bad storage key {key!r}")
        return self.directory / key

    def save(self, key: str, data: bytes) -> None:
        path = self._path(key)
        self.directory.mkdir(parents=True, exist_ok=True)
        # Written to a temporary name, then renamed: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def open(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def get_storage() -> Storage:
    kind = current_app.config.get("UPLOAD_STORAGE", "local")
    if kind == "local":
        return LocalStorage(current_app.config.get("UPLOAD_DIR")
                            or Path(current_app.instance_path) / "uploads")
    # kind == "s3": an S3Storage(bucket, endpoint, keys from the config) goes here.
    raise RuntimeError(f"UPLOAD_STORAGE {kind!r} is not supported")


# --- checking and re-encoding ----------------------------------------------------------------

@dataclass
class Prepared:
    """A photo that passed every check, re-encoded and ready to store."""
    data: bytes
    width: int
    height: int


def _read(file_storage, max_bytes: int) -> bytes:
    if file_storage is None:
        raise DomainError(_l("Choose a photo to upload."))
    data = file_storage.stream.read(max_bytes + 1)  # never more than the limit in memory
    if not data:
        raise DomainError(_l("Choose a photo to upload."))
    if len(data) > max_bytes:
        raise DomainError(_l("This photo is too big: at most %(mb)s MB.", mb=f"{max_bytes / (1024 * 1024):g}"))
    return data


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Open from the bytes (never the name or the browser's content type) and check the header."""
    if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
        raise DomainError(_l("HEIC photos cannot be uploaded yet. On an iPhone, choose Settings > Camera > "
                             "Formats > Most Compatible, or upload a screenshot of the photo."))
    try:
        image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own limit (~89 MP warns, ~179 MP refuses); pytest turns the warning into an error.
        raise DomainError(_l("This image is too large: at most %(mp)d megapixels.",
                             mp=max_pixels // 1_000_000)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise DomainError(_l("Only JPEG, PNG or WebP photos can be uploaded.")) from None
    # GIF (animations) and anything else Pillow reads but we do not take; SVG never opens at all.
    if image.format not in ACCEPTED_FORMATS:
        raise DomainError(_l("Only JPEG, PNG or WebP photos can be uploaded."))
    # Our limit, checked on the declared size before a single pixel is decoded.
    if image.width * image.height > max_pixels:
        raise DomainError(_l("This image is too large: at most %(mp)d megapixels.", mp=max_pixels // 1_000_000))
    return image


def prepare(file_storage) -> Prepared:
    """Every check, then the clean JPEG; raises DomainError. Stores nothing."""
    config = current_app.config
    max_bytes = config.get("UPLOAD_MAX_BYTES", DEFAULT_MAX_BYTES)
    max_pixels = config.get("UPLOAD_MAX_PIXELS", DEFAULT_MAX_PIXELS)
    data = _read(file_storage, max_bytes)
    try:
        _open(data, max_pixels).verify()  # structure and checksums; the object is spent after this
        image = _open(data, max_pixels)
        image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at a reduced scale, less memory
        image.load()
        image = ImageOps.exif_transpose(image)  # turn it the way the phone meant, before EXIF goes
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        # A fresh image from the pixels alone: no metadata can come along. Transparency onto white.
        clean = Image.new("RGB", image.size, "white")
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            clean.paste(rgba, mask=rgba.getchannel("A"))
        else:
            clean.paste(image.convert("RGB"))
        out = io.BytesIO()
        clean.save(out, "JPEG", quality=QUALITY, optimize=True, progressive=True)
    except DomainError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DomainError(_l("This image is too large: at most %(mp)d megapixels.",
                             mp=max_pixels // 1_000_000)) from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError):
        raise DomainError(_l("This photo could not be read: it may be damaged. Try another one.")) from None
    return Prepared(out.getvalue(), clean.width, clean.height)


def store(session: Session, user, prepared: Prepared, now: datetime) -> Photo:
    """Write the file under a random key and add its row (flushed, not committed)."""
    storage = get_storage()
    key = f"{secrets.token_hex(16)}.jpg"
    storage.save(key, prepared.data)
    photo = Photo(user_id=user.id, storage_key=key, content_type="image/jpeg", width=prepared.width,
                  height=prepared.height, size=len(prepared.data), created_at=now)
    session.add(photo)
    try:
        session.flush()
    except BaseException:
        storage.delete(key)  # no row, no file
        raise
    return photo


def save_upload(session: Session, user, file_storage, now: datetime) -> Photo:
    """One uploaded photo, checked, cleaned and stored; raises DomainError."""
    return store(session, user, prepare(file_storage), now)


def chosen_files(files) -> list:
    """The file inputs she actually filled (a form's empty input sends a nameless, empty part)."""
    return [f for f in files if f is not None and f.filename]


def save_uploads(session: Session, user, files, now: datetime, *, limit: int = MAX_PHOTOS) -> list[Photo]:
    """Several photos (a form's file inputs): all are checked before any is stored, so one bad
    photo stores none of them."""
    files = chosen_files(files)
    if len(files) > limit:
        raise DomainError(_l("At most %(n)d photos.", n=limit))
    prepared = [prepare(f) for f in files]
    photos: list[Photo] = []
    try:
        for item in prepared:
            photos.append(store(session, user, item, now))
    except BaseException:
        discard(photos)
        raise
    return photos


def discard(photos: list[Photo]) -> None:
    """Remove stored files whose rows will not be kept (the caller rolls back)."""
    storage = get_storage()
    for photo in photos:
        storage.delete(photo.storage_key)
