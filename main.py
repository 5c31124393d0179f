"""`python main.py [--port N]`: start the service, as the seed did (its Flutter app runs this).

Same as `whatsapp-scheduler serve [options]`. Run it with the project's environment
(`.venv/bin/python main.py`); plain `python main.py` re-runs itself under `.venv` when the
dependencies are not importable but `.venv` exists.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _reexec_in_venv() -> None:
    venv_python = Path(__file__).resolve().parent / ".venv" / "bin" / "python"
    if venv_python.exists() and Path(sys.executable).resolve() != venv_python.resolve():
        os.execv(str(venv_python), [str(venv_python), *sys.argv])


try:
    from whatsapp_scheduler.cli import main
except ImportError:
    _reexec_in_venv()
    raise

if __name__ == "__main__":
    main(["serve", *sys.argv[1:]])
