"""ttorch keeps freed host memory for reuse (glibc mallopt) unless TTORCH_MALLOC_CACHE=0."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBE = "import ttorch._malloc as m; print(m.applied)"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_applied_on_glibc_and_opt_out():
    import platform
    on = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    off = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, TTORCH_MALLOC_CACHE="0"))
    assert on.stdout.strip() == ("True" if platform.libc_ver()[0] == "glibc" else "False")
    assert off.stdout.strip() == "False"
