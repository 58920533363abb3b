"""A built wheel carries the schemas and validates without the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_schemas_and_validates_from_the_wheel_alone(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    wheel = next(tmp_path.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind in ("manifest", "capture-log", "collection"):
        assert f"archive/schemas/{kind}.schema.json" in names
    assert "crawler/middlewares.py" in names and "archive/demo/site.py" in names
    assert "archive/replay/client.js" in names  # (read when the replay app is imported)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import archive, archive.validation as v, archive.replay;"
        "assert archive.__file__.startswith(sys.argv[1]), archive.__file__;"
        "print(v.problems('collection', {'collection': [{'name': 'Bad'}]}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", code, str(wheel)], check=False, cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "does not match" in proc.stdout
