"""Photo uploads: checked by content, re-encoded to a clean JPEG, kept in a storage.

    photo = save_upload(db.session, user, request.files["photo"], now)   # raises DomainError

Every check runs on the bytes in memory before anything is written, so a refused file leaves
no file and no row. The stored JPEG is rebuilt from pixels only: no EXIF (GPS, camera, time),
no XMP, no ICC profile, no comments. Keys are random; the user's file name is never used.

Memory is bounded before any pixel is decoded: the header's declared size must stay under the
decompression-bomb limit (BOMB_PIXELS), and the pixels actually decoded under UPLOAD_MAX_PIXELS. A
JPEG is decoded at a reduced scale (1/2 to 1/8) when it is much bigger than what we keep, so a
50 or 108 megapixel phone photo fits the budget; a PNG or WebP is decoded whole, so a 36 megapixel
PNG of 140 KB (which would take ~330 MB to decode) is refused from its header.

Each photo is stored in three sizes under one random key: the full size (2048 px), a medium size
(1280 px) and a thumbnail (320 px, at most 30 KB) that lists show. Every file is written before the
row, and a failure removes what was written: never a row without its files.

Settings: UPLOAD_MAX_BYTES (8 MB), UPLOAD_MAX_PIXELS (16 megapixels decoded); UPLOAD_STORAGE "local"
(files under UPLOAD_DIR, default instance/uploads) or "s3" (S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY,
S3_SECRET_KEY, S3_REGION, S3_ADDRESSING_STYLE, S3_TIMEOUT: an S3-compatible bucket, which every web
machine shares).
"""
import functools
import io
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import boto3
import sqlalchemy as sa
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from app.camp.models import Photo
from app.core.errors import DomainError

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_PIXELS = 4096 * 4096   # decoded at once: ~65 MB as RGBA, a few copies while scaling
BOMB_PIXELS = 128_000_000          # declared by the header: refused before anything else is read
# Pillow's own decompression-bomb check, for every image this process opens: it warns above this
# and refuses above twice this. Ours (BOMB_PIXELS, same number) refuses first, with her message.
Image.MAX_IMAGE_PIXELS = BOMB_PIXELS
MAX_SIDE = 2048          # long side of the stored JPEG: sharp on any phone, ~0.5-1 MB
QUALITY = 85
# Smaller sizes made at upload, stored beside the full size (sized_key). Lists show the thumbnail:
# a third of a 390-px phone screen is ~130 CSS px, 260-390 real pixels.
THUMB_SIDE = 320         # both sides at most this
THUMB_MAX_BYTES = 30_000
THUMB_QUALITIES = (75, 65, 55, 45, 35)   # the first that fits THUMB_MAX_BYTES
MEDIUM_SIDE = 1280       # a phone screen's width at 3x, for clients that show one photo large
MEDIUM_QUALITY = 80
SIZES = ("thumb", "medium")
MAX_PHOTOS = 3           # per check-in or post
# "MPO" is what Pillow calls an iPhone JPEG carrying a second (depth) picture: still a JPEG.
ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}
# ISO-BMFF brands of HEIC/HEIF files (an iPhone's "High Efficiency" photos), which Pillow cannot read.
HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}


# --- storage ---------------------------------------------------------------------------------

class StorageUnavailable(RuntimeError):
    """The storage could not be reached (an object store that is down): nothing was read or written."""


