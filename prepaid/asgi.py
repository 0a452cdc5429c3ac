"""ASGI entry point: the web process (HTTP and Server-Sent Events) runs here."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prepaid.settings")

application = get_asgi_application()
