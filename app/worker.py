"""Celery entry point: ``celery -A app.worker worker``."""

from app import create_app
from app.jobs import make_celery

flask_app = create_app()
celery = make_celery(flask_app)
