"""``civiclake spark-driver``: one warm Spark driver that runs the Spark commands of a machine.

Each Spark command started as its own process pays for a new JVM whose code is not compiled
yet: the session takes 8 s to start, and the jobs run slower than in a driver that ran jobs
before (a day's four file-export ingests: 199 s as processes of their own, 126 s on one
driver, its start included; docs/BENCHMARKS.md, bench/bench_spark_driver.py). The daily DAG
runs a dozen such commands one after the other. ``civiclake spark-driver serve`` keeps one session and
listens on a Unix socket (``CIVICLAKE_SPARK_DRIVER_SOCKET``); a command marked
:func:`civiclake.cli.common.spark_command`, started where that variable is set, sends its
command line, environment and folder there instead of starting Spark itself, prints what the
command prints there and exits with its exit code.

The driver runs one command at a time (others wait for it), each in the environment its
client sent, as the client's own process would have. A command needing another session (a
different master, jars, driver memory or geography: settings fixed when a JVM starts) is
refused, and its client runs it in a session of its own, as it does when no driver answers.
A client that goes away (a task killed for its timeout) ends its command and cancels the
command's Spark jobs.

The socket's folder is the driver's owner's alone (mode 0700): whoever can connect can run
any ``civiclake`` command as that user.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import io
import logging
import os
import signal
import sys
import threading
import traceback
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path

import typer

from civiclake.cli.common import SPARK_COMMAND, console, fail
from civiclake.settings import Settings, get_settings

app = typer.Typer(help="A warm Spark driver that runs the Spark commands of this machine's runs.")
log = logging.getLogger(__name__)

# How often the driver looks whether the client of the running command is still there.
CLIENT_CHECK_S = 1.0


def session_shape(settings: Settings) -> dict[str, object]:
    """The settings a Spark session takes once, when its JVM starts: a command that wants
    other values cannot run in an existing session."""
    from civiclake.spark import delta_jars

    return {
        "spark_master": settings.spark_master,
        "jars": delta_jars(settings),
        "spark_driver_memory": settings.spark_driver_memory,
        "spark_driver_host": settings.spark_driver_host,
        "spark_executor_memory": settings.spark_executor_memory,
        "spark_executor_cores": settings.spark_executor_cores,
        "geography_version": settings.geography_version,
    }


# --- The client side: a command line sent to the driver -------------------------------------


def runs_spark(argv: list[str]) -> bool:
    """Whether ``argv`` names a command marked as a Spark command (``spark_command``)."""
    from civiclake.cli import app as root

    command = typer.main.get_command(root)
    for token in argv:
        subcommands = getattr(command, "commands", None)  # a group's; a command has none
        if subcommands is None:
            break
        if token.startswith("-"):
            continue  # a group's flag (--verbose); no group option takes a value
        command = subcommands.get(token)
        if command is None:
            return False
    return getattr(command.callback, SPARK_COMMAND, False)


def forwarded(argv: list[str]) -> int | None:
    """Runs ``argv`` on the warm driver when one is configured and it is a Spark command;
    returns the command's exit code, or None where it is to run in this process."""
    if not runs_spark(argv):
        return None
    socket = get_settings().spark_driver_socket  # a Spark command reads its settings anyway
    if socket is None:
        return None
    try:
        connection = Client(str(socket), family="AF_UNIX")
    except OSError as error:
        console.print(
            f"no Spark driver answers at {socket} ({error.strerror or error}); "
            "this command starts a Spark session of its own",
            style="yellow",
            soft_wrap=True,
            markup=False,
        )
        return None
    with connection:
        connection.send({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()})
        return _relay(connection, socket)


def _relay(connection: Connection, socket: Path) -> int | None:
    """Prints what the driver sends until the command's exit code."""
    while True:
        try:
            kind, value = connection.recv()
        except EOFError:
            console.print(f"the Spark driver at {socket} ended during the command", style="red")
            return 1
        if kind in ("out", "err"):
            _write(sys.stdout if kind == "out" else sys.stderr, value)
        elif kind == "accepted":
            console.print(f"running on the warm Spark driver {value} ({socket})", markup=False)
        elif kind == "refused":
            console.print(
                f"the Spark driver at {socket} runs another session ({value}); "
                "this command starts a Spark session of its own",
                style="yellow",
                soft_wrap=True,
                markup=False,
            )
            return None
        elif kind == "exit":
            return value


def _write(stream, value: str | bytes) -> None:
    """Text as text; bytes (click writes them to a stream's binary buffer) as they came."""
    stream.flush()
    if isinstance(value, bytes):
        stream.buffer.write(value)
        stream.buffer.flush()
    else:
        stream.write(value)
        stream.flush()


# --- The driver side ------------------------------------------------------------------------


class _Relay(io.TextIOBase):
    """A text stream whose writes go to the client as ``(kind, text)`` messages; once the client
    is gone, they are dropped."""

    def __init__(self, connection: Connection, kind: str):
        self.connection, self.kind, self.gone = connection, kind, False

    def writable(self) -> bool:
        return True

    def write(self, text: str | bytes) -> int:
        if text and not self.gone:
            try:
                self.connection.send((self.kind, text))
            except OSError:
                self.gone = True
        return len(text)


@contextlib.contextmanager
def _environment(env: dict[str, str], cwd: str):
    """The process as the client's would be: its environment and folder, for the block."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(env)
    try:
        os.chdir(cwd)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)


def _fresh_logging() -> None:
    """No root handlers: the command's callback (``civiclake.cli._setup``) sets up logging to
    the stderr of the moment, the client's."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)


