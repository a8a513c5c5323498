"""Mentors and admins import earnings from a shop's CSV: upload or paste, preview, confirm."""
import base64
import binascii

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, TextAreaField
from wtforms.validators import DataRequired

from app.checkins import imports
from app.core import audit
from app.database import utcnow
from app.extensions import db
from app.core.access import staff_required

bp = Blueprint("import", __name__)


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file from the shop"), render_kw={"accept": ".csv,.txt,.tsv,text/csv,text/plain"})
    text = TextAreaField(_l("Or paste the rows here"),
                         render_kw={"rows": 6, "spellcheck": "false", "autocomplete": "off",
                                    "placeholder": "手机号,日期,收入,订单数\n13812345678,2024-05-01,12.50,3"})


class ConfirmForm(FlaskForm):
    csv = HiddenField(validators=[DataRequired()])      # the previewed text, base64 of its UTF-8
    digest = HiddenField(validators=[DataRequired()])   # what the preview showed: a changed file or plan is refused


def _uploaded_text(form: ImportForm) -> str:
    """The file if one was chosen, else what was pasted; ValueError with a message for a bad upload."""
    upload = form.file.data
    if upload and getattr(upload, "filename", ""):
        data = upload.read(imports.MAX_BYTES + 1)
        if len(data) > imports.MAX_BYTES:
            raise ValueError(_("The file is too large: import at most %(n)d KB at a time.",
                               n=imports.MAX_BYTES // 1024))
        return imports.decode_csv(data)
    text = form.text.data or ""
    if not text.strip():
        raise ValueError(_("Choose a file or paste the rows."))
    if len(text.encode()) > imports.MAX_BYTES:
        raise ValueError(_("The file is too large: import at most %(n)d KB at a time.", n=imports.MAX_BYTES // 1024))
    return text


def _preview_page(preview, text: str, status: int = 200):
    confirm = ConfirmForm(formdata=None, csv=base64.b64encode(text.encode()).decode(), digest=preview.digest)
    again = ImportForm(formdata=None, text=text)
    return render_template("checkins/import_preview.html", preview=preview, confirm=confirm, form=again), status


@bp.get("/import")
@staff_required
def import_form():
    return render_template("checkins/import.html", form=ImportForm(), errors=[])


@bp.post("/import/preview")
@staff_required
def import_preview():
    form = ImportForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        text = _uploaded_text(form)
    except ValueError as e:
        return render_template("checkins/import.html", form=form, errors=[e.args[0]]), 422
    preview = imports.preview_import(db.session, current_user, text, utcnow())
    if preview.errors:
        form.text.data = text  # keep what she sent, to fix it in place
        return render_template("checkins/import.html", form=form, errors=preview.errors), 422
    return _preview_page(preview, text)


@bp.post("/import/confirm")
@staff_required
def import_confirm():
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        text = base64.b64decode(form.csv.data, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        abort(400)
    now = utcnow()
    try:
        result = imports.apply_import(db.session, current_user, text, now, digest=form.digest.data)
    except imports.ImportChanged as e:
        flash(_("The file or the check-ins changed since the preview, so nothing was imported. "
                "Check the new preview and confirm again."), "warning")
        return _preview_page(e.preview, text, 409)
    except imports.ImportFailed as e:
        flash(str(e.message), "danger")
        preview = imports.preview_import(db.session, current_user, text, now)
        if preview.errors:
            return render_template("checkins/import.html", form=ImportForm(formdata=None, text=text),
                                   errors=preview.errors), 422
        return _preview_page(preview, text, 422)
    audit.record(db.session, current_user, "checkins.import", "import", created=result.created,
                 updated=result.updated)
    db.session.commit()
    flash(_("Imported. Check-ins created: %(created)d; updated: %(updated)d.",
            created=result.created, updated=result.updated), "success")
    return redirect(url_for("import.import_form"))