class Storage:
    """Where photo files (and rendered posters) live, by key: save, open, delete. LocalStorage (one
    machine's disk, the default) or S3Storage (an S3-compatible bucket), chosen by UPLOAD_STORAGE."""

    def save(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def open(self, key: str) -> bytes:
        """The file's bytes; FileNotFoundError if there is none, StorageUnavailable if unreachable."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Gone (already gone is fine)."""
        raise NotImplementedError


# Our keys only (random hex, or a poster's digest): nothing that could climb out of a directory.
_KEY = re.compile(r"^[0-9a-f]{16,64}(-thumb|-medium)?\.jpg$|^[0-9a-f]{64}\.png$")


def _checked(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"bad storage key {key!r}")
    return key


def sized_key(key: str, size: str) -> str:
    """Where the `size` ("thumb", "medium"; "full": the key itself) of the photo stored under `key` is."""
    if size == "full":
        return key
    if size not in SIZES:
        raise ValueError(f"no photo size {size!r}")
    return key.removesuffix(".jpg") + f"-{size}.jpg"


class LocalStorage(Storage):
    """Files in one directory, named by their key."""

    def __init__(self, directory):
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        return self.directory / _checked(key)

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


class S3Storage(Storage):
    """Objects in a bucket of any S3-compatible service, by key (boto3). A PUT is atomic: an object is
    there whole or not at all. The bucket stays private: the app reads the objects and serves them
    under its own access rules, so no bucket URL ever reaches a browser."""

    def __init__(self, client, bucket: str):
        self.client, self.bucket = client, bucket

    def _call(self, operation: str, key: str, **extra):
        try:
            return getattr(self.client, operation)(Bucket=self.bucket, Key=_checked(key), **extra)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(key) from None
            raise StorageUnavailable(f"object storage refused {operation} {key}: {code or error}") from error
        except BotoCoreError as error:  # could not connect, timed out, ...
            raise StorageUnavailable(f"object storage unreachable ({operation} {key}): {error}") from error

    def save(self, key: str, data: bytes) -> None:
        content_type = "image/png" if key.endswith(".png") else "image/jpeg"
        self._call("put_object", key, Body=data, ContentType=content_type)

    def open(self, key: str) -> bytes:
        return self._call("get_object", key)["Body"].read()

    def delete(self, key: str) -> None:
        self._call("delete_object", key)


@functools.lru_cache(maxsize=4)
def _s3_client(endpoint, access_key, secret_key, region, addressing_style, timeout):
    """One client per settings, shared by a process's threads (boto3 clients are thread-safe, and
    making one costs tens of milliseconds)."""
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint or None, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        region_name=region, config=Config(
            signature_version="s3v4", s3={"addressing_style": addressing_style},
            connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 2, "mode": "standard"}))


def check_settings(config) -> None:
    """At start-up: a storage that cannot work is a clear error then, not a failed upload later."""
    kind = config.get("UPLOAD_STORAGE") or "local"
    if kind not in ("local", "s3"):
        raise RuntimeError(f"UPLOAD_STORAGE must be local or s3, not {kind!r}")
    missing = [name for name in ("S3_BUCKET", "S3_ACCESS_KEY", "S3_SECRET_KEY") if not config.get(name)]
    if kind == "s3" and missing:
        raise RuntimeError(f"UPLOAD_STORAGE=s3 needs {', '.join(missing)}")


def get_storage() -> Storage:
    config = current_app.config
    if config.get("UPLOAD_STORAGE") == "s3":
        client = _s3_client(config.get("S3_ENDPOINT"), config["S3_ACCESS_KEY"], config["S3_SECRET_KEY"],
                            config.get("S3_REGION") or "us-east-1", config.get("S3_ADDRESSING_STYLE") or "auto",
                            int(config.get("S3_TIMEOUT") or 10))
        return S3Storage(client, config["S3_BUCKET"])
    return LocalStorage(config.get("UPLOAD_DIR") or Path(current_app.instance_path) / "uploads")


# --- checking and re-encoding ----------------------------------------------------------------

@dataclass
class Prepared:
    """A photo that passed every check, re-encoded in each size and ready to store."""
    data: bytes
    width: int
    height: int
    thumb: bytes
    thumb_width: int
    thumb_height: int
    medium: bytes

    def files(self) -> dict[str, bytes]:
        return {"full": self.data, "thumb": self.thumb, "medium": self.medium}


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()


