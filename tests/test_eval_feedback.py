"""`recagent eval feedback` and `recagent prepare` through the CLI on small synthetic data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recagent.cli import app
from recagent.data import make_synthetic
from tests.feedback_helpers import fake_embed, write_rating_csvs

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k"


@pytest.fixture()
def fast_embeddings(monkeypatch):
    import recagent.embeddings

    monkeypatch.setattr(recagent.embeddings, "embed", fake_embed)


@pytest.fixture(scope="module")
def csv_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("csv")
    data = make_synthetic(50, 80, 20, seed=2)
    return write_rating_csvs(data, folder / "ratings.csv", folder / "items.csv")


def test_eval_feedback_csv_temporal_writes_table_and_json(csv_files, tmp_path, fast_embeddings):
    ratings, items = csv_files
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["eval", "feedback", "--dataset", "csv", "--path", str(ratings), "--items",
                                      str(items), "--split", "temporal", "--sasrec-epochs", "1", "--cache",
                                      str(tmp_path / "cache"), "--json", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Feedback fidelity" in result.output and "soft" in result.output
    report = json.loads(out.read_text())
    assert report["dataset"] == "ratings" and report["splits"][0]["split"] == "temporal"
    assert report["models"] == ["f_mat", "f_sim", "f_sta", "vote", "soft", "bias", "mf"]
    split = report["splits"][0]
    assert 0 < split["n_test"] < split["n_train"]
    for name, m in split["models"].items():
        assert 0 <= m["auc"] <= 1 and 0 <= m["acc"] <= 1, name
    for name in ("soft", "bias", "mf"):
        assert 0 < split["models"][name]["rmse"] < 2 and split["models"][name]["mae"] <= split["models"][name]["rmse"]
    for name in ("f_mat", "f_sim", "f_sta", "vote"):
        assert split["models"][name]["rmse"] is None
    # the synthetic ratings follow genre taste: the rating models must beat chance clearly
    assert split["models"]["bias"]["auc"] > 0.6 and split["models"]["soft"]["auc"] > 0.6
    assert report["mean"]["soft"]["auc"] == pytest.approx(split["models"]["soft"]["auc"])
    assert "soft_beats_best_base_every_split" in report["checks"]


def test_eval_feedback_subset_of_models(csv_files, tmp_path):
    ratings, _ = csv_files
    out = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["eval", "feedback", "--dataset", "csv", "--path", str(ratings), "--split",
                                      "temporal", "--models", "bias,mf", "--json", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert list(json.loads(out.read_text())["mean"]) == ["bias", "mf"]


@pytest.mark.parametrize("args, message", [
    (["--dataset", "csv", "--path", "/no/such/file.csv"], "not found"),
    (["--dataset", "imdb", "--path", "."], "unknown dataset"),
    (["--dataset", "csv", "--path", "{ratings}", "--models", "bias,gpt"], "unknown model"),
    (["--dataset", "csv", "--path", "{ratings}", "--folds", "1,2"], "--folds"),
    (["--dataset", "ml100k", "--path", ".", "--folds", "1,x"], "comma-separated"),
    (["--dataset", "ml100k", "--path", ".", "--folds", "7"], "folds are 1-5"),
    (["--dataset", "csv", "--path", "{ratings}", "--items", "/no/items.csv"], "items file not found"),
])
def test_eval_feedback_bad_input_is_one_line_exit_2(csv_files, args, message):
    ratings, _ = csv_files
    args = [a.replace("{ratings}", str(ratings)) for a in args]
    result = CliRunner().invoke(app, ["eval", "feedback", *args, "--quiet"])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_prepare_synthetic_then_reuses_cache(tmp_path, fast_embeddings, monkeypatch):
    import recagent.feedback.ensemble as ens

    monkeypatch.setattr(ens.EnsembleParams, "__init__", _fast_params_init(ens.EnsembleParams.__init__))
    args = ["prepare", "--dataset", "synthetic", "--cache", str(tmp_path), "--quiet"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "prepared:" in first.output
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0 and "already prepared, loaded" in second.output
    manifests = list(tmp_path.glob("ensemble/*/manifest.json"))
    assert len(manifests) == 1 and json.loads(manifests[0].read_text())["dataset"] == "synthetic"
    assert list(tmp_path.glob("keywords/offline-*/manifest.json"))


def _fast_params_init(original):
    def init(self, *args, **kwargs):
        kwargs.setdefault("sasrec_epochs", 1)
        original(self, *args, **kwargs)
    return init


@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/data/ml-100k (reference data, not in the repo)")
def test_baselines_on_ml100k_fold1(tmp_path):
    out = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["eval", "feedback", "--dataset", "ml100k", "--path", str(SHARED), "--folds", "1",
                                      "--models", "bias,mf", "--json", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())["mean"]
    assert report["bias"]["auc"] == pytest.approx(0.793, abs=0.005)
    assert report["mf"]["auc"] > report["bias"]["auc"] and report["mf"]["rmse"] < report["bias"]["rmse"]
