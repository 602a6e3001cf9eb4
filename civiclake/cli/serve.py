"""``civiclake serve``: simulated source systems that are servers (for the demo and tests)."""

from __future__ import annotations

import typer

from civiclake.cli.common import console, fail, logical_date

app = typer.Typer(help="Serve simulated source systems (for the demo and tests).", no_args_is_help=True)


@app.command("open311")
def open311(
    dataset: str = typer.Option("longhua", "--dataset", help="longhua (simulated i龙华 channel) or nyc311."),
    port: int = typer.Option(8311, "--port", help="Port on 127.0.0.1 (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    day: str = typer.Option(
        None, "--date", help="longhua: the last simulated day YYYY-MM-DD (required for longhua)."
    ),
    days: int = typer.Option(7, "--days", help="longhua: days of requests up to --date."),
    nyc311_dir: str = typer.Option(
        None, "--nyc311-dir", help="nyc311: folder of NYC 311 CSV files (default: ../shared/data/nyc311)."
    ),
) -> None:
    """Run an Open311 GeoReport v2 API at http://HOST:PORT/open311/v2/ until stopped."""
    import uvicorn

    from simulators.nyc311 import Nyc311DataMissingError
    from simulators.open311_server import create_app, make_dataset

    if dataset not in ("longhua", "nyc311"):
        raise typer.BadParameter(f"choose longhua or nyc311, got {dataset!r}", param_hint="'--dataset'")
    if dataset == "longhua" and day is None:
        raise typer.BadParameter(
            "the longhua dataset needs --date (its last simulated day)", param_hint="'--date'"
        )
    try:
        data = make_dataset(dataset, day=logical_date(day) if day else None, days=days, nyc311_dir=nyc311_dir)
    except Nyc311DataMissingError as error:
        fail(error)
    console.print(f"Open311 {dataset} at http://{host}:{port}/open311/v2/services.json")
    uvicorn.run(create_app(data), host=host, port=port, log_level="warning")
