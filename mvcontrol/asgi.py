"""The ASGI application: what production serves (gunicorn with uvicorn workers) and the demo too.

Ordinary API views stay synchronous (Django runs them in a thread); the event stream
(live/views.py) is asynchronous, so an open stream holds no thread.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mvcontrol.settings")
os.environ["MVCONTROL_SERVER"] = "asgi"  # the settings give this process a connection pool

application = get_asgi_application()
