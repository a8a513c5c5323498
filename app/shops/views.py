"""Admin pages: shops (create, rotate a secret; the secret is shown once) and each cohort's shop ids."""
import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.accounts.models import User
from app.core.access import Role, require_admin
from app.core import audit
from app.cohorts.models import Cohort
from app.database import utcnow
from app.extensions import db
from app.shops import service
from app.shops.models import Shop, ShopMember

bp = Blueprint("shops", __name__, url_prefix="/admin")
bp.before_request(require_admin)


def _text(value):
    return value.replace("\x00", "").strip() if isinstance(value, str) else value


class ShopForm(FlaskForm):
    name = StringField(_l("Shop name"), validators=[DataRequired(), Length(max=80)], filters=[_text])


class ShopIdForm(FlaskForm):
    shop = SelectField(_l("Shop"), coerce=int)
    trainee = SelectField(_l("Trainee"), coerce=int)
    external_id = StringField(_l("Her id at the shop"), validators=[DataRequired(), Length(max=service.MAX_ID)],
                              filters=[_text])


def _shops_page(form: ShopForm, status: int = 200, shop: Shop | None = None, secret: str | None = None):
    page = render_template("shops/shops.html", form=form, shops=service.list_shops(db.session),
                           new_shop=shop, secret=secret)
    return page, status, {"Cache-Control": "no-store"}  # a page with a secret stays in no cache


@bp.get("/shops")
def shops():
    return _shops_page(ShopForm())


@bp.post("/shops")
def create_shop():
    form = ShopForm()
    if not form.validate_on_submit():
        return _shops_page(form, 422)
    shop = service.create_shop(db.session, form.name.data, utcnow())
    audit.record(db.session, current_user, "shop.create", f"shop:{shop.id}", name=shop.name)
    db.session.commit()
    return _shops_page(ShopForm(formdata=None), 201, shop, shop.secret)


@bp.post("/shops/<int:shop_id>/rotate")
def rotate_secret(shop_id: int):
    shop = db.session.get(Shop, shop_id) or abort(404)
    secret = service.rotate_secret(db.session, shop, utcnow())
    audit.record(db.session, current_user, "shop.rotate", f"shop:{shop.id}", name=shop.name)
    db.session.commit()
    return _shops_page(ShopForm(formdata=None), 200, shop, secret)


def _shop_ids_page(cohort: Cohort, form: ShopIdForm, status: int = 200):
    return render_template("shops/shop_ids.html", cohort=cohort, form=form,
                           members=service.cohort_members(db.session, cohort.id)), status


def _shop_id_form(cohort: Cohort) -> ShopIdForm:
    form = ShopIdForm()
    form.shop.choices = [(s.id, s.name) for s in service.list_shops(db.session)]
    form.trainee.choices = [(u.id, u.name) for u in db.session.scalars(
        sa.select(User).where(User.cohort_id == cohort.id, User.role == Role.TRAINEE).order_by(User.name))]
    return form


@bp.get("/cohorts/<int:cohort_id>/shop-ids")
def shop_ids(cohort_id: int):
    cohort = db.session.get(Cohort, cohort_id) or abort(404)
    return _shop_ids_page(cohort, _shop_id_form(cohort))


@bp.post("/cohorts/<int:cohort_id>/shop-ids")
def add_shop_id(cohort_id: int):
    cohort = db.session.get(Cohort, cohort_id) or abort(404)
    form = _shop_id_form(cohort)
    if not form.validate_on_submit():
        return _shop_ids_page(cohort, form, 422)
    shop, user = db.session.get(Shop, form.shop.data), db.session.get(User, form.trainee.data)
    try:
        member = service.map_external_id(db.session, shop, user, form.external_id.data, utcnow())
    except ValueError as e:
        db.session.rollback()
        form.external_id.errors.append(e.args[0])
        return _shop_ids_page(cohort, form, 422)
    audit.record(db.session, current_user, "shop_id.add", user, shop=shop.name, external_id=member.external_id)
    db.session.commit()
    flash(_("Mapped."), "success")
    return redirect(url_for("shops.shop_ids", cohort_id=cohort.id))


@bp.post("/shop-ids/<int:member_id>/delete")
def delete_shop_id(member_id: int):
    member = db.session.get(ShopMember, member_id) or abort(404)
    user = db.session.get(User, member.user_id)
    audit.record(db.session, current_user, "shop_id.remove", user, shop=member.shop.name,
                 external_id=member.external_id)
    db.session.delete(member)
    db.session.commit()
    flash(_("Removed."), "success")
    return redirect(url_for("shops.shop_ids", cohort_id=user.cohort_id) if user.cohort_id
                    else url_for("shops.shops"))
