"""A battery of bad inputs and faults across every `acml` command and loader.

Each case ends in one of two ways, and nothing else:

- a non-zero exit (2 for usage errors, 1 for data and runtime errors) with exactly
  one line on stderr, ``Error: ...``, that names the problem (``match``); or
- exit 0 with a correct result, checked against what the input holds.

None may print a traceback, an "internal error" (a bug), or a number that is NaN.
The data are made here, small, in a module-scoped folder. The network is off:
every download attempt fails as it would offline.
"""

from __future__ import annotations

import io
import json
import math
import random
import re
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from acmlkit.cli import app

runner = CliRunner()


@dataclass
class Case:
    id: str
    args: list[str]
    expect: str = "error"  # error | usage | data | ok | either
    match: str | None = None
    check: object = None  # callable(result, out: Path) for ok outcomes
    marks: tuple = field(default_factory=tuple)


CASES: list[Case] = []


def case(id, args, expect="error", match=None, check=None, marks=()):
    CASES.append(Case(id, list(args), expect, match, check, tuple(marks)))


# ----------------------------------------------------------------------- checks
def mixture_fit(n, d, best_k=None):
    def check(result, out):
        data = json.loads((out / "result.json").read_text())
        assert (data["n_samples"], data["n_features"]) == (n, d)
        assert all(math.isfinite(b) for b in data["bic"])
        if best_k is not None:
            assert data["best_k"] == best_k

    return check


def stdout_has(*texts):
    def check(result, out):
        for text in texts:
            assert re.search(text, result.stdout), (text, result.stdout)

    return check


def no_nan(result, out):
    assert not re.search(r"\bnan\b", result.stdout, re.IGNORECASE), result.stdout


# ------------------------------------------------------------------------- data
POINTS = []
_rng = random.Random(0)
for cx, cy in ((0, 0), (6, 6), (0, 10)):
    for _ in range(30):
        POINTS.append((cx + _rng.gauss(0, 0.5), cy + _rng.gauss(0, 0.5)))
POINT_ROWS = [f"{x:.5f},{y:.5f}" for x, y in POINTS]

RATINGS = []
for user in range(1, 31):
    for item in _rng.sample(range(1, 41), 12):
        RATINGS.append((user, item, _rng.randint(1, 5)))
RATING_ROWS = [f"{u},{i},{r}" for u, i, r in RATINGS]


def png_bytes(size=8, colour=(200, 30, 30), mode="RGB"):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, (size, size), colour if mode == "RGB" else colour[0]).save(buffer, "PNG")
    return buffer.getvalue()


