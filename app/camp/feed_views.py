"""The cohort's wins feed (晒单) and the photos in it."""
from flask import Blueprint

bp = Blueprint("feed", __name__)
