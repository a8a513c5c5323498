"""Camp pages."""
from flask import Blueprint

bp = Blueprint("camp", __name__)
