"""Xiaob Academy: the training platform that turns newcomer resellers into earning ones.

`create_app()` (app/factory.py) builds it; docs/architecture.md maps the folders.
"""
from app.factory import create_app

__all__ = ["create_app"]
