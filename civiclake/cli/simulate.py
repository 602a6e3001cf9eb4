"""``civiclake simulate <family>``: the simulated source systems' data of one day.

One command per simulated family of civiclake/families.toml; each imports its simulator
(``simulators.<family>``) only when it runs.
"""

from __future__ import annotations

from importlib import import_module

import typer

from civiclake.cli.common import DateOption, add_family_commands, console, logical_date
from civiclake.families import families
from civiclake.settings import Settings, get_settings

app = typer.Typer(help="Write simulated source-system data.", no_args_is_help=True)

HistoryDaysOption = typer.Option(
    None,
    help="Days before --date to simulate first when the source lacks them "
    "[default: CIVICLAKE_SIM_HISTORY_DAYS or 30].",
)


def _history_days(settings: Settings, given: int | None) -> int:
    return settings.sim_history_days if given is None else given


def governance(day: str = DateOption, history_days: int = HistoryDaysOption) -> None:
    """One day of governance cases into the PostgreSQL source database."""
    from simulators.governance import simulate_day

    settings = get_settings()
    rows = simulate_day(logical_date(day), settings, history_days=_history_days(settings, history_days))
    console.print(f"governance source: {rows} cases created or changed on {day}")


def city(day: str = DateOption, history_days: int = HistoryDaysOption) -> None:
    """One day of city-management cases, manhole covers and repairs into PostgreSQL."""
    from simulators.city import simulate_day

    settings = get_settings()
    counts = simulate_day(logical_date(day), settings, history_days=_history_days(settings, history_days))
    console.print(f"city source: rows created or changed on {day}: {counts}")


def resources(day: str = DateOption) -> None:
    """The registries' full extracts of --date (Parquet + manifest under var/sources/resources)."""
    from simulators.resources import simulate_day

    counts = simulate_day(logical_date(day), get_settings())
    console.print(f"registry extracts of {day}: {counts}")


def positions(day: str = DateOption) -> None:
    """One day of fleet position reports (hourly CSV) into the landing folder."""
    from simulators.positions import simulate_day

    written = simulate_day(logical_date(day), get_settings())
    console.print(f"positions for {day}: {sum(written.values())} reports in {len(written)} files")


def cameras(day: str = DateOption) -> None:
    """One day of street-camera clips and frames (MPEG-4, JPEG + manifest) into the landing folder."""
    from simulators.cameras import simulate_day

    delivery = simulate_day(logical_date(day), get_settings())
    if delivery.skipped:
        console.print(f"[yellow]{delivery.skipped}[/yellow]")
    console.print(
        f"camera recordings for {day}: {delivery.counts()} in hours {', '.join(delivery.hours) or 'none'}"
    )


def _exports(family: str, day: str) -> None:
    """A file-export family's files of the day into its landing folder."""
    simulator = import_module(f"simulators.{family}")
    written = simulator.simulate_day(logical_date(day), get_settings())
    console.print(f"{family} exports for {day}: {sum(written.values())} rows in {len(written)} files")


def party(day: str = DateOption) -> None:
    """One day of party-building exports (Excel, GBK/UTF-8 CSV) into the landing folder."""
    _exports("party", day)


def services(day: str = DateOption) -> None:
    """One day of people-services exports (care visits, welfare coupons, service requests)."""
    _exports("services", day)


add_family_commands(
    app,
    "simulate",
    {
        "governance": governance,
        "city": city,
        "resources": resources,
        "positions": positions,
        "cameras": cameras,
        "party": party,
        "services": services,
    },
    [family for family in families().values() if family.simulated],
)


@app.command("intake")
def intake(
    day: str = DateOption,
    base_url: str = typer.Option(
        None,
        "--base-url",
        help="The intake API (infra/intake/start.sh) [default: http://CIVICLAKE_INTAKE_HOST:CIVICLAKE_INTAKE_PORT].",
    ),
) -> None:
    """Residents' requests of --date posted through the intake API (GeoReport v2 POST)."""
    from simulators.residents import post_requests

    settings = get_settings()
    base_url = base_url or f"http://{settings.intake_host}:{settings.intake_port}"
    posted = post_requests(logical_date(day), settings, base_url)
    console.print(f"intake: {posted} requests posted for {day}")


@app.command("weather")
def weather(day: str = DateOption) -> None:
    """The weather warnings the command system holds at the end of --date (issued, lifted)."""
    from simulators.weather import simulate_day

    rows = simulate_day(logical_date(day), get_settings())
    console.print(f"weather warnings: {rows} rows as of the end of {day}")


@app.command("departments")
def departments(day: str = DateOption) -> None:
    """The departments act on the orders delivered for --date: accept, handle, answer the resident."""
    from simulators.departments import act_on_orders

    counts = act_on_orders(logical_date(day), get_settings())
    console.print(f"departments on {day}: {counts}")
