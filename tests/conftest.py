import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "gr-gensem", "python"))
sys.path.insert(0, ROOT)  # receiver_ai/ (the GPU receiver package) lives at the repository root
sys.path.insert(0, os.path.join(ROOT, "tests"))  # shared test signals (tests/signal_sources.py)
