"""``civiclake serve``: the intake API, and simulated source systems that are servers (demo and tests)."""

from __future__ import annotations

import typer

from civiclake.cli.common import console, fail, logical_date
from civiclake.settings import get_settings

app = typer.Typer(
    help="Serve the intake API, or simulated source systems (for the demo and tests).", no_args_is_help=True
)


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


@app.command("intake")
def intake(
    port: int = typer.Option(None, "--port", help="Port (default CIVICLAKE_INTAKE_PORT, 8320; 0: any free)."),
    host: str = typer.Option(None, "--host", help="Address to listen on (default CIVICLAKE_INTAKE_HOST)."),
    simulated_day: str = typer.Option(
        None,
        "--simulated-day",
        help="Demo: stamp requests on this day YYYY-MM-DD, 08:00 + one minute per accepted request, "
        "instead of the district's wall clock.",
    ),
) -> None:
    """Run the district's intake API (Open311 GeoReport v2 POST) at http://HOST:PORT/open311/v2/."""
    import uvicorn

    from civiclake.intake.app import app_from_settings
    from civiclake.intake.clients import ClientKeysError
    from civiclake.intake.store import GovernanceUnavailableError
    from civiclake.settings import MissingSecretError

    settings = get_settings()
    day = logical_date(simulated_day) if simulated_day else None
    try:
        api = app_from_settings(settings, simulated_day=day)
    except (ClientKeysError, MissingSecretError, GovernanceUnavailableError) as error:
        fail(error)
    host = host or settings.intake_host
    port = settings.intake_port if port is None else port
    clock = f"simulated day {day}" if day else "wall clock"
    console.print(f"intake API ({clock}) at http://{host}:{port}/open311/v2/services.json")
    uvicorn.run(api, host=host, port=port, log_level="warning")
