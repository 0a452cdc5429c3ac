"""``python -m bench.chaos``: the chaos run (bench/chaos/__init__.py tells what it does)."""

import sys

from bench.chaos.run import main

sys.exit(main())
