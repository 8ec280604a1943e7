"""The HTTP service: JSON API, admin page, league pages (FastAPI + Jinja2, no JS build)."""

from capo_worker.web.app import create_app

__all__ = ["create_app"]
