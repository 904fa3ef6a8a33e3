"""``python -m lab.refbuilder``: the reference builder inside a runner (see ``_cli``)."""

import sys

from lab.refbuilder._cli import main

sys.exit(main())
