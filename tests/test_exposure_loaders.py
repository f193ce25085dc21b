"""Random-exposure loaders: Coat, Yahoo! R3 and the generic CSV, on hand-written files, and the
one-line errors of broken files (file and line named, exit code 2 through the CLI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from recagent.cli import app
from recagent.data import make_synthetic
from recagent.data.exposure import load_calibration, load_coat, load_exposure_csv, load_yahoo_r3
from recagent.errors import DataError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def write_coat(folder: Path, train: list[list[int]], test: list[list[int]], features: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.ascii").write_text("\n".join(" ".join(map(str, row)) for row in train) + "\n")
    (folder / "test.ascii").write_text("\n".join(" ".join(map(str, row)) for row in test) + "\n")
    if features:
        n_items = len(train[0])
        (folder / "item_features.ascii").write_text("\n".join("1 0" if i % 2 else "0 1" for i in range(n_items)) + "\n")
        (folder / "item_features_map.txt").write_text("gender:men\ngender:women\n")
        (folder / "user_features.ascii").write_text("\n".join("1 0" for _ in train) + "\n")
        (folder / "user_features_map.txt").write_text("gender:men\ngender:women")
    return folder


def test_coat_format(tmp_path):
    folder = write_coat(tmp_path / "coat", [[0, 4, 0], [5, 0, 1]], [[2, 0, 0], [0, 3, 0]])
    data = load_coat(folder)
    chosen = data.dataset.interactions
    assert sorted(zip(chosen.users.tolist(), chosen.items.tolist(), chosen.ratings.tolist())) == \
        [(0, 1, 4.0), (1, 0, 5.0), (1, 2, 1.0)]
    assert sorted(zip(data.random.users.tolist(), data.random.items.tolist(), data.random.ratings.tolist())) == \
        [(0, 0, 2.0), (1, 1, 3.0)]
    assert data.dataset.catalog.genre_names == ["gender:men", "gender:women"]
    assert data.dataset.catalog.item_genres(1) == ["gender:men"] and data.dataset.users.genders[0] == "men"


@pytest.mark.parametrize("sep,base", [("\t", 0), (",", 1)])
def test_yahoo_format_tab_or_comma_ids_from_0_or_1(tmp_path, sep, base):
    folder = tmp_path / "yahoo"
    folder.mkdir()
    (folder / "user.txt").write_text("\n".join(sep.join(map(str, (u + base, i + base, r)))
                                               for u, i, r in [(0, 0, 5), (0, 2, 4), (1, 1, 2)]) + "\n")
    (folder / "random.txt").write_text(f"{base}{sep}{1 + base}{sep}1\n{1 + base}{sep}{2 + base}{sep}3\n")
    data = load_yahoo_r3(folder)
    assert data.dataset.users.raw_ids.tolist() == [base, base + 1]  # the dataset's own ids are kept
    assert data.dataset.catalog.raw_ids.tolist() == [base, base + 1, base + 2]
    assert data.dataset.interactions.ratings.tolist() == [5, 4, 2]
    assert list(zip(data.random.users.tolist(), data.random.items.tolist())) == [(0, 1), (1, 2)]


def test_exposure_csv_format(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("user,item,rating,exposure,timestamp\n7,10,5,chosen,3\n7,11,2,random,4\n8,10,4,chosen,1\n"
                    "8,12,1,random,2\n")
    data = load_exposure_csv(path)
    assert len(data.dataset.interactions) == 2 and len(data.random) == 2
    assert data.dataset.interactions.times.tolist() == [3, 1]
    assert data.dataset.catalog.raw_ids.tolist() == [10, 11, 12]


@pytest.mark.parametrize("kind,files,where,text", [
    ("coat", {"train.ascii": "0 4 0\n5 0\n", "test.ascii": "0 0 1\n0 1 0\n"}, "train.ascii",
     "line 2: expected 3 columns like line 1, found 2"),
    ("coat", {"train.ascii": "0 4 0\n5 x 1\n", "test.ascii": "0 0 1\n0 1 0\n"}, "train.ascii",
     "line 2: expected integers, found 'x'"),
    ("coat", {"train.ascii": "0 4 0\n5 0 1\n", "test.ascii": "0 0 9\n0 1 0\n"}, "test.ascii",
     "line 1, column 3: expected a rating 1-5 or 0 (not rated), found 9"),
    ("coat", {"train.ascii": "0 4 0\n5 0 1\n", "test.ascii": "0 0 1\n"}, "test.ascii",
     "expected the shape of train.ascii (2, 3), found (1, 3)"),
    ("yahoo", {"user.txt": "1\t1\t5\n1\t2\n", "random.txt": "1\t1\t2\n"}, "user.txt",
     "line 2: expected user, item, rating"),
    ("yahoo", {"user.txt": "1\t1\t5\n", "random.txt": "1\t1\t7\n"}, "random.txt", "line 1: expected a rating 1-5, found 7"),
    ("csv", {"r.csv": "user,item,rating,exposure\n1,1,5,chosen\n1,2,3,shown\n"}, "r.csv",
     "line 3: exposure must be 'chosen' or 'random', found 'shown'"),
    ("csv", {"r.csv": "user,item,rating\n1,1,5\n"}, "r.csv", "line 1: expected a header with user, item, rating, exposure"),
    ("csv", {"r.csv": "user,item,rating,exposure\n1,1,5,chosen\n"}, "r.csv", "no random ratings"),
])
def test_broken_files_name_file_and_line(tmp_path, kind, files, where, text):
    folder = tmp_path / kind
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_text(content)
    path = folder / "r.csv" if kind == "csv" else folder
    loader = {"coat": load_coat, "yahoo": load_yahoo_r3, "csv": load_exposure_csv}[kind]
    with pytest.raises(DataError) as err:
        loader(path)
    assert err.value.where == str(folder / where) and text in err.value.message
    # through the CLI: one line, exit code 2, nothing written
    result = CliRunner().invoke(app, ["eval", "exposure", "--dataset", kind, "--path", str(path),
                                      "--json", str(tmp_path / "out.json"), "--quiet"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and where in lines[0] and text in lines[0]
    assert not (tmp_path / "out.json").exists()


def test_calibration_file_in_dataset_ids(tmp_path):
    data = make_synthetic(10, 20, 5, seed=1)
    user, item = int(data.users.raw_ids[3]), int(data.catalog.raw_ids[7])
    path = tmp_path / "random.txt"
    path.write_text(f"{user}\t{item}\t2\n")
    shown = load_calibration(path, data)
    assert (shown.users.tolist(), shown.items.tolist(), shown.ratings.tolist()) == ([3], [7], [2.0])
    csv_path = tmp_path / "random.csv"
    csv_path.write_text(f"user,item,rating,exposure\n{user},{item},2,random\n{user},{item},5,chosen\n")
    assert load_calibration(csv_path, data).ratings.tolist() == [2.0]  # only the random rows
    path.write_text(f"{user}\t99999\t2\n")
    with pytest.raises(DataError, match="row 1: item 99999 is not in the dataset"):
        load_calibration(path, data)


@pytest.mark.shared
def test_real_coat_folder():
    if not (SHARED / "coat").is_dir():
        pytest.skip("../shared/data/coat is absent (reference data, not part of the product)")
    data = load_coat(SHARED / "coat")
    assert len(data.dataset.interactions) == 6960 and len(data.random) == 4640
    assert len(data.dataset.catalog) == 300 and len(data.dataset.users) == 290
    assert np.mean(data.random.ratings >= 3) == pytest.approx(0.401, abs=0.001)
