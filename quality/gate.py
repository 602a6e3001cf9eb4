"""Runs an expectation suite on a DataFrame and turns failures into a readable error."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import great_expectations as gx

log = logging.getLogger(__name__)


@dataclass
class QualityReport:
    suite: str
    rows: int
    evaluated: int
    failures: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.failures


class QualityGateError(RuntimeError):
    def __init__(self, report: QualityReport):
        self.report = report
        super().__init__(
            f"quality gate {report.suite} failed {len(report.failures)} of {report.evaluated} "
            f"expectations on {report.rows} rows:\n  - " + "\n  - ".join(report.failures)
        )


def _describe(result) -> str:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "value_set", "column_set")}
    details = result.result or {}
    sample = details.get("partial_unexpected_list") or details.get("details", {}).get("mismatched")
    text = f"{config.type} {kwargs}"
    if "unexpected_count" in details:
        text += f": {details['unexpected_count']} unexpected"
    if sample:
        text += f", e.g. {sample[:3] if isinstance(sample, list) else sample}"
    return text


def validate(df, suite: gx.ExpectationSuite, engine: str = "spark") -> QualityReport:
    """Validates a Spark (``engine="spark"``) or pandas DataFrame against ``suite``."""
    context = gx.get_context(mode="ephemeral")
    source = (context.data_sources.add_spark if engine == "spark" else context.data_sources.add_pandas)("in")
    batch = (
        source.add_dataframe_asset("table")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": df})
    )
    result = batch.validate(suite)
    rows = df.count() if engine == "spark" else len(df)
    report = QualityReport(
        suite=suite.name,
        rows=rows,
        evaluated=len(result.results),
        failures=[_describe(r) for r in result.results if not r.success],
    )
    log.info(
        "quality %s: %d rows, %d/%d expectations met",
        suite.name,
        rows,
        report.evaluated - len(report.failures),
        report.evaluated,
    )
    return report


def enforce(df, suite: gx.ExpectationSuite, engine: str = "spark") -> QualityReport:
    report = validate(df, suite, engine)
    if not report.success:
        raise QualityGateError(report)
    return report
