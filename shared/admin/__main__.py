"""``python -m shared.admin``: the same program as ``scimctl``."""

import sys

from .cli import main

sys.exit(main())