def image_tree(root: Path, classes=("a", "b"), n=4, sizes=None, extra=None):
    for split in ("train", "test"):
        for c, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                size = sizes[i % len(sizes)] if sizes else 8
                (folder / f"{i}.png").write_bytes(png_bytes(size, (40 * c + 20, 10 * i, 90)))
    for rel, data in (extra or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def write_files(root: Path) -> dict[str, str]:
    f = {}

    def put(name, data):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        f[name.replace(".", "_").replace("/", "_").replace("-", "_")] = str(path)
        return path

    header = "x,y\n"
    body = "\n".join(POINT_ROWS) + "\n"
    put("pts.csv", header + body)
    put("pts-noheader.csv", body)
    put("pts-bom.csv", "\ufeff" + header + body)
    put("pts-bom-noheader.csv", "\ufeff" + body)
    put("pts-crlf.csv", (header + body).replace("\n", "\r\n"))
    put("pts-blank-lines.csv", header + "\n".join(r + "\n" for r in POINT_ROWS))
    put("pts-badcell-row1.csv", "abc," + POINT_ROWS[0].split(",")[1] + "\n"
        + "\n".join(POINT_ROWS[1:]) + "\n")
    put("pts-badcell-mid.csv", header + "\n".join(POINT_ROWS[:40]) + "\n1.0,zz\n"
        + "\n".join(POINT_ROWS[40:]) + "\n")
    put("pts-nan.csv", header + "\n".join(POINT_ROWS[:10]) + "\nnan,1\n"
        + "\n".join(POINT_ROWS[10:]) + "\n")
    put("pts-inf.csv", header + "inf,1\n" + body)
    put("pts-empty.csv", "")
    put("pts-header-only.csv", header)
    put("pts-ragged.csv", header + "\n".join(POINT_ROWS[:5]) + "\n1,2,3\n"
        + "\n".join(POINT_ROWS[5:]) + "\n")
    put("pts-short-row.csv", header + "\n".join(POINT_ROWS[:5]) + "\n7\n"
        + "\n".join(POINT_ROWS[5:]) + "\n")
    put("pts-one-row.csv", header + POINT_ROWS[0] + "\n")
    put("pts-two-rows.csv", header + POINT_ROWS[0] + "\n" + POINT_ROWS[40] + "\n")
    put("pts-binary.csv", bytes(range(256)) * 8)
    put("pts-latin1.csv", ("x,\xe9t\xe9\n" + body).encode("latin-1"))
    put("pts-text.csv", "a,b\nc,d\ne,f\n")
    put("pts-1d.csv", "x\n" + "\n".join(r.split(",")[0] for r in POINT_ROWS) + "\n")
    put("pts-huge.csv", header + "\n".join(f"{1e300 * float(x):.5e},{y}" for x, y in
                                           (r.split(",") for r in POINT_ROWS)) + "\n")
    put("pts-semicolon.csv", "x;y\n" + "\n".join(r.replace(",", ";") for r in POINT_ROWS)
        + "\n")
    put("pts-quoted.csv", '"x","y"\n' + "\n".join('"' + r.replace(",", '","') + '"'
                                                  for r in POINT_ROWS) + "\n")
    put("pts-weights.csv", "x,y,w\n" + "\n".join(f"{r},1" for r in POINT_ROWS) + "\n")
    put("pts-negweights.csv", "x,y,w\n" + "\n".join(f"{r},-1" for r in POINT_ROWS) + "\n")
    put("pts-nanweights.csv", "x,y,w\n" + "\n".join(f"{r},nan" for r in POINT_ROWS) + "\n")
    put("pts-missing.csv", header + ",1.0\n" + body)
    put("pts-constant.csv", header + "1,1\n" * 90)
    (root / "adir").mkdir(exist_ok=True)
    f["adir"] = str(root / "adir")

    rheader = "userId,movieId,rating\n"
    rbody = "\n".join(RATING_ROWS) + "\n"
    put("r.csv", rheader + rbody)
    put("r-bom.csv", "\ufeff" + rheader + rbody)
    put("r-crlf.csv", (rheader + rbody).replace("\n", "\r\n"))
    put("r-timestamp.csv", "userId,movieId,rating,timestamp\n"
        + "\n".join(f"{r},978300760" for r in RATING_ROWS) + "\n")
    put("r-badcell-row1.csv", rheader + "1,5,x\n" + "\n".join(RATING_ROWS[1:]) + "\n")
    put("r-badcell-mid.csv", rheader + "\n".join(RATING_ROWS[:100]) + "\n7,3,four\n"
        + "\n".join(RATING_ROWS[100:]) + "\n")
    put("r-badid.csv", rheader + "\n".join(RATING_ROWS[:50]) + "\nu7,3,4\n"
        + "\n".join(RATING_ROWS[50:]) + "\n")
    put("r-floatid.csv", rheader + "1.5,3,4\n" + rbody)
    put("r-nan.csv", rheader + "\n".join(RATING_ROWS[:20]) + "\n2,39,nan\n"
        + "\n".join(RATING_ROWS[20:]) + "\n")
    put("r-inf.csv", rheader + "2,39,inf\n" + rbody)
    put("r-empty-rating.csv", rheader + "2,39,\n" + rbody)
    big = 2 ** 53
    put("r-bigids.csv", rheader + "\n".join(f"{big + u},{big + i},{r}" for u, i, r in RATINGS)
        + "\n")
    put("r-negids.csv", rheader + "\n".join(f"{-u},{-i},{r}" for u, i, r in RATINGS) + "\n")
    first = RATING_ROWS[0].rsplit(",", 1)[0]
    put("r-dupe.csv", rheader + rbody + f"{first},3\n")
    put("r-one-each.csv", rheader + "\n".join(f"{u},{u % 40 + 1},{1 + u % 5}"
                                              for u in range(1, 200)) + "\n")
    put("r-one-row.csv", rheader + RATING_ROWS[0] + "\n")
    put("r-header-only.csv", rheader)
    put("r-empty.csv", "")
    put("r-two-columns.csv", "userId,movieId\n" + "\n".join(r.rsplit(",", 1)[0]
                                                             for r in RATING_ROWS) + "\n")
    put("r-extra-column.csv", "userId,movieId,rating,genre,year\n"
        + "\n".join(f"{r},drama,1999" for r in RATING_ROWS) + "\n")
    put("r-udata.data", "\n".join(f"{u}\t{i}\t{r}\t881250949" for u, i, r in RATINGS) + "\n")
    put("r-udata-short.data", "\n".join(f"{u}\t{i}\t{r}\t881250949" for u, i, r in RATINGS[:9])
        + "\n7\t3\n" + "\n".join(f"{u}\t{i}\t{r}\t8" for u, i, r in RATINGS[9:]) + "\n")
    put("r-ratings.dat", "\n".join(f"{u}::{i}::{r}::978300760" for u, i, r in RATINGS) + "\n")
    put("r-binary.csv", bytes(reversed(range(256))) * 8)
    put("r-latin1.csv", (rheader + "1,2,\xe9\n" + rbody).encode("latin-1"))
    put("r-same-rating.csv", rheader + "\n".join(f"{u},{i},3" for u, i, _ in RATINGS) + "\n")
    put("r-huge-rating.csv", rheader + "\n".join(f"{u},{i},{r}e300" for u, i, r in RATINGS)
        + "\n")
    put("r-neg-rating.csv", rheader + "\n".join(f"{u},{i},{-r}" for u, i, r in RATINGS) + "\n")
    dense = [[0.0] * 25 for _ in range(20)]
    for _ in range(200):
        dense[_rng.randrange(20)][_rng.randrange(25)] = float(_rng.randint(1, 5))
    dense_text = "\n".join(",".join(f"{v:g}" for v in row) for row in dense) + "\n"
    put("dense.csv", dense_text)
    put("dense-ragged.csv", dense_text + "1,2,3\n")
    put("dense-text.csv", dense_text.replace("0,", "zero,", 1))
    put("dense-nan.csv", "nan," + dense_text.split(",", 1)[1])
    put("dense-allzero.csv", "\n".join(",".join("0" for _ in range(10)) for _ in range(8))
        + "\n")

    put("bad.json", "{not json")
    put("empty.json", "")
    put("list.json", "[1, 2, 3]")
    put("truncated.json", '{"kind": "mixture.fit", "format_version": 1, "n_samp')
    put("nokind.json", '{"a": 1}')
    put("foreign-kind.json", '{"kind": "weather.forecast", "format_version": 1}')
    put("future.json", '{"kind": "mixture.fit", "format_version": 999}')
    put("mixture-missing.json", '{"kind": "mixture.fit", "format_version": 1}')
    put("mf-missing.json", '{"kind": "mf.fit", "format_version": 1}')
    put("nn-missing.json", '{"kind": "nn.train", "format_version": 1}')
    put("binary.json", bytes(range(256)))
    put("text.pt", "this is not a model")
    put("empty.pt", b"")
    put("random.pt", bytes(_rng.randrange(256) for _ in range(4096)))
    put("zip.pt", _zip_bytes({"a.txt": b"hello"}))

    put("sweeps/exp-int.toml", "experiment = 5\n")
    put("sweeps/exp-list.toml", 'experiment = ["als"]\n')
    put("sweeps/exp-empty.toml", 'experiment = ""\n')
    put("sweeps/exp-missing.toml", "seeds = [0]\n")
    put("sweeps/exp-unknown.toml", 'experiment = "nope"\n')
    put("sweeps/exp-code.toml", 'experiment = "os:system"\n')
    put("sweeps/seeds-int.toml", 'experiment = "als"\nseeds = 0\n')
    put("sweeps/seeds-str.toml", 'experiment = "als"\nseeds = "0,1"\n')
    put("sweeps/seeds-empty.toml", 'experiment = "als"\nseeds = []\n')
    put("sweeps/seeds-float.toml", 'experiment = "als"\nseeds = [0.5]\n')
    put("sweeps/seeds-neg.toml", 'experiment = "als"\nseeds = [-3]\n')
    put("sweeps/seeds-dupe.toml", 'experiment = "als"\nseeds = [1, 1]\n')
    put("sweeps/seeds-bool.toml", 'experiment = "als"\nseeds = [true]\n')
    put("sweeps/grid-int.toml", 'experiment = "als"\ngrid = 5\n')
    put("sweeps/grid-list.toml", 'experiment = "als"\ngrid = [1, 2]\n')
    put("sweeps/grid-scalar.toml", 'experiment = "als"\n[grid]\np = 0.5\n')
    put("sweeps/grid-empty-list.toml", 'experiment = "als"\n[grid]\np = []\n')
    put("sweeps/grid-unknown-key.toml", 'experiment = "als"\n[grid]\ncolour = [1, 2]\n')
    put("sweeps/grid-wrong-type.toml", 'experiment = "als"\n[grid]\nn_factors = ["a", "b"]\n')
    put("sweeps/grid-float-for-int.toml", 'experiment = "als"\n[grid]\nn_factors = [1.5]\n')
    put("sweeps/grid-nan.toml", 'experiment = "als"\n[grid]\np = [0.5, nan]\n')
    put("sweeps/grid-inf.toml", 'experiment = "als"\n[grid]\np = [inf]\n')
    put("sweeps/grid-dupe.toml", 'experiment = "als"\n[grid]\np = [0.5, 0.5]\n')
    put("sweeps/grid-seed.toml", 'experiment = "als"\n[grid]\nseed = [1, 2]\n')
    put("sweeps/grid-date.toml", 'experiment = "als"\n[grid]\np = [1979-05-27]\n')
    put("sweeps/fixed-int.toml", 'experiment = "als"\nfixed = 3\n')
    put("sweeps/fixed-unknown.toml", 'experiment = "als"\n[fixed]\ncolour = 1\n')
    put("sweeps/fixed-wrong-type.toml", 'experiment = "als"\n[fixed]\nmethod = 3\n')
    put("sweeps/fixed-bool-for-int.toml", 'experiment = "als"\n[fixed]\nn_factors = true\n')
    put("sweeps/fixed-and-grid.toml", 'experiment = "als"\n[fixed]\np = 0.5\n[grid]\np = [1]\n')
    put("sweeps/unknown-field.toml", 'experiment = "als"\ncolour = "red"\n')
    put("sweeps/bad-toml.toml", "experiment = \n")
    put("sweeps/binary.toml", bytes(range(256)))
    put("sweeps/empty.toml", "")
    put("sweeps/mixture-bad-k.toml", 'experiment = "mixture"\n[grid]\nn_components = [0.5]\n')
    put("sweeps/bad-value.toml",
        'experiment = "als"\n[fixed]\nm = 20\nn = 25\nrank = 2\nmax_iter = 2\n'
        '[grid]\nmethod = ["masked", "banana"]\n')
    put("sweeps/good.toml",
        'experiment = "als"\nseeds = [0, 1]\n[fixed]\nm = 20\nn = 25\nrank = 2\nmax_iter = 2\n'
        "[grid]\nn_factors = [1, 2]\n")
    put("sweeps/good-other.toml",
        'experiment = "als"\nseeds = [0]\n[fixed]\nm = 20\nn = 25\nrank = 2\nmax_iter = 2\n'
        "[grid]\nn_factors = [3]\n")

    for name, text in (("badjson", "{"), ("list", "[]"), ("noconfig", "{}"),
                       ("unknown-key", '{"config": {"colour": 1}}'),
                       ("config-int", '{"config": 5}'), ("seed-str", '{"config": {"seed": "x"}}'),
                       ("no-parts", '{"config": {}}')):
        put(f"reports/{name}/report_run.json", text)
        f[f"report_{name.replace('-', '_')}"] = str(root / "reports" / name)
    put("reports/bad-parts/report_run.json", '{"config": {}}')
    for part in ("mixture", "mf", "nn"):
        put(f"reports/bad-parts/{part}/result.json", "{truncated")
    f["report_bad_parts"] = str(root / "reports" / "bad-parts")
    images = image_tree(root / "img-good")
    f["img_good"] = str(images)
    f["img_one_class"] = str(image_tree(root / "img-one-class", classes=("a",)))
    f["img_mixed_sizes"] = str(image_tree(root / "img-sizes", sizes=(8, 12)))
    f["img_not_image"] = str(image_tree(root / "img-notimage",
                                        extra={"train/a/broken.png": b"not a png"}))
    f["img_empty_class"] = str(image_tree(root / "img-emptyclass"))
    (root / "img-emptyclass" / "train" / "c").mkdir()
    f["img_tiny"] = str(image_tree(root / "img-tiny", sizes=(2,)))
    no_test = image_tree(root / "img-notest")
    shutil.rmtree(no_test / "test")
    f["img_no_test"] = str(no_test)
    (root / "img-empty").mkdir()
    f["img_empty"] = str(root / "img-empty")
    mismatch = image_tree(root / "img-mismatch")
    (mismatch / "test" / "b").rename(mismatch / "test" / "z")
    f["img_class_mismatch"] = str(mismatch)
    tar_path = root / "img.tar"
    with tarfile.open(tar_path, "w") as tf:
        tf.add(images, arcname=".")
    data = tar_path.read_bytes()
    put("img-truncated.tar", data[: len(data) // 2])
    f["img_tar"] = str(tar_path)
    put("img-garbage.tar.gz", b"\x1f\x8b" + bytes(range(200)))
    put("img-garbage.zip", b"PK\x03\x04" + bytes(range(200)))
    zdata = _zip_bytes({f"train/a/{i}.png": png_bytes() for i in range(3)}
                       | {f"test/a/{i}.png": png_bytes() for i in range(3)}
                       | {f"train/b/{i}.png": png_bytes(colour=(1, 2, 3)) for i in range(3)}
                       | {f"test/b/{i}.png": png_bytes(colour=(1, 2, 3)) for i in range(3)})
    put("img.zip", zdata)
    put("img-truncated.zip", zdata[: len(zdata) * 2 // 3])
    return f


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


# ------------------------------------------------------------------- the cases
OUT = ["-o", "{out}"]
# Explicit settings skip the data-driven defaults' validation grid: the loaders are under test.
MF_FAST = ["-k", "2", "--lambda", "0.5", "--n-init", "1", "--max-iter", "3"]

# --- the shell itself
case("no-such-command", ["frobnicate"], "usage", "No such command")
case("no-such-option", ["--frobnicate"], "usage", "No such option")
for group in ("mixture", "mf", "nn"):
    case(f"{group}-no-such-command", [group, "frobnicate"], "usage", "No such command")
for command in (["mixture", "fit", "{pts_csv}"], ["mf", "fit"], ["nn", "train"], ["sweep"],
                ["results", "{tmp}"], ["report"], ["nn", "params"], ["mixture", "demo"]):
    case(f"{'-'.join(command[:2]).replace('{', '').replace('}', '')}-unknown-option",
         [*command, "--frobnicate", "1"], "usage", "No such option")
case("results-missing-arg", ["results"], "usage", "Missing argument")
case("mixture-fit-missing-arg", ["mixture", "fit"], "usage", "Missing argument")
case("nn-evaluate-missing-arg", ["nn", "evaluate"], "usage", "Missing argument")
case("mf-plot-missing-arg", ["mf", "plot"], "usage", "Missing argument")
case("mixture-plot-missing-arg", ["mixture", "plot"], "usage", "Missing argument")
case("nn-figures-missing-arg", ["nn", "figures"], "usage", "Missing argument")
case("responsibilities-missing-component", ["mixture", "responsibilities", "--x", "1"],
     "usage", "Missing option")
case("version-extra-arg", ["version", "extra"], "usage", "unexpected extra argument")

# --- NaN and infinity in every float option of every command
FLOAT_OPTIONS = [
    (["mixture", "fit", "{pts_csv}", *OUT], ["--tol", "--reg-covar"]),
    (["mf", "fit", "{r_csv}", *OUT], ["--p", "--holdout", "--u-lambda", "--v-lambda",
                                      "--bias-lambda", "--reg-exponent", "--tol"]),
    (["mf", "study", "p", *OUT], ["--p", "--lambda"]),
    (["mixture", "responsibilities", "-c", "0:1:1"], ["--x"]),
]
for command, options in FLOAT_OPTIONS:
    for option in options:
        for value in ("nan", "inf", "-inf"):
            case(f"{command[0]}-{command[1]}{option}={value}", [*command, option, value],
                 "usage", f"{option}.*finite")

# --- integers and choices on the command line
INT_OPTIONS = [
    (["mixture", "fit", "{pts_csv}", *OUT], ["--n-init", "--max-iter", "--seed",
                                             "--chunk-rows"]),
    (["mf", "fit", "{r_csv}", *OUT], ["--folds", "-k", "--max-iter", "--n-init", "--seed",
                                      "--ranking-k"]),
    (["nn", "train", *OUT], ["--seed", "--epochs", "--batch-size", "--n-train", "--threads"]),
    (["nn", "params"], ["--channels", "--size", "--classes"]),
    (["sweep", "{sweeps_good_toml}", *OUT], ["--jobs"]),
    (["report", *OUT], ["--seed"]),
]
for command, options in INT_OPTIONS:
    for option in options:
        for value in ("abc", "1.5", ""):
            case(f"{command[0]}-{command[1]}{option}={value or 'empty'}",
                 [*command, option, value], "usage", re.escape(option))

CHOICES = [
    (["mixture", "fit", "{pts_csv}", *OUT], ["--covariance", "--init", "--missing",
                                             "--freeze"]),
    (["mf", "fit", "{r_csv}", *OUT], ["--format", "--duplicates", "--split", "--method",
                                      "--dtype"]),
    (["mf", "study", "p", *OUT], ["--settings"]),
    (["nn", "train", *OUT], ["--arch", "--recipe", "--permutation", "--device"]),
    (["sweep", "{sweeps_good_toml}", *OUT], ["--cluster"]),
]
for command, options in CHOICES:
    for option in options:
        case(f"{command[0]}-{command[1]}{option}=banana", [*command, option, "banana"],
             "usage", re.escape(option))

# --- acml mixture fit: files
for name in ("pts_empty_csv", "pts_header_only_csv", "pts_binary_csv", "pts_latin1_csv",
             "pts_text_csv", "pts_ragged_csv", "pts_short_row_csv", "pts_badcell_row1_csv",
             "pts_badcell_mid_csv", "pts_nan_csv", "pts_inf_csv", "pts_missing_csv",
             ):
    case(f"mixture-fit-{name}", ["mixture", "fit", "{" + name + "}", *OUT], "data",
         name.removesuffix("_csv").replace("_", "-"))
case("mixture-fit-one-row", ["mixture", "fit", "{pts_one_row_csv}", *OUT], "data",
     "n_samples=1 < 8")
case("mixture-fit-dir", ["mixture", "fit", "{adir}", *OUT], "data", "adir")
case("mixture-fit-missing-file", ["mixture", "fit", "{tmp}/nope.csv", *OUT], "data", "nope.csv")
case("mixture-fit-good", ["mixture", "fit", "{pts_csv}", "-k", "1..4", *OUT], "ok",
     check=mixture_fit(90, 2, best_k=3))
for name in ("pts_noheader_csv", "pts_bom_csv", "pts_bom_noheader_csv", "pts_crlf_csv",
             "pts_blank_lines_csv", "pts_quoted_csv"):
    case(f"mixture-fit-{name}", ["mixture", "fit", "{" + name + "}", "-k", "3", "--n-init", "2",
                                 *OUT], "ok",
         check=mixture_fit(90, 2, best_k=3))
case("mixture-fit-1d", ["mixture", "fit", "{pts_1d_csv}", "-k", "1..3", *OUT], "ok",
     check=mixture_fit(90, 1))
case("mixture-fit-semicolon", ["mixture", "fit", "{pts_semicolon_csv}", "-k", "3", *OUT],
     "either", "pts-semicolon", check=mixture_fit(90, 2))
case("mixture-fit-huge-values", ["mixture", "fit", "{pts_huge_csv}", "-k", "1..2", *OUT],
     "either", "pts-huge", check=mixture_fit(90, 2))
case("mixture-fit-constant", ["mixture", "fit", "{pts_constant_csv}", "-k", "1..2", *OUT],
     "either", "pts-constant", check=mixture_fit(90, 2))
case("mixture-fit-two-rows-k3", ["mixture", "fit", "{pts_two_rows_csv}", "-k", "3", *OUT],
     "data", "2")
case("mixture-fit-missing-em", ["mixture", "fit", "{pts_missing_csv}", "-k", "3", "--missing",
                                "em", *OUT], "ok", check=mixture_fit(91, 2))
case("mixture-fit-nan-em", ["mixture", "fit", "{pts_nan_csv}", "-k", "3", "--missing", "em",
                            *OUT], "ok", check=mixture_fit(91, 2))
case("mixture-fit-weights-col", ["mixture", "fit", "{pts_weights_csv}", "-k", "3",
                                 "--sample-weight", "w", *OUT], "ok", check=mixture_fit(90, 2))
case("mixture-fit-weights-unknown-col", ["mixture", "fit", "{pts_weights_csv}",
                                         "--sample-weight", "nope", *OUT], "error", "nope")
case("mixture-fit-weights-col-0", ["mixture", "fit", "{pts_weights_csv}", "--sample-weight",
                                   "0", *OUT], "error", "sample-weight|column")
case("mixture-fit-weights-col-99", ["mixture", "fit", "{pts_weights_csv}", "--sample-weight",
                                    "99", *OUT], "error", "99")
case("mixture-fit-negative-weights", ["mixture", "fit", "{pts_negweights_csv}",
                                      "--sample-weight", "w", *OUT], "data", "weight")
case("mixture-fit-nan-weights", ["mixture", "fit", "{pts_nanweights_csv}", "--sample-weight",
                                 "w", *OUT], "data", "weight")
for k in ("0", "-1", "a", "1..0", "5..1", "1..", "..3", "", ",", "1,,2", "1.5", "nan",
          "1..1000000000", "100000"):
    case(f"mixture-fit-k={k or 'empty'}", ["mixture", "fit", "{pts_csv}", "-k", k, *OUT],
         "error", r"-k|K|component")
for option, value in (("--n-init", "0"), ("--n-init", "-1"), ("--n-init", "5000"),
                      ("--max-iter", "0"), ("--max-iter", "-5"), ("--tol", "-1"),
                      ("--reg-covar", "-1"), ("--seed", "-1"), ("--chunk-rows", "0")):
    case(f"mixture-fit{option}={value}", ["mixture", "fit", "{pts_csv}", "-k", "2", option, value,
                                          *OUT], "error", re.escape(option.lstrip("-"))
         .replace("\\-", "[-_ ]"))
case("mixture-fit-stream-good", ["mixture", "fit", "{pts_csv}", "-k", "3", "--stream",
                                 "--chunk-rows", "7", *OUT], "ok", check=mixture_fit(90, 2, 3))
case("mixture-fit-out-is-file", ["mixture", "fit", "{pts_csv}", "-k", "2", "-o", "{pts_csv}"],
     "data", "pts.csv")

# --- acml mixture responsibilities
for comp in ("1:2", "a:b:c", "0:-1:0.5", "0:0:1", "0:1:-0.5", "0:1:0", "0:nan:1",
             "0:1:nan", "inf:1:1", "0:inf:1", "", "0:1:1:1", "0;1;1"):
    case(f"responsibilities-component={comp or 'empty'}",
         ["mixture", "responsibilities", "--x", "1", "-c", comp], "error",
         r"component|variance|weight|MEAN")
case("responsibilities-weights-not-one", ["mixture", "responsibilities", "--x", "5", "-c",
                                          "0:1:0.3", "-c", "1:1:0.3"], "either", "weight",
     check=stdout_has(r"p\(c=0\|x\)"))
def responsibilities_of(x, components):
    """The closed form, in log space, of p(component | x) for 1-D Gaussians."""
    logs = [math.log(w) - 0.5 * math.log(2 * math.pi * v) - (x - m) ** 2 / (2 * v)
            for m, v, w in components]
    top = max(logs)
    total = sum(math.exp(v - top) for v in logs)
    return [math.exp(v - top) / total for v in logs]


def responsibilities_match(x, components):
    def check(result, out):
        row = result.stdout.strip().splitlines()[1].split()
        assert float(row[0]) == x
        got = [float(v) for v in row[1:1 + len(components)]]
        assert got == pytest.approx(responsibilities_of(x, components), abs=1e-7)

    return check


case("responsibilities-good", ["mixture", "responsibilities", "--x", "5", "-c", "0:0.01:0.5",
                               "-c", "1.13:0.006:0.5"], "ok",
     check=responsibilities_match(5.0, [(0, 0.01, 0.5), (1.13, 0.006, 0.5)]))
case("responsibilities-far-tail", ["mixture", "responsibilities", "--x", "40", "-c", "0:1:0.5",
                                   "-c", "1:2:0.5"], "ok",
     check=responsibilities_match(40.0, [(0, 1, 0.5), (1, 2, 0.5)]))
case("responsibilities-far-x", ["mixture", "responsibilities", "--x", "1e6", "-c", "0:1:0.5",
                                "-c", "1:1:0.5"], "ok", check=no_nan)
case("responsibilities-out-is-dir", ["mixture", "responsibilities", "--x", "1", "-c", "0:1:1",
                                     "-o", "{adir}"], "either", "adir", check=no_nan)

# --- acml mf fit: files
for name in ("r_empty_csv", "r_header_only_csv", "r_binary_csv", "r_badcell_row1_csv",
             "r_badcell_mid_csv", "r_badid_csv", "r_floatid_csv", "r_nan_csv", "r_inf_csv",
             "r_empty_rating_csv", "r_dupe_csv", "r_two_columns_csv",
             "r_udata_short_data", "dense_ragged_csv", "dense_text_csv",
             "r_latin1_csv", "r_huge_rating_csv"):
    stem = name.rsplit("_", 1)[0].replace("_", "-")
    case(f"mf-fit-{name}", ["mf", "fit", "{" + name + "}", *OUT], "data", stem)
case("mf-fit-dir", ["mf", "fit", "{adir}", *OUT], "data", "adir")
case("mf-fit-missing-file", ["mf", "fit", "{tmp}/nope.csv", *OUT], "data", "nope.csv")
case("mf-fit-offline-movielens", ["mf", "fit", "movielens-100k", *OUT], "data",
     "may be offline")
case("mf-fit-unknown-source", ["mf", "fit", "movielens-5m", *OUT], "data", "5m")
case("mf-fit-one-row", ["mf", "fit", "{r_one_row_csv}", *OUT], "data", "1 observed entr")
case("mf-fit-dense-nan-is-missing", ["mf", "fit", "{dense_nan_csv}", *MF_FAST, *OUT], "either",
     "nan",
     check=stdout_has(r"20 x 25 matrix, 499 observed entries"))
ENTRIES = r"30 x 40 matrix, 360 observed entries"
for name in ("r_csv", "r_bom_csv", "r_crlf_csv", "r_timestamp_csv", "r_udata_data",
             "r_ratings_dat", "r_negids_csv"):
    case(f"mf-fit-good-{name}", ["mf", "fit", "{" + name + "}", *MF_FAST, *OUT], "ok",
         check=stdout_has(ENTRIES))
case("mf-fit-extra-columns", ["mf", "fit", "{r_extra_column_csv}", *MF_FAST, *OUT], "either",
     "columns", check=stdout_has(ENTRIES))
case("mf-fit-bigids-stay-distinct", ["mf", "fit", "{r_bigids_csv}", *MF_FAST, *OUT], "ok",
     check=stdout_has(ENTRIES))
case("mf-fit-dupe-average", ["mf", "fit", "{r_dupe_csv}", "--duplicates", "average", *MF_FAST,
                              *OUT],
     "ok", check=stdout_has(ENTRIES))
case("mf-fit-one-rating-per-user-split-user", ["mf", "fit", "{r_one_each_csv}", "--split",
                                               "user", *OUT], "data", "user")
case("mf-fit-same-rating", ["mf", "fit", "{r_same_rating_csv}", *MF_FAST, *OUT], "ok",
     check=stdout_has(ENTRIES))
case("mf-fit-negative-ratings", ["mf", "fit", "{r_neg_rating_csv}", *MF_FAST, *OUT], "either",
     "neg-rating", check=stdout_has(ENTRIES))
case("mf-fit-dense", ["mf", "fit", "{dense_csv}", *MF_FAST, *OUT], "ok",
     check=stdout_has(r"20 x 25 matrix"))
case("mf-fit-dense-all-zero-missing", ["mf", "fit", "{dense_allzero_csv}", "--zero-is-missing",
                                       *OUT], "data", "dense-allzero")
case("mf-fit-dense-as-ratings", ["mf", "fit", "{dense_csv}", "--format", "ratings", *OUT],
     "data", "dense")
case("mf-fit-ratings-as-dense", ["mf", "fit", "{r_csv}", "--format", "dense", *OUT], "data",
     "r.csv")
case("mf-fit-out-is-file", ["mf", "fit", "{r_csv}", "-o", "{r_csv}"], "data", "r.csv")
# --- acml mf fit: option values
for option, value, match in (
    ("--clip", "nan:5", "clip"), ("--clip", "5:1", "clip"), ("--clip", "a:b", "clip"),
    ("--clip", "1", "clip"), ("--clip", "inf:5", "clip"), ("--clip", "", "clip"),
    ("--clip", "1:5:9", "clip"), ("--clip", "3:3", "clip"),
    ("--lambda", "-1", "lambda"), ("--lambda", "abc", "lambda"), ("--lambda", "nan", "lambda"),
    ("--lambda", "inf", "lambda"), ("--lambda", "", "lambda"),
    ("--p", "0", "p"), ("--p", "1", "p"), ("--p", "1.5", "p"), ("--p", "-0.1", "p"),
    ("-k", "0", "k|factors|rank"), ("-k", "-1", "k|factors|rank"),
    ("-k", "100000000", "k|factors|rank|memory"),
    ("--folds", "0", "folds"), ("--folds", "1", "folds"), ("--folds", "100000", "folds"),
    ("--holdout", "0", "holdout"), ("--holdout", "1", "holdout"),
    ("--holdout", "-0.5", "holdout"), ("--n-init", "0", "init"), ("--n-init", "-2", "init"),
    ("--max-iter", "0", "iter"), ("--max-iter", "-1", "iter"), ("--tol", "-1", "tol"),
    ("--ranking-k", "0", "ranking"), ("--u-lambda", "-1", "lambda"),
    ("--v-lambda", "-3", "lambda"), ("--bias-lambda", "-1", "lambda"),
    ("--reg-exponent", "-1", "exponent"), ("--seed", "-1", "seed"),
):
    split = ["--split", "kfold"] if option == "--folds" else (
        ["--split", "user"] if option == "--holdout" else [])
    case(f"mf-fit{option}={value or 'empty'}", ["mf", "fit", "{r_csv}", *split, option, value,
                                                *OUT], "error", match)

# --- acml mf study
for args, match in (
    (["banana"], "banana|study"), (["p", "--values", "a,b"], "values"),
    (["p", "--values", ""], "values"), (["p", "--values", "0,1.5"], "p"),
    (["k", "--values", "0,2"], "k|K"), (["lambda", "--values", "-1"], "lambda"),
    (["p", "--seeds", "a"], "seeds"), (["p", "--seeds", ""], "seeds"),
    (["p", "--seeds", "0,0", "--values", "0.5", "--max-iter", "2"], "seed"),
    (["p", "--seeds", "-1"], "seed"),
    (["p", "--jobs", "0"], "jobs"), (["p", "--cluster", "banana"], "cluster"),
    (["p", "--data", "{tmp}/nope.csv"], "nope.csv"), (["p", "--data", "{r_empty_csv}"],
                                                       "r-empty"),
    (["grid", "--k-values", "x"], "k"), (["grid", "--lambdas", "nan"], "lambda|finite"),
    (["p", "-k", "0"], "k|K"), (["p", "--max-iter", "0"], "iter"),
    (["p", "--data", "movielens-100k"], "offline"),
):
    case(f"mf-study-{'-'.join(a.replace('{', '').replace('}', '') for a in args)}",
         ["mf", "study", *args, *OUT], "error", match)

# --- saved results given to the readers
READERS = [("mf-plot", ["mf", "plot"]), ("mixture-plot", ["mixture", "plot"]),
           ("nn-figures", ["nn", "figures"])]
for label, command in READERS:
    for name in ("bad_json", "empty_json", "list_json", "truncated_json", "nokind_json",
                 "foreign_kind_json", "future_json", "binary_json"):
        case(f"{label}-{name}", [*command, "{" + name + "}"], "data",
             name.replace("_json", "").replace("_", "-"))
    case(f"{label}-missing", [*command, "{tmp}/nope.json"], "data", "nope")
    case(f"{label}-empty-dir", [*command, "{adir}"], "data", "adir")
case("mf-plot-given-a-mixture-result", ["mf", "plot", "{mixture_missing_json}"], "data",
     "mixture")
case("mixture-plot-given-an-mf-result", ["mixture", "plot", "{mf_missing_json}"], "data", "mf")
case("nn-figures-given-an-mf-result", ["nn", "figures", "{mf_missing_json}"], "data", "mf")
case("mf-plot-missing-fields", ["mf", "plot", "{mf_missing_json}"], "data", "mf-missing")
case("mixture-plot-missing-fields", ["mixture", "plot", "{mixture_missing_json}"], "data",
     "mixture-missing")
case("nn-figures-missing-fields", ["nn", "figures", "{nn_missing_json}"], "data", "nn-missing")

# --- acml nn evaluate: model files
for name in ("text_pt", "empty_pt", "random_pt", "zip_pt", "bad_json"):
    case(f"nn-evaluate-{name}", ["nn", "evaluate", "{" + name + "}"], "data",
         name.replace("_pt", "").replace("_json", "").replace("_", "-"))
case("nn-evaluate-missing", ["nn", "evaluate", "{tmp}/nope.pt"], "data", "nope.pt")
case("nn-evaluate-dir", ["nn", "evaluate", "{adir}"], "data", "adir")

# --- acml nn train: data sources and option values
NN_FAST = ["--n-train", "16", "--n-test", "8", "--epochs", "1", "--batch-size", "8"]
for name, match in (("img_empty", "img-empty"), ("img_no_test", "test"),
                    ("img_one_class", "class"), ("img_not_image", "broken.png"),
                    ("img_truncated_tar", "img-truncated.tar"),
                    ("img_garbage_tar_gz", "img-garbage"), ("img_garbage_zip", "img-garbage"),
                    ("img_truncated_zip", "img-truncated.zip"),
                    ("img_class_mismatch", "class"), ("adir", "adir"),
                    ("pts_csv", "pts.csv")):
    case(f"nn-train-{name}", ["nn", "train", "--data", "{" + name + "}", *NN_FAST, *OUT],
         "data", match)
for source, match in (("{tmp}/nope", "nope"), ("cifar10", "offline"),
                      ("cifar10:{tmp}/nope.tar.gz", "nope"), ("cifar10:{pts_csv}", "pts.csv"),
                      ("banana", "banana"), ("", "train/")):
    case(f"nn-train-data={source.replace('{tmp}/', '').replace('{', '').replace('}', '')}",
         ["nn", "train", "--data", source, *NN_FAST, *OUT], "error", match)
for option, value in (("--n-train", "0"), ("--n-test", "0"), ("--epochs", "0"),
                      ("--batch-size", "0"), ("--seed", "-1"), ("--threads", "0"),
                      ("--n-train", "-5")):
    case(f"nn-train{option}={value}", ["nn", "train", option, value, *OUT], "usage",
         re.escape(option))
case("nn-train-cuda-absent", ["nn", "train", "--device", "cuda", *NN_FAST, *OUT], "either",
     "cuda|CUDA", check=stdout_has(r"accuracy|test"))
case("nn-train-resume-without-checkpoint", ["nn", "train", "--resume", *NN_FAST, *OUT], "either",
     "checkpoint", check=stdout_has(r"wrote"), marks=(pytest.mark.slow,))
for name, match in (("img_good", "img-good"), ("img_tar", "img.tar"), ("img_zip", "img.zip"),
                    ("img_mixed_sizes", "img-sizes.*size"),
                    ("img_empty_class", "img-emptyclass.*no images")):
    case(f"nn-train-{name}", ["nn", "train", "--data", "{" + name + "}", *NN_FAST, *OUT],
         "either", match, check=stdout_has(r"wrote"), marks=(pytest.mark.slow,))
for option, value in (("--channels", "0"), ("--size", "0"), ("--classes", "1"),
                      ("--classes", "0")):
    case(f"nn-params{option}={value}", ["nn", "params", option, value], "usage",
         re.escape(option))
case("nn-params-size-2-upscaled", ["nn", "params", "--size", "2"], "ok",
     check=stdout_has("cnn: 62,006"))
case("nn-train-tiny-images-upscaled", ["nn", "train", "--data", "{img_tiny}", *NN_FAST, *OUT],
     "either", "size|small", check=stdout_has("upscaled", "wrote"))
case("nn-params-good", ["nn", "params"], "ok", check=stdout_has("62,006", "402,250"))
case("nn-download-offline", ["nn", "download"], "data", "offline")

# --- acml nn study permutation and acml mixture demo
STUDY = ["nn", "study", "permutation", "--n-train", "16", "--n-test", "8", "--epochs", "1"]
for args, expect, match in (
    (["--seeds", "a"], "error", "seeds"), (["--seeds", ""], "error", "seeds"),
    (["--seeds", "0,0"], "error", "seed"), (["--seeds", "-1"], "error", "seed"),
    (["--conditions", "banana"], "error", "banana"), (["--conditions", ""], "error",
                                                      "condition"),
    (["--archs", "transformer"], "error", "transformer"), (["--archs", ""], "error", "arch"),
    (["--jobs", "0"], "usage", "--jobs"), (["--cluster", "banana"], "usage", "--cluster"),
    (["--recipe", "banana"], "usage", "--recipe"), (["--epochs", "0"], "usage", "--epochs"),
    (["--data", "{tmp}/nope"], "data", "nope"), (["--data", "{img_one_class}"], "data", "class"),
    (["--data", "cifar10"], "data", "offline"), (["--threads", "0"], "usage", "--threads"),
    (["--device", "banana"], "usage", "--device"),
):
    label = "-".join(a.replace("{tmp}/", "").replace("{", "").replace("}", "") for a in args)
    case(f"nn-study-{label or 'empty'}", [*STUDY, *args, *OUT], expect, match)
case("mixture-demo-seed-negative", ["mixture", "demo", "--seed", "-1", *OUT], "error", "seed")
case("mixture-demo-out-is-file", ["mixture", "demo", "-o", "{pts_csv}"], "data", "pts.csv")
case("mf-study-out-is-file", ["mf", "study", "p", "--values", "0.5", "--seeds", "0", "-o",
                              "{pts_csv}"], "data", "pts.csv")
case("nn-train-out-is-file", ["nn", "train", *NN_FAST, "-o", "{pts_csv}"], "data", "pts.csv")

# --- acml report
case("report-from-missing", ["report", "--from", "{tmp}/nope"], "error", "nope")
case("report-from-empty-dir", ["report", "--from", "{adir}"], "data", "adir")
case("report-from-file", ["report", "--from", "{pts_csv}"], "error", "pts.csv")
for name, match in (("badjson", "report_run.json"), ("list", "report_run.json"),
                    ("noconfig", "report_run.json.*config"),
                    ("unknown_key", "report_run.json.*colour"),
                    ("config_int", "report_run.json.*config")):
    case(f"report-from-run-{name}", ["report", "--from", "{report_" + name + "}"], "data", match)


def page_says(*texts):
    def check(result, out):
        folder = Path(result.stdout.strip().split()[-1]).parent
        page = (folder / "report.html").read_text()
        for text in texts:
            assert re.search(text, page), text

    return check


case("report-from-run-seed-str", ["report", "--from", "{report_seed_str}"], "either", "seed",
     check=page_says("<html"))
case("report-from-run-no-parts", ["report", "--from", "{report_no_parts}"], "either",
     "mixture|mf|nn", check=page_says("could not be read|missing|no saved"))
case("report-from-run-bad-parts", ["report", "--from", "{report_bad_parts}"], "either",
     "result.json", check=page_says("could not be read|not valid JSON"))
case("report-seed-negative", ["report", "--seed", "-1", *OUT], "usage", "--seed")
case("report-images-missing", ["report", "--images", "{tmp}/nope", "--quick", *OUT], "data",
     "nope")
case("report-matrix-missing", ["report", "--matrix", "{tmp}/nope.csv", "--quick", *OUT], "data",
     "nope.csv")
case("report-matrix-empty", ["report", "--matrix", "{r_empty_csv}", "--quick", *OUT], "data",
     "r-empty")
case("report-images-banana", ["report", "--images", "banana", "--quick", *OUT], "data", "banana")
case("report-matrix-offline", ["report", "--matrix", "movielens-100k", "--quick", *OUT], "data",
     "offline")

# --- acml sweep: sweep files
for name, match in (
    ("exp_int", "'experiment' must be a string.*5 \\(int\\)"),
    ("exp_list", "'experiment' must be a string"), ("exp_empty", "'experiment' must be"),
    ("exp_missing", "must name its experiment"), ("exp_unknown", "unknown experiment 'nope'"),
    ("exp_code", "--allow-code"), ("seeds_int", "'seeds' must be a non-empty list.*0 \\(int\\)"),
    ("seeds_str", "'seeds' must be a non-empty list"), ("seeds_empty", "'seeds'"),
    ("seeds_float", "'seeds' must hold integers"), ("seeds_neg", "integers >= 0"),
    ("seeds_dupe", "repeats a seed"), ("seeds_bool", "'seeds' must hold integers"),
    ("grid_int", "'grid' must be a table.*5 \\(int\\)"), ("grid_list", "'grid' must be a table"),
    ("grid_scalar", "grid.p must be a non-empty list"), ("grid_empty_list", "grid.p"),
    ("grid_unknown_key", "no parameter 'colour'"), ("grid_wrong_type", "'n_factors'.*must be int"),
    ("grid_float_for_int", "'n_factors'.*must be int"), ("grid_nan", "finite"),
    ("grid_inf", "finite"), ("grid_dupe", "repeats a value"), ("grid_seed", "seeds"),
    ("grid_date", "grid.p must be"), ("fixed_int", "'fixed' must be a table"),
    ("fixed_unknown", "no parameter 'colour'"), ("fixed_wrong_type", "'method'.*must be str"),
    ("fixed_bool_for_int", "'n_factors'.*must be int"),
    ("fixed_and_grid", "both fixed and in the grid"), ("unknown_field", "unknown field.*colour"),
    ("bad_toml", "not valid TOML"), ("binary", "not a UTF-8"),
    ("empty", "must name its experiment"), ("mixture_bad_k", "'n_components'.*must be int"),
):
    key = "sweeps_" + name + "_toml"
    case(f"sweep-file-{name}", ["sweep", "{" + key + "}", *OUT], "data", match)
case("sweep-file-missing", ["sweep", "{tmp}/nope.toml", *OUT], "data", "nope.toml")
case("sweep-file-dir", ["sweep", "{adir}", *OUT], "data", "adir")
case("sweep-code-unimportable", ["sweep", "--experiment", "no_such_module_x:f", "--allow-code",
                                 *OUT], "data", "no_such_module_x")
case("sweep-code-not-a-function", ["sweep", "--experiment", "os:sep", "--allow-code", *OUT],
     "data", "os:sep")
case("sweep-a-trial-fails", ["sweep", "{sweeps_bad_value_toml}", *OUT], "data",
     "1 of 2 trials failed.*banana.*rerun the same command")
case("sweep-good", ["sweep", "{sweeps_good_toml}", *OUT], "ok",
     check=stdout_has("4 trials: 0 already done, 4 run, 0 failed"))
for args, match in (
    (["--grid", "p"], "--grid must look like"), (["--grid", "=1"], "--grid must look like"),
    (["--grid", "p="], "--grid must look like"), (["--grid", "p=0.5,,0.6"], "empty value"),
    (["--grid", "p=0.5", "--grid", "p=0.6"], "twice"), (["--grid", "p=nan"], "finite"),
    (["--grid", "p=inf"], "finite"), (["--fixed", "p"], "--fixed must look like"),
    (["--fixed", "p=0.1,0.2"], "one value"), (["--seeds", "a"], "--seeds"),
    (["--seeds", ""], "--seeds"), (["--seeds", "1,,2"], "--seeds"),
    (["--seeds", "-1"], "seeds"), (["--seeds", "1,1"], "repeats a seed"),
    (["--grid", "colour=1"], "no parameter 'colour'"),
    (["--grid", "n_factors=a,b"], "'n_factors'.*must be int"),
    (["--fixed", "method=3"], "'method'.*must be str"),
    (["--scheduler", "tcp://x:1", "--cluster", "local"], "not both"),
):
    case(f"sweep-flags-{'-'.join(args)}", ["sweep", "--experiment", "als", *args, *OUT],
         "error", match)
case("sweep-file-and-flags", ["sweep", "{sweeps_good_toml}", "--experiment", "als", *OUT],
     "usage", "not both")
case("sweep-nothing", ["sweep", *OUT], "usage", "name a sweep TOML file")
case("sweep-jobs-zero", ["sweep", "{sweeps_good_toml}", "--jobs", "0", *OUT], "usage", "--jobs")
case("sweep-jobs-negative", ["sweep", "{sweeps_good_toml}", "-j", "-2", *OUT], "usage", "--jobs")
case("sweep-out-is-file", ["sweep", "{sweeps_good_toml}", "-o", "{pts_csv}"], "data",
     "pts.csv")

# --- acml results
case("results-missing-folder", ["results", "{tmp}/nope"], "data", "nope")
case("results-file-not-folder", ["results", "{pts_csv}"], "data", "pts.csv")
case("results-folder-without-store", ["results", "{adir}"], "data", "no results.sqlite")

PARAMS = [pytest.param(c, id=c.id, marks=c.marks) for c in CASES]


# ------------------------------------------------------------------ the runner
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_files(tmp_path_factory.mktemp("bad-input"))


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No network, an empty data cache: every download fails the way it does offline."""

    def refuse(*args, **kwargs):
        raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused (test)"))

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setenv("ACMLKIT_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("ACMLKIT_DEBUG", raising=False)


def expand(args, files, tmp_path):
    values = {**files, "tmp": str(tmp_path), "out": str(tmp_path / "out")}
    return [a.format(**values) for a in args]


def assert_outcome(case: Case, result, out: Path):
    text = result.output
    assert "Traceback" not in text, text
    assert "internal error" not in text, text
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}")
    if result.exit_code == 0:
        assert case.expect in ("ok", "either"), f"exit 0 but expected an error:\n{text}"
        assert case.check is not None
        case.check(result, out)
        return
    assert case.expect != "ok", f"expected a result, got exit {result.exit_code}:\n{text}"
    wanted = {"usage": (2,), "data": (1,)}.get(case.expect, (1, 2))
    assert result.exit_code in wanted, f"exit {result.exit_code}, expected {wanted}:\n{text}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    if case.match:
        assert re.search(case.match, lines[0], re.IGNORECASE), (case.match, lines[0])


@pytest.mark.timeout(300)
@pytest.mark.parametrize("case", PARAMS)
def test_bad_input(case, files, tmp_path):
    args = expand(case.args, files, tmp_path)
    result = runner.invoke(app, args)
    assert_outcome(case, result, tmp_path / "out")


# -------------------------------------------- faults that need a first, good run
@pytest.fixture(scope="module")
def sweep_folder(files, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "out"
    result = runner.invoke(app, ["sweep", files["sweeps_good_toml"], "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


STORE_DAMAGE = {
    "truncated": lambda d: d[: len(d) // 3],
    "garbage": lambda d: bytes((b * 7 + 3) % 256 for b in d),
    "header-only": lambda d: d[:100],
    "text": lambda d: b"key,value\n1,2\n",
}


@pytest.mark.parametrize("how", sorted(STORE_DAMAGE))
@pytest.mark.parametrize("command", ["results", "sweep", "csv"])
def test_damaged_store(sweep_folder, files, tmp_path, how, command):
    folder = tmp_path / "copy"
    shutil.copytree(sweep_folder, folder)
    for side in ("-wal", "-shm"):
        (folder / f"results.sqlite{side}").unlink(missing_ok=True)
    path = folder / "results.sqlite"
    path.write_bytes(STORE_DAMAGE[how](path.read_bytes()))
    args = {"results": ["results", str(folder)],
            "sweep": ["sweep", files["sweeps_good_toml"], "-o", str(folder)],
            "csv": ["results", str(folder), "--csv", str(tmp_path / "t.csv")]}[command]
    result = runner.invoke(app, args)
    assert_outcome(Case(how, args, "data", re.escape(str(path))), result, folder)
    assert not (tmp_path / "t.csv").exists()


@pytest.mark.parametrize(
    ("extra", "expect", "match"),
    [
        (["--csv", "{adir}"], "data", "adir"),
        (["--csv", "{pts_csv}/t.csv"], "data", "pts.csv"),
        (["--parquet", "{adir}"], "data", "adir"),
        (["--csv", "{tmp}/new/sub/t.csv"], "ok", None),
        (["--parquet", "{tmp}/t.parquet"], "ok", None),
    ],
)
def test_results_exports(sweep_folder, files, tmp_path, extra, expect, match):
    args = ["results", str(sweep_folder), *expand(extra, files, tmp_path)]
    result = runner.invoke(app, args)

    def check(result, out):
        target = Path(args[-1])
        assert target.is_file() and target.stat().st_size > 0
        if target.suffix == ".csv":
            assert len(target.read_text().strip().splitlines()) == 5  # header + 4 trials

    assert_outcome(Case("export", args, expect, match, check), result, tmp_path)


def test_a_second_sweep_into_the_folder_is_refused_and_the_same_resumes(sweep_folder, files):
    other = runner.invoke(app, ["sweep", files["sweeps_good_other_toml"], "-o", str(sweep_folder)])
    assert_outcome(Case("other", [], "data", "already holds another sweep.*n_factors=\\[1, 2\\]"),
                   other, sweep_folder)
    same = runner.invoke(app, ["sweep", files["sweeps_good_toml"], "-o", str(sweep_folder)])
    assert same.exit_code == 0 and "4 already done, 0 run" in same.stdout


def test_the_battery_is_large_enough():
    n = len(CASES) + len(STORE_DAMAGE) * 3 + 5 + 1
    assert n >= 300, n
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"


# ------------------------------------------- a trained network, then damaged files
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("nn") / "run"
    result = runner.invoke(app, ["nn", "train", "--arch", "mlp", *NN_FAST, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def flip_bytes(data: bytes, where: float, n: int = 64) -> bytes:
    start = int(len(data) * where)
    return data[:start] + bytes(b ^ 0x5A for b in data[start:start + n]) + data[start + n:]


MODEL_DAMAGE = {
    "flipped-early": lambda d: flip_bytes(d, 0.1),
    "flipped-middle": lambda d: flip_bytes(d, 0.5),
    "flipped-late": lambda d: flip_bytes(d, 0.9, 16),
    "truncated-half": lambda d: d[: len(d) // 2],
    "truncated-tail": lambda d: d[:-10],
    "zeroed-middle": lambda d: d[: len(d) // 2] + bytes(256) + d[len(d) // 2 + 256:],
}


@pytest.mark.slow
@pytest.mark.parametrize("how", sorted(MODEL_DAMAGE))
def test_a_damaged_model_file_is_refused(trained, tmp_path, how):
    model = tmp_path / "model.pt"
    model.write_bytes(MODEL_DAMAGE[how]((trained / "model.pt").read_bytes()))
    args = ["nn", "evaluate", str(model), "--n-test", "8"]
    result = runner.invoke(app, args)
    assert_outcome(Case(how, args, "data", "model.pt"), result, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("how", sorted(MODEL_DAMAGE))
def test_a_damaged_checkpoint_is_refused_on_resume(trained, tmp_path, how):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    checkpoints = sorted((run / "checkpoints").glob("*.pt"))
    assert checkpoints, "training wrote no checkpoint"
    for path in checkpoints:
        path.write_bytes(MODEL_DAMAGE[how](path.read_bytes()))
    args = ["nn", "train", "--arch", "mlp", *NN_FAST, "--epochs", "2", "--resume", "-o", str(run)]
    result = runner.invoke(app, args)
    assert_outcome(Case(how, args, "data", "checkpoint"), result, run)


# --------------------------------------- real saved results, then damaged fields
@pytest.fixture(scope="module")
def saved(files, tmp_path_factory):
    root = tmp_path_factory.mktemp("saved")
    runs = {
        "mixture": ["mixture", "fit", files["pts_csv"], "-k", "1..3", "--n-init", "1"],
        "mf": ["mf", "fit", files["r_csv"], *MF_FAST],
    }
    for name, args in runs.items():
        result = runner.invoke(app, [*args, "-o", str(root / name)])
        assert result.exit_code == 0, result.output
    return root


def _drop(data, key):
    data.pop(key)


def _set(value):
    def apply(data, key):
        data[key] = value

    return apply


FIELD_DAMAGE = {
    "dropped": _drop,
    "null": _set(None),
    "string": _set("garbage"),
    "nested": _set([1, {"b": 2}]),
}
DAMAGED_FIELDS = {"mixture": ["kind", "format_version", "bic", "means", "best_k", "k_values"],
                  "mf": ["kind", "format_version", "config"]}
PLOT = {"mixture": ["mixture", "plot"], "mf": ["mf", "plot"]}


@pytest.mark.parametrize("how", sorted(FIELD_DAMAGE))
@pytest.mark.parametrize(
    ("part", "key"), [(p, k) for p, keys in DAMAGED_FIELDS.items() for k in keys]
)
def test_a_saved_result_with_a_damaged_field(saved, tmp_path, part, key, how):
    data = json.loads((saved / part / "result.json").read_text())
    if key not in data:
        pytest.fail(f"{part} result has no field {key!r}: {sorted(data)}")
    FIELD_DAMAGE[how](data, key)
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data))
    args = [*PLOT[part], str(path), "-o", str(tmp_path / "figs")]
    result = runner.invoke(app, args)
    assert_outcome(Case(f"{part}-{key}-{how}", args, "data", "result.json"), result, tmp_path)


@pytest.mark.parametrize("part", sorted(PLOT))
def test_a_saved_result_holding_nan_is_refused(saved, tmp_path, part):
    text = (saved / part / "result.json").read_text()
    numbers = re.findall(r'(?<=: )-?\d+\.\d+', text)
    assert numbers, "no float in the saved result"
    path = tmp_path / "result.json"
    path.write_text(text.replace(numbers[0], "NaN", 1))
    args = [*PLOT[part], str(path), "-o", str(tmp_path / "figs")]
    result = runner.invoke(app, args)
    assert_outcome(Case(f"{part}-nan", args, "data", "result.json"), result, tmp_path)
