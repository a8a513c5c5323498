"""The Account page for personal access tokens: list, create (the secret is shown once), revoke."""
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from app.api.models import create_token
from app.api.tokens import list_tokens, revoke_token
from app.database import utcnow
from app.extensions import db

bp = Blueprint("token", __name__, url_prefix="/account/tokens")


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=80)],
                       # NUL out: PostgreSQL refuses it in text (a 500 on saving).
                       filters=[lambda value: value.replace("\x00", "").strip() if isinstance(value, str) else value],
                       render_kw={"autocomplete": "off", "maxlength": 80})


def _page(form: TokenForm, status: int = 200, secret: str | None = None):
    response = render_template("api/tokens.html", form=form, tokens=list_tokens(db.session, current_user),
                               secret=secret)
    headers = {"Cache-Control": "no-store"}  # never keep a page with a secret in a cache or history
    return response, status, headers


@bp.get("")
@login_required
def index():
    return _page(TokenForm())


@bp.post("")
@login_required
def create():
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    _token, secret = create_token(db.session, current_user, form.name.data, utcnow())
    db.session.commit()
    # Rendered here and only here: the secret is never stored, flashed or put in a URL.
    return _page(TokenForm(formdata=None), 201, secret=secret)


@bp.post("/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):
    if revoke_token(db.session, current_user, token_id, utcnow()) is None:
        abort(404)
    db.session.commit()
    flash(_("Token revoked. Apps using it can no longer reach your account."), "success")
    return redirect(url_for("token.index"))
