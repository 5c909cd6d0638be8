"""``python -m xai_helpers.run.batch``."""

import sys

from .cli import main

sys.exit(main())
