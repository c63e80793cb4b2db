"""Strip the example notebooks for committing: outputs, execution counts and widget state go,
except the text output of cells marked ``# NBVAL_CHECK_OUTPUT``, which is the reference nbval
compares a fresh run with (see examples/sanitize.cfg).

    .venv/bin/python scripts/strip_notebooks.py              # every examples/*.ipynb, in place
    .venv/bin/python scripts/strip_notebooks.py --check      # exit 1 if one is not stripped

tests/test_notebooks.py runs the check, so an unstripped notebook fails CI.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARK = "# NBVAL_CHECK_OUTPUT"


def source(cell: dict) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def stripped(nb: dict) -> dict:
    """A copy of notebook ``nb`` (nbformat 4 JSON) as it should be committed."""
    nb = json.loads(json.dumps(nb))
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("execution", None)
        if cell["cell_type"] != "code":
            continue
        if MARK in source(cell):
            cell["outputs"] = [
                {"name": o["name"], "output_type": "stream", "text": o["text"]}
                for o in cell["outputs"]
                if o.get("output_type") == "stream" and o.get("name") == "stdout"
            ]
            # nbval ignores a reference output whose cell has no execution count ("unrun")
            if not cell["outputs"]:
                cell["execution_count"] = None
        else:
            cell["execution_count"] = None
            cell["outputs"] = []
    return nb


def dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: examples/*)")
    parser.add_argument("--check", action="store_true", help="only check, change nothing")
    args = parser.parse_args(argv)
    paths = args.paths or sorted((ROOT / "examples").glob("*.ipynb"))
    bad = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        want = dumps(stripped(json.loads(text)))
        if want != text:
            bad.append(path)
            if not args.check:
                path.write_text(want, encoding="utf-8")
    for path in bad:
        print(f"{'not stripped' if args.check else 'stripped'}: {path}")
    return 1 if (bad and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
