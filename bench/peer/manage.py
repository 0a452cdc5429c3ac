#!/usr/bin/env python
"""The hordak peer's manage.py (bench/peer_throughput.py runs it with .venv-peer's Python)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
