"""Text plus metadata columns: learnt beside the text, saved safely, used by file-mode train/predict."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from civiclake.cli import app
from models.case_classifier import train as trainer
from models.case_classifier.files import ClassifierFileError, predict_file
from models.case_classifier.metadata import add_report_hour, feature_frame


def ambiguous(n: int = 40) -> pd.DataFrame:
    """The same complaint text; only the channel tells the label (grid patrols report manholes)."""
    rows = []
    for _ in range(n):
        text = "路口有问题请尽快处理"
        rows.append({"text": text, "channel": "grid_patrol", "label": "manhole"})
        rows.append({"text": text, "channel": "hotline_12345", "label": "noise"})
    return pd.DataFrame(rows)


def test_metadata_separates_what_the_text_cannot(tmp_path):
    frame = ambiguous()
    _, text_only = trainer.train(frame, "text", "label", seed=1)
    pipeline, card = trainer.train(frame, "text", "label", seed=1, metadata_columns=["channel"])
    # Every text is the same: a text-only model gives one label to all, right for half the
    # (stratified) test rows.
    assert text_only.metrics["accuracy"] == 0.5
    assert card.metrics["accuracy"] == 1.0
    assert card.metadata_columns == ["channel"]
    # The same split either way: the rows chosen depend on labels and seed only.
    assert (card.training_rows, card.validation_rows, card.test_rows) == (
        text_only.training_rows,
        text_only.validation_rows,
        text_only.test_rows,
    )
    directory = trainer.save(pipeline, card, tmp_path / "m")
    loaded, loaded_card = trainer.load(directory)
    probe = feature_frame(
        pd.DataFrame(
            {"text": ["路口有问题请尽快处理9"] * 3, "channel": ["grid_patrol", "hotline_12345", None]}
        ),
        "text",
        ["channel"],
    )
    assert list(loaded.predict(probe)[:2]) == ["manhole", "noise"]
    assert loaded_card.metadata_columns == ["channel"]
    assert "Metadata columns (one-hot, beside the text): `channel`." in (directory / "card.md").read_text()


def test_feature_frame_and_report_hour():
    frame = pd.DataFrame(
        {
            "t": ["a", "b"],
            "street": ["440309006", None],
            "reported_at": [pd.Timestamp("2026-11-25 23:59"), pd.NaT],
        }
    )
    with_hour = add_report_hour(frame)
    assert with_hour["report_hour"].tolist() == ["23", ""]
    assert feature_frame(with_hour, "t", ["street", "report_hour"]).to_dict("list") == {
        "t": ["a", "b"],
        "street": ["440309006", ""],
        "report_hour": ["23", ""],
    }
    with pytest.raises(ValueError, match="cannot also be a metadata column"):
        feature_frame(frame, "t", ["t"])


def test_file_mode_train_and_predict_with_metadata_columns(tmp_path):
    source = tmp_path / "history.csv"
    ambiguous().to_csv(source, index=False)
    model_dir = tmp_path / "model"
    args = ["classifier", "train", "--input", str(source), "--text-column", "text", "--label-column", "label"]
    result = CliRunner().invoke(app, [*args, "--output", str(model_dir), "--metadata-columns", "channel"])
    assert result.exit_code == 0, result.output
    assert json.loads((model_dir / "card.json").read_text())["metadata_columns"] == ["channel"]

    new = tmp_path / "new.csv"
    pd.DataFrame(
        {
            "id": ["n1", "n2", "n3"],
            "text": ["路口有问题请尽快处理2", "路口有问题请尽快处理2", ""],
            "channel": ["grid_patrol", "hotline_12345", "grid_patrol"],
        }
    ).to_csv(new, index=False)
    out, counts = predict_file(model_dir, new, tmp_path / "scored.csv")
    scored = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert scored["predicted_label"].tolist() == ["manhole", "noise", ""]
    assert counts["no_text"] == 1
    with pytest.raises(ClassifierFileError, match="has no column 'channel'"):
        bare = tmp_path / "bare.csv"
        pd.DataFrame({"text": ["路口有问题"]}).to_csv(bare, index=False)
        predict_file(model_dir, bare, tmp_path / "x.csv")
    missing = CliRunner().invoke(
        app, [*args, "--output", str(tmp_path / "m2"), "--metadata-columns", "street"]
    )
    assert missing.exit_code == 1 and "has no column 'street'" in " ".join(missing.output.split())