def smaller_sizes(clean: Image.Image) -> tuple[Image.Image, bytes, bytes]:
    """The thumbnail (its image and JPEG, under THUMB_MAX_BYTES) and the medium size's JPEG."""
    thumb = clean.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    for quality in THUMB_QUALITIES:
        thumb_jpeg = _jpeg(thumb, quality)
        if len(thumb_jpeg) <= THUMB_MAX_BYTES:
            break
    while len(thumb_jpeg) > THUMB_MAX_BYTES:  # noise-like pixels even at the lowest quality: smaller still
        thumb.thumbnail((thumb.width * 3 // 4, thumb.height * 3 // 4), Image.Resampling.LANCZOS)
        thumb_jpeg = _jpeg(thumb, THUMB_QUALITIES[-1])
    medium = clean.copy()
    medium.thumbnail((MEDIUM_SIDE, MEDIUM_SIDE), Image.Resampling.LANCZOS)
    return thumb, thumb_jpeg, _jpeg(medium, MEDIUM_QUALITY)


def _read(file_storage, max_bytes: int) -> bytes:
    if file_storage is None:
        raise DomainError(_l("Choose a photo to upload."))
    data = file_storage.stream.read(max_bytes + 1)  # never more than the limit in memory
    if not data:
        raise DomainError(_l("Choose a photo to upload."))
    if len(data) > max_bytes:
        raise DomainError(_l("This photo is too big: at most %(mb)s MB.", mb=f"{max_bytes / (1024 * 1024):g}"))
    return data


def _too_large(max_pixels: int) -> DomainError:
    return DomainError(_l("This image is too large: at most %(mp)d megapixels.", mp=max_pixels // 1_000_000))


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Open from the bytes (never the name or the browser's content type) and check the header.

    Nothing is decoded here: Pillow's open() reads the header only. The image comes back set up to
    decode at most `max_pixels` (a JPEG at a reduced scale when it is much bigger than MAX_SIDE)."""
    if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
        raise DomainError(_l("HEIC photos cannot be uploaded yet. On an iPhone, choose Settings > Camera > "
                             "Formats > Most Compatible, or upload a screenshot of the photo."))
    try:
        image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(max_pixels) from None  # pytest turns Pillow's warning into an error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise DomainError(_l("Only JPEG, PNG or WebP photos can be uploaded.")) from None
    # GIF (animations) and anything else Pillow reads but we do not take; SVG never opens at all.
    if image.format not in ACCEPTED_FORMATS:
        raise DomainError(_l("Only JPEG, PNG or WebP photos can be uploaded."))
    if image.width * image.height > BOMB_PIXELS:
        raise _too_large(max_pixels)
    # A JPEG can be decoded at 1/2, 1/4 or 1/8 scale: choose the smallest still >= MAX_SIDE. This
    # changes image.size to what load() will decode, without decoding; other formats keep theirs.
    image.draft("RGB", (MAX_SIDE, MAX_SIDE))
    if image.width * image.height > max_pixels:
        raise _too_large(max_pixels)
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
        data = _jpeg(clean, QUALITY)
        thumb, thumb_jpeg, medium_jpeg = smaller_sizes(clean)
    except DomainError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(max_pixels) from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError):
        raise DomainError(_l("This photo could not be read: it may be damaged. Try another one.")) from None
    return Prepared(data, clean.width, clean.height, thumb_jpeg, thumb.width, thumb.height, medium_jpeg)


def _save_all(storage: Storage, files: dict[str, bytes]) -> None:
    """Write every file, or none: a failure removes those already written and says so in her words."""
    written = []
    try:
        for key, data in files.items():
            storage.save(key, data)
            written.append(key)
    except Exception as error:
        current_app.logger.warning("photo storage refused a write: %r", error)
        _forget(storage, written)
        raise DomainError(_l("Your photos could not be saved just now, and nothing was kept. "
                             "Please try again in a few minutes."), status=503, code="storage") from error


def _forget(storage: Storage, keys) -> None:
    """Best-effort removal: an object left without a row wastes a little space; the reverse (a row
    without its object) is what must never happen."""
    for key in keys:
        try:
            storage.delete(key)
        except Exception as error:
            current_app.logger.warning("photo storage could not delete %s: %r", key, error)


def store(session: Session, user, prepared: Prepared, now: datetime) -> Photo:
    """Write the files under a random key, then add the row (flushed, not committed)."""
    storage = get_storage()
    key = f"{secrets.token_hex(16)}.jpg"
    _save_all(storage, {sized_key(key, size): data for size, data in prepared.files().items()})
    photo = Photo(user_id=user.id, storage_key=key, content_type="image/jpeg", width=prepared.width,
                  height=prepared.height, size=len(prepared.data), thumb_width=prepared.thumb_width,
                  thumb_height=prepared.thumb_height, created_at=now)
    session.add(photo)
    try:
        session.flush()
    except BaseException:
        _forget(storage, [sized_key(key, size) for size in prepared.files()])  # no row, no file
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
    _forget(get_storage(), [sized_key(photo.storage_key, size) for photo in photos for size in ("full", *SIZES)])


def make_missing_sizes(session: Session, *, batch: int = 50) -> int:
    """Make the thumbnail and medium size of every photo that lacks them (uploaded before they
    existed), from its stored full size; committed a batch at a time, so it can be stopped and run
    again. Returns how many were made; a photo whose file is missing is logged and skipped."""
    storage, made, skipped = get_storage(), 0, set()
    while True:
        rows = session.scalars(sa.select(Photo).where(Photo.thumb_width.is_(None), Photo.id.not_in(skipped or [0]))
                               .order_by(Photo.id).limit(batch)).all()
        if not rows:
            return made
        for photo in rows:
            try:
                with Image.open(io.BytesIO(storage.open(photo.storage_key))) as full:  # our own clean JPEG
                    full.load()
                    thumb, thumb_jpeg, medium_jpeg = smaller_sizes(full.convert("RGB"))
            except (FileNotFoundError, OSError) as error:
                current_app.logger.warning("photo %s: no sizes made: %r", photo.id, error)
                skipped.add(photo.id)
                continue
            storage.save(sized_key(photo.storage_key, "thumb"), thumb_jpeg)
            storage.save(sized_key(photo.storage_key, "medium"), medium_jpeg)
            photo.thumb_width, photo.thumb_height = thumb.width, thumb.height
            made += 1
        session.commit()
