"""Share posters: a cohort's invite, a trainee's milestone."""
from flask import Blueprint

bp = Blueprint("posters", __name__)
