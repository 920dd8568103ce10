"""``python -m record`` runs the ``record`` command."""

import sys

from record.cli import main

sys.exit(main())
