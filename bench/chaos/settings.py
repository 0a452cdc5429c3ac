"""Django settings of the chaos run: the chaos stack's services (bench/chaos/environment.py).

These values are forced, not defaults: a chaos run started from a test process must not
inherit the tests' database, Redis or topics.
"""

import os

from bench.chaos.environment import CHAOS_ENV

os.environ.update(CHAOS_ENV)

from prepaid.settings import *  # noqa: E402,F403
