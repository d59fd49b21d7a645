"""Every run-time module imports on Windows and on macOS, not only here.

Each platform is faked in a fresh interpreter: ``sys.platform`` set as it reads there,
and the modules that platform lacks made unimportable (POSIX's terminal and process
modules on Windows; Windows' console modules elsewhere). Then every module of the
package outside training, evaluation and the benchmarks is imported, and the UI's key
reader is built. A module that imported ``termios`` at import time (the UI did) fails.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MISSING = {
    "win32": ["termios", "tty", "fcntl", "resource", "pwd", "grp", "pty", "curses", "readline"],
    "darwin": ["msvcrt", "winreg", "winsound"],
}
PROBE = r'''
import importlib, importlib.abc, pkgutil, sys
platform, missing = sys.argv[1], set(sys.argv[2].split(","))

class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in missing:
            raise ImportError(f"No module named {name!r} (not on {platform})")

# the standard library and the third-party packages are this machine's own builds, which
# choose their platform code at import: load them first, as they are; only ours is tested
for name in ("subprocess", "multiprocessing", "multiprocessing.connection", "multiprocessing.reduction",
             "concurrent.futures.process", "asyncio", "selectors", "ctypes", "ctypes.util", "shutil", "tempfile",
             "socket", "uuid", "platform", "logging.handlers", "mido", "rtmidi", "numpy", "onnxruntime", "rich",
             "rich.console", "rich.live", "rich.panel", "rich.table", "rich.text", "sounddevice", "tomllib"):
    try:
        importlib.import_module(name)
    except ImportError:
        pass
for name in missing:
    sys.modules.pop(name, None)
sys.meta_path.insert(0, Missing())
sys.platform = platform
import assistant
skipped = ("assistant.train", "assistant.evaluation", "assistant.bench", "assistant.midi._jackmidi")
names = [m.name for m in pkgutil.walk_packages(assistant.__path__, "assistant.")
         if not m.name.startswith(skipped)]
for name in names:
    importlib.import_module(name)
from assistant.app.keyreader import KeyReader
KeyReader()
print("imported", len(names))
'''


@pytest.mark.parametrize("platform", sorted(MISSING))
def test_every_run_time_module_imports_on(platform):
    done = subprocess.run([sys.executable, "-c", PROBE, platform, ",".join(MISSING[platform])], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    count = int(done.stdout.split()[-1])
    assert count > 60  # every module of the run time, not a handful
