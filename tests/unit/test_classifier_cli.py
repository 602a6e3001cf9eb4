"""`civiclake classifier train --input` / `classifier predict`: a district's own files."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from civiclake.cli import app
from models.case_classifier import train as trainer
from models.case_classifier.files import ClassifierFileError, read_table

TEXTS = {
    "manhole": "井盖不见了{}号路口很危险",
    "noise": "楼下广场舞音响太吵{}点还在跳",
    "garbage": "垃圾桶满了{}天没人收很臭",
}


def labelled(n: int = 40) -> pd.DataFrame:
    rows = [
        {"id": f"c{len(TEXTS) * i + k}", "内容": text.format(i % 9), "类别": label}
        for i in range(n)
        for k, (label, text) in enumerate(TEXTS.items())
    ]
    return pd.DataFrame(rows)


def run(*args: str):
    return CliRunner().invoke(app, ["classifier", *args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    source = base / "history.csv"
    labelled().to_csv(source, index=False, encoding="utf-8")
    model_dir = base / "model"
    result = run(
        "train",
        "--input",
        str(source),
        "--text-column",
        "内容",
        "--label-column",
        "类别",
        "--output",
        str(model_dir),
        "--seed",
        "7",
    )
    assert result.exit_code == 0, result.output
    return base, model_dir


def test_train_from_a_csv_writes_a_model_directory(trained):
    _, model_dir = trained
    assert {p.name for p in model_dir.iterdir()} == {"model.skops", "card.json", "card.md"}
    card = json.loads((model_dir / "card.json").read_text(encoding="utf-8"))
    assert card["model"] == "char_word_svc" and card["seed"] == 7
    assert card["protocol"] == "cross_validation" and card["unlabelled_texts"] == 0
    assert card["text_column"] == "内容" and card["metrics"]["accuracy"] == 1.0
    assert sorted(card["classes"]) == sorted(TEXTS)
    assert len(card["confusion_matrix"]) == 3
    assert "history.csv" in card["data_description"]
    assert "Confusion matrix" in (model_dir / "card.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predict_writes_every_row_with_label_and_confidence(trained, suffix):
    base, model_dir = trained
    cases = pd.DataFrame(
        {"编号": ["a", "b", "c", "d"], "内容": ["路口井盖没了", "广场舞太吵了", "垃圾没人收", None]}
    )
    source = base / f"new{suffix}"
    if suffix == ".csv":
        cases.to_csv(source, index=False)
    else:
        cases.to_parquet(source, index=False)
    out = base / f"scored{suffix}"
    result = run("predict", "--model", str(model_dir), "--input", str(source), "--output", str(out))
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out, dtype={"编号": str}) if suffix == ".csv" else pd.read_parquet(out)
    assert list(scored.columns) == ["编号", "内容", "predicted_label", "confidence", "decision"]
    assert list(scored["编号"]) == ["a", "b", "c", "d"]
    assert list(scored["predicted_label"][:3]) == ["manhole", "noise", "garbage"]
    assert scored["confidence"][:3].between(0, 1).all()
    # A row without text is kept, unlabelled, and goes to review.
    assert pd.isna(scored["predicted_label"][3]) and pd.isna(scored["confidence"][3])
    assert scored["decision"][3] == "review"


def test_a_gbk_csv_is_read_and_said_so(tmp_path, caplog):
    path = tmp_path / "export.csv"
    labelled(3).to_csv(path, index=False, encoding="gbk")
    table = read_table(path)
    assert table.encoding == "gb18030"
    assert table.frame["内容"][0] == "井盖不见了0号路口很危险"
    assert "read it as GBK" in caplog.text
    with pytest.raises(ClassifierFileError, match="is not valid utf-8"):
        read_table(path, encoding="utf-8")


def test_a_missing_column_names_the_file_and_the_column(trained):
    base, model_dir = trained
    result = run(
        "train",
        "--input",
        str(base / "history.csv"),
        "--text-column",
        "text",
        "--label-column",
        "类别",
        "--output",
        str(base / "other"),
    )
    assert result.exit_code == 1
    assert "history.csv" in result.output and "'text'" in result.output
    result = run(
        "predict",
        "--model",
        str(model_dir),
        "--input",
        str(base / "history.csv"),
        "--text-column",
        "描述",
        "--output",
        str(base / "x.csv"),
    )
    assert result.exit_code == 1 and "'描述'" in result.output


def test_train_needs_exactly_one_of_date_and_input(trained):
    base, _ = trained
    neither = run("train")
    assert neither.exit_code == 2 and "exactly one of --date" in neither.output
    both = run("train", "--date", "2026-11-25", "--input", str(base / "history.csv"))
    assert both.exit_code == 2 and "exactly one of --date" in both.output
    file_options_with_date = run("train", "--date", "2026-11-25", "--text-column", "x")
    assert file_options_with_date.exit_code == 2 and "only apply to --input" in file_options_with_date.output
    incomplete = run("train", "--input", str(base / "history.csv"))
    assert incomplete.exit_code == 2 and "--text-column" in incomplete.output


def test_unknown_file_types_and_missing_files_are_clear_errors(trained, tmp_path):
    base, model_dir = trained
    result = run(
        "predict", "--model", str(model_dir), "--input", str(base / "history.xlsx"), "--output", "o.csv"
    )
    assert result.exit_code == 1 and "use .csv or .parquet" in result.output
    result = run(
        "predict", "--model", str(tmp_path), "--input", str(base / "history.csv"), "--output", "o.csv"
    )
    assert result.exit_code == 1 and "no model file" in result.output


def test_rare_labels_are_left_out_and_recorded(tmp_path):
    frame = pd.concat([labelled(20), pd.DataFrame([{"内容": "路灯坏了", "类别": "light"}] * 3)])
    _, card = trainer.train(frame, "内容", "类别", seed=1)
    assert card.dropped_classes == {"light": 3}
    assert "light" not in card.classes


def test_the_baseline_is_selectable_and_compared_on_the_same_split(tmp_path):
    pipeline, card = trainer.train(
        labelled(), "内容", "类别", seed=2, model="tfidf_logreg", compare_with="calibrated_svc"
    )
    assert card.model == "tfidf_logreg" and card.comparison["model"] == "calibrated_svc"
    assert set(card.comparison["metrics"]) == set(card.metrics)
    loaded, loaded_card = trainer.load(trainer.save(pipeline, card, tmp_path / "m"))
    assert loaded_card == card
    assert "Compared on the same split" in (tmp_path / "m" / "card.md").read_text(encoding="utf-8")
    with pytest.raises(trainer.TrainingDataError, match="not in the training data"):
        trainer.train(labelled(), "text", "类别")


def test_unlabelled_files_feed_the_vocabulary_and_a_bad_one_is_a_clear_error(tmp_path):
    source = tmp_path / "history.csv"
    labelled().to_csv(source, index=False, encoding="utf-8")
    extra = tmp_path / "past.csv"
    pd.DataFrame({"正文": ["路灯坏了晚上很黑", "路灯坏了晚上很黑", "", "井盖不见了1号路口很危险"]}).to_csv(
        extra, index=False
    )
    args = ["train", "--input", str(source), "--text-column", "内容", "--label-column", "类别"]
    result = run(
        *args, "--output", str(tmp_path / "m"), "--unlabelled", str(extra), "--unlabelled-column", "正文"
    )
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "m" / "card.json").read_text(encoding="utf-8"))
    # The blank text and the one that is also labelled are left out; the repeat counts once.
    assert card["unlabelled_texts"] == 1 and card["unlabelled_source"] == "past.csv"
    wrong = run(*args, "--output", str(tmp_path / "m2"), "--unlabelled", str(extra))
    assert wrong.exit_code == 1 and "has no column '内容'" in " ".join(wrong.output.split())
