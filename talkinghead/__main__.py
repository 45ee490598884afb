"""``python -m talkinghead`` runs the command line."""

import sys

from talkinghead.cli import main

sys.exit(main())
