"""Screenshot of flowgraphs/loopback_gui.grc: compile it with grcc, run it offscreen
for a few seconds and save the top-level Qt widget as a PNG.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/gui_screenshot.py --out docs/img/loopback_gui.png
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/img/loopback_gui.png")
    ap.add_argument("--seconds", type=float, default=4.0)
    a = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT / "gr-gensem" / "python"))
    tmp = Path(tempfile.mkdtemp(prefix="gensem_gui_"))
    env = dict(os.environ, GRC_BLOCKS_PATH=str(ROOT / "gr-gensem" / "grc"))
    subprocess.run(
        ["grcc", "-o", str(tmp), str(ROOT / "flowgraphs" / "loopback_gui.grc")],
        env=env,
        check=True,
        capture_output=True,
    )
    spec = importlib.util.spec_from_file_location("loopback_gui", tmp / "loopback_gui.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from PyQt5 import Qt

    app = Qt.QApplication(sys.argv)
    tb = mod.loopback_gui()
    mod.snippets_main_after_init(tb)
    tb.resize(1100, 1150)
    tb.start()
    tb.show()

    def grab():
        tb.grab().save(a.out)
        tb.stop()
        tb.wait()
        app.quit()

    Qt.QTimer.singleShot(int(a.seconds * 1000), grab)
    app.exec_()
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
