import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "gr-gensem", "python"))
sys.path.insert(0, ROOT)  # receiver_ai/ (the GPU receiver package) lives at the repository root
sys.path.insert(0, os.path.join(ROOT, "tests"))  # shared test signals (tests/signal_sources.py)


def pytest_sessionfinish(session, exitstatus):
    """Stop the CURVE authenticator threads the ZeroMQ tests started (one per context)."""
    session.config._gensem_exitstatus = int(exitstatus)
    sec = sys.modules.get("gensem.core.zmq_security")
    for auth, _ in list(getattr(sec, "_auth", {}).values()):
        try:
            auth.stop()
        except Exception:  # already stopped, or its context is gone
            pass


def pytest_unconfigure(config):
    """A library thread that outlives the tests (non-daemon) would keep the interpreter from
    exiting after the summary: name it on stderr and end the process with pytest's status."""
    import threading

    left = [t.name for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if left:
        print(f"conftest: non-daemon threads left at exit: {left}; exiting anyway", file=sys.stderr)
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(getattr(config, "_gensem_exitstatus", 0))