class ClientGone(BaseException):
    """Raised in the running command when its client went away (a task killed for its
    timeout): it ends the command as a signal ends a process, past the command's own
    ``except Exception``, its ``finally`` blocks run."""


def _end_command(thread_id: int) -> None:
    """Raises :class:`ClientGone` in the command's thread at its next Python step (an
    asynchronous exception, CPython's ``PyThreadState_SetAsyncExc``)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(ClientGone))


def _forget_end(thread_id: int) -> None:
    """Withdraws a :class:`ClientGone` not raised yet (the command ended first)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)


def _watch_client(connection: Connection, spark, done: threading.Event, command_thread: int) -> None:
    """Ends the running command, and cancels its Spark jobs, when its client goes away."""
    while not done.wait(CLIENT_CHECK_S):
        try:
            if connection.poll():
                connection.recv()  # a client sends nothing after its request: this is its end
        except (EOFError, OSError):
            log.warning("the client went away: ending its command")
            _end_command(command_thread)
            # The command waits on a Spark job, if any: cancelled, the job returns at once.
            spark.sparkContext.cancelAllJobs()
            return


def run_command(connection: Connection, spark, argv: list[str]) -> int:
    """Runs ``civiclake argv`` here, its output sent to the client; returns its exit code."""
    from civiclake.cli import run

    done = threading.Event()
    command_thread = threading.get_ident()
    watcher = threading.Thread(
        target=_watch_client, args=(connection, spark, done, command_thread), daemon=True
    )
    watcher.start()
    out, err = _Relay(connection, "out"), _Relay(connection, "err")
    _fresh_logging()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                return run(argv)
            except ClientGone:
                return 1
            except Exception:  # as the command's own process would end: its traceback, code 1
                traceback.print_exc()
                return 1
    finally:
        done.set()
        watcher.join()
        _forget_end(command_thread)
        _fresh_logging()
        # What one command cached or checkpointed is not the next one's.
        spark.catalog.clearCache()
        gc.collect()


def serve_one(connection: Connection, spark, shape: dict[str, object]) -> None:
    """Answers one client: a ping with the application id, or a command line run here in the
    client's environment (or refused, when it needs a session of another ``shape``)."""
    request = connection.recv()
    if request.get("ping"):
        connection.send(("ready", spark.sparkContext.applicationId))
        return
    with _environment(request["env"], request["cwd"]):
        try:
            wanted = session_shape(get_settings())
        except Exception as error:  # the command meets it in its own session too, and says so
            connection.send(("refused", f"its settings do not give a session here: {error}"))
            return
        different = sorted(name for name, value in wanted.items() if value != shape[name])
        if different:
            connection.send(("refused", "other " + ", ".join(different)))
            return
        connection.send(("accepted", spark.sparkContext.applicationId))
        code = run_command(connection, spark, request["argv"])
    with contextlib.suppress(OSError):
        connection.send(("exit", code))


def _listen(socket: Path) -> Listener:
    """A listener on ``socket``, in a folder of the owner's alone; a stale socket file (of a
    driver that ended without removing it) is replaced, a live one is not."""
    socket.parent.mkdir(parents=True, exist_ok=True)
    socket.parent.chmod(0o700)
    if socket.exists():
        try:
            Client(str(socket), family="AF_UNIX").close()
        except OSError:
            socket.unlink()
        else:
            fail(RuntimeError(f"a Spark driver already listens at {socket}"))
    listener = Listener(str(socket), family="AF_UNIX")
    socket.chmod(0o600)
    return listener


@app.command("serve")
def serve() -> None:
    """Start a Spark session and run the Spark commands sent to CIVICLAKE_SPARK_DRIVER_SOCKET,
    one at a time, until SIGTERM or SIGINT."""
    from civiclake.spark import spark_session

    settings = get_settings()
    if settings.spark_driver_socket is None:
        raise typer.BadParameter("set CIVICLAKE_SPARK_DRIVER_SOCKET to the socket to listen on")
    # The driver's own lines go to its log, not to the client of the moment (whose command
    # has the root logger and stderr while it runs).
    handler = logging.StreamHandler(sys.__stderr__)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.propagate = False
    socket = settings.spark_driver_socket
    spark = spark_session(settings, "civiclake-spark-driver")
    shape = session_shape(settings)
    listener = _listen(socket)

    def stop(signum, frame) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    log.info("Spark driver %s listening at %s", spark.sparkContext.applicationId, socket)
    try:
        while True:
            try:
                with listener.accept() as connection:
                    serve_one(connection, spark, shape)
            except (EOFError, OSError, ClientGone) as error:
                log.warning("a client left before its answer: %r", error)
    except KeyboardInterrupt:
        log.info("Spark driver stopping")
    finally:
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            socket.unlink()
        spark.stop()


@app.command("ping")
def ping() -> None:
    """Exit 0 when the Spark driver at CIVICLAKE_SPARK_DRIVER_SOCKET is ready (printing its
    application id), 1 when none answers."""
    socket = get_settings().spark_driver_socket
    if socket is None:
        raise typer.BadParameter("set CIVICLAKE_SPARK_DRIVER_SOCKET to the driver's socket")
    try:
        with Client(str(socket), family="AF_UNIX") as connection:
            connection.send({"ping": True})
            _, application = connection.recv()
    except (OSError, EOFError):
        raise typer.Exit(1) from None
    print(application)
