"""Celery entry point: ``celery -A app.worker worker``."""

import gc
import importlib

from app import create_app
from app.jobs import make_celery

flask_app = create_app()
celery = make_celery(flask_app)

# The signing engine (pyHanko, fontTools, HarfBuzz, asn1crypto: ≈ 0.8 s of imports) is loaded here, in
# the parent, before the pool forks: otherwise every worker process paid for it inside the first chunk
# it signed (measured: a batch's first chunk took 1.1 s instead of 0.2 s on the process that had not
# signed before).
for _engine in ("app.signing.pdf", "app.signing.timestamping"):  # (create_app loaded the rest)
    importlib.import_module(_engine)
# ... and what is loaded now lives as long as the process: moved out of the collector's sight, so that
# a worker's first full collection does not walk it (it took ≈ 150 ms of the first chunk), and the
# forked processes keep sharing its pages (a collection writes to every object it visits).
gc.freeze()
