"""`qrun validate` over 200 generated specs versus merely parsing them with tomllib (same run).

Also checks that validating template-only specs does not import qiskit.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _specs import write_specs

COUNT = 200


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = write_specs(root, COUNT)
        start = time.perf_counter()
        for _ in range(5):
            for p in paths:
                tomllib.loads(p.read_text(encoding="utf-8"))
        parse = (time.perf_counter() - start) / 5
        from runner.cli import main as qrun

        start = time.perf_counter()
        code = qrun(["--repo", str(root), "--quiet", "validate"])
        first = time.perf_counter() - start
        start = time.perf_counter()
        qrun(["--repo", str(root), "--quiet", "validate"])
        warm = time.perf_counter() - start
        assert code == 0
        probe = (
            "import sys, runner.cli as c; c.main(['--repo', sys.argv[1], '--quiet', 'validate']); "
            "print('qiskit' in sys.modules)"
        )
        imported = subprocess.run(
            [sys.executable, "-c", probe, str(root)], capture_output=True, text=True, check=True
        ).stdout.strip()
        cli = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "runner", "--repo", str(root), "--quiet", "validate"], check=True
        )
        cli = time.perf_counter() - cli
        base = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        base = time.perf_counter() - base
    print(
        f"validate {COUNT} specs: tomllib parse {parse * 1e3:.1f} ms; qrun validate in-process "
        f"{first * 1e3:.0f} ms (first), {warm * 1e3:.0f} ms (warm) -> ratio {first / parse:.1f}x "
        f"(first) / {warm / parse:.1f}x (warm)"
    )
    print(
        f"validate CLI process {cli * 1e3:.0f} ms vs bare python start {base * 1e3:.0f} ms; "
        f"qiskit imported: {imported}"
    )


if __name__ == "__main__":
    main()
