"""Write tests/nbval_sanitize.cfg from the one sanitizer (netlab/engine/sanitize.py, PATTERNS).

Usage: python scripts/write_nbval_sanitize.py   (after changing PATTERNS; tests/test_replay.py
fails until the committed file is what this writes)
"""
from pathlib import Path

from netlab.engine.sanitize import nbval_config

TARGET = Path(__file__).resolve().parent.parent / "tests" / "nbval_sanitize.cfg"

if __name__ == "__main__":
    TARGET.write_text(nbval_config())
    print(f"wrote {TARGET}")
