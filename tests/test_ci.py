"""`.ci/run`: Chromium present (installed when missing and root), then the README's `make test`."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\necho \"{name} $*\" >> \"$CALLS\"\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def ci(tmp_path):
    """A copy of .ci/run in an empty tree, with stub make/apt-get/id/chromium on PATH."""
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname",):
        os.symlink(shutil.which(tool), bin_dir / tool)

    def run(*, root: bool, chromium: bool, apt: str = "installs"):
        for name in ("make", "apt-get", "id", "chromium"):
            (bin_dir / name).unlink(missing_ok=True)
        stub(bin_dir, "make", "pwd >> \"$CALLS\"")
        stub(bin_dir, "id", f"echo {0 if root else 1000}")
        bodies = {
            "installs": f"[ \"$1\" = install ] && printf '#!/bin/sh\\necho chromium 1\\n' > "
                        f"{bin_dir}/chromium && chmod +x {bin_dir}/chromium; true",
            "noop": "true",
            "fails": "exit 100",
        }
        stub(bin_dir, "apt-get", bodies[apt])
        if chromium:
            stub(bin_dir, "chromium", "echo Chromium 150")
        calls = tmp_path / "calls.txt"
        calls.write_text("")
        result = subprocess.run(
            ["/bin/bash", str(tmp_path / ".ci" / "run")],
            env={"PATH": str(bin_dir), "CALLS": str(calls)},
            capture_output=True, text=True, timeout=60,
        )
        lines = [line for line in calls.read_text().splitlines() if not line.startswith("id")]
        return result, lines

    return run, tmp_path


def test_missing_chromium_is_installed_as_root_before_make_test(ci):
    run, tree = ci
    result, calls = run(root=True, chromium=False)
    assert result.returncode == 0, result.stderr
    assert calls[0] == "apt-get update -qq"
    assert calls[1] == "apt-get install -y -qq --no-install-recommends chromium"
    assert calls[-2:] == ["make test", str(tree)]


@pytest.mark.parametrize("apt", ["fails", "noop"])
def test_a_failed_install_fails_ci_before_the_tests(ci, apt):
    run, _ = ci
    result, calls = run(root=True, chromium=False, apt=apt)
    assert result.returncode == 1
    assert "could not install chromium" in result.stderr
    assert not any(c.startswith("make") for c in calls)


def test_present_chromium_is_used_as_is(ci):
    run, tree = ci
    result, calls = run(root=True, chromium=True)
    assert result.returncode == 0
    assert not any(c.startswith("apt-get") for c in calls)
    assert calls[-2:] == ["make test", str(tree)]


def test_without_root_ci_warns_and_still_runs_the_tests(ci):
    run, _ = ci
    result, calls = run(root=False, chromium=False)
    assert result.returncode == 0
    assert "browser test will be skipped" in result.stderr
    assert not any(c.startswith("apt-get") for c in calls)
    assert calls[-2] == "make test"


def test_the_ci_command_is_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")
