"""gunicorn's settings for mvcontrol, read by gunicorn from the directory it is started in (the
project's root). Command-line options override them."""

# Sync workers woken one at a time for a new connection, not all at once (why:
# mvcontrol/gunicorn_worker.py).
worker_class = "mvcontrol.gunicorn_worker.SyncWorker"
