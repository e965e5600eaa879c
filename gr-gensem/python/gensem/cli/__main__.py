"""``python -m gensem.cli``."""

import os
import sys

from gensem.cli import main

os.environ.setdefault("PYTHONUNBUFFERED", "1")
sys.exit(main())
