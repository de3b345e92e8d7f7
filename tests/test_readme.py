"""Every ```python block of README.md runs, in order, as a new user would paste them.

The blocks of the README run in one fresh interpreter, in an empty folder, sharing
one namespace (a quick start may build on its previous block). A block whose fence
reads ```python skip is shown but not run.
"""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)

RUNNER = textwrap.dedent("""
    import sys, traceback
    blocks = {blocks!r}
    namespace = {{"__name__": "__main__"}}
    for number, (line, code) in enumerate(blocks, 1):
        try:
            exec(compile(code, f"README.md:{{line}}", "exec"), namespace)
        except BaseException:
            traceback.print_exc()
            print(f"README python block {{number}} (line {{line}}) failed", file=sys.stderr)
            sys.exit(1)
    print(f"ran {{len(blocks)}} blocks")
""")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of each runnable ```python block."""
    blocks = []
    for match in FENCE.finditer(text):
        if "skip" in match.group(1).split():
            continue
        blocks.append((text.count("\n", 0, match.start()) + 2, match.group(2)))
    return blocks


def run_blocks(blocks, cwd: Path, timeout: float = 300):
    return subprocess.run(
        [sys.executable, "-c", RUNNER.format(blocks=blocks)],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )


def test_blocks_are_found_with_their_lines_and_skips_honoured():
    text = "# T\n\n```python\nx = 1\n```\n\ntext\n```python skip\nboom()\n```\n```bash\nls\n```\n"
    text += "```python\nassert x == 1\n```\n"
    assert python_blocks(text) == [(4, "x = 1\n"), (15, "assert x == 1\n")]


def test_a_failing_block_is_reported_with_its_line(tmp_path):
    result = run_blocks([(4, "x = 1\n"), (9, "assert x == 2, 'x is not 2'\n")], tmp_path)
    assert result.returncode == 1
    assert "README python block 2 (line 9) failed" in result.stderr
    assert "x is not 2" in result.stderr


def test_the_readme_has_a_python_quick_start():
    assert python_blocks((ROOT / "README.md").read_text()), "README.md has no ```python block"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_readmes_python_blocks_run(tmp_path):
    blocks = python_blocks((ROOT / "README.md").read_text())
    if not blocks:
        pytest.skip("no python blocks (test_the_readme_has_a_python_quick_start fails)")
    result = run_blocks(blocks, tmp_path, timeout=540)
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"ran {len(blocks)} blocks" in result.stdout
