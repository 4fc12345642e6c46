"""The whole system on free ports, for the load benches: what a facility runs, on one machine.

    with Stack(workers=5, operators=32) as stack:
        operators = stack.log_in_operators()
        status, body, seconds = asyncio.run(request(stack.port, "GET", "/api/...", operators[0]))

- a scratch database on the embedded PostgreSQL (test_<db>_<suffix>, created and dropped here);
- the NEXX frame and Quartz router emulators in a child process, the integration settings
  pointing at them, and one refresh run to fill the cached state;
- an admin and N operators (password login), each operator granted one multiviewer of their own
  and every source;
- gunicorn (`mvcontrol.wsgi`, sync workers, DEBUG off as in production; or, with `asgi=True`,
  `mvcontrol.asgi:application` on uvicorn workers, which serves GET /api/events) and, when
  asked, a django-q2 cluster, both on that database.

The HTTP client is a small asyncio one (one connection per request, as gunicorn's sync workers
close after each answer; `Connection(port, keep_alive=True)` reuses one while the server keeps
it open, as gthread workers do), so the load generator costs little of the CPU it shares with
the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mvcontrol.settings")

PASSWORD = "bench-operator-password-1"  # noqa: S105 - scratch users of a scratch database
SOURCES = 128

EMULATORS = """
import json, sys
from devices.nexx.emulator import NexxEmulator
from devices.quartz.emulator import QuartzEmulator
multiviewers, limit = int(sys.argv[1]), float(sys.argv[2])
nexx = NexxEmulator(multiviewers=multiviewers, auth="api-key", api_key="bench-key",
                    max_rps=limit or None).start()
quartz = QuartzEmulator(sources={sources}, outputs=multiviewers * 16).start()
print(json.dumps({{"nexx": nexx.base_url, "nexx_stats": nexx.stats_url, "quartz": quartz.port}}),
      flush=True)
for line in sys.stdin:  # commands from the bench, one JSON answer each
    if line.strip() == "quartz-stats":
        print(json.dumps(quartz.stats()), flush=True)
    elif line.strip() == "reset":
        nexx.reset_stats()
        quartz.reset_stats()
        print("{{}}", flush=True)
nexx.stop()
quartz.stop()
"""


def cpu_description() -> dict:
    """The machine the figures came from."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "ram_gib": ram,
            "python": sys.version.split()[0], "python_loop_us": python_loop_us()}


def python_loop_us() -> float:
    """Microseconds for `sum(range(1000))`, best of 5 (as `python -m timeit` reports it): how
    fast this machine runs Python right now. Shared virtual machines vary by a factor of two
    or more from hour to hour; figures from two runs compare only with this next to them."""
    import timeit

    timer = timeit.Timer("sum(range(1000))")
    number, _ = timer.autorange()
    return round(min(timer.repeat(5, number)) / number * 1e6, 1)


def _process_table() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command name, CPU seconds so far) of every process (Linux /proc;
    empty elsewhere). A process's CPU includes that of its children that ended and were
    waited for: a PostgreSQL backend that ends during a measurement is counted in its
    postmaster's figure instead of vanishing from the sum."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    table: dict[int, tuple[int, str, float]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # ended meanwhile
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        # utime, stime, cutime, cstime
        table[int(entry)] = (int(fields[1]), name, sum(map(int, fields[11:15])) / tick)
    return table


def _children(table: dict[int, tuple[int, str, float]]) -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    return children


def _tree_cpu(table: dict[int, tuple[int, str, float]], children: dict[int, list[int]],
              root: int) -> float:
    """CPU seconds of `root` and every process below it (`children`: _children(table))."""
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            total += table[pid][2]
        todo.extend(children.get(pid, []))
    return total


class Emulators:
    def __init__(self, multiviewers: int, nexx_limit: float | None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", EMULATORS.format(sources=SOURCES), str(multiviewers),
             str(nexx_limit or 0)],
            cwd=BASE_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        line = self.process.stdout.readline()
        try:
            self.info = json.loads(line)
        except ValueError:
            self.close()
            raise SystemExit(f"the emulators did not start (said {line!r})") from None

    def nexx_stats(self) -> dict:
        with urllib.request.urlopen(self.info["nexx_stats"], timeout=5) as reply:  # noqa: S310
            return json.load(reply)

    def _ask(self, command: str) -> dict:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def quartz_stats(self) -> dict:
        return self._ask("quartz-stats")

    def reset_stats(self) -> None:
        self._ask("reset")

    def close(self) -> None:
        end_child(self.process)


def end_child(process: subprocess.Popen) -> None:
    """Stop an emulator child the benches run: closing its stdin ends it; kill it after 10 s."""
    if process.stdin and not process.stdin.closed:
        process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Operator:
    login: str
    multiviewer: int  # the id of the multiviewer granted to them
    cookies: dict[str, str] = field(default_factory=dict)

    def headers(self, unsafe: bool = False) -> dict[str, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if unsafe:
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
        return headers


class Stack:
    def __init__(self, *, workers: int | None = None, q_workers: int = 0, operators: int = 32,
                 multiviewers: int = 40, nexx_rate: float = 100.0,
                 nexx_limit: float | None = None, quartz_rate: float = 1000.0,
                 env: dict[str, str] | None = None, suffix: str = "bench_stack",
                 redis: bool = False, gunicorn_args: list[str] | None = None,
                 asgi: bool = False) -> None:
        """`nexx_rate`/`quartz_rate`: the integration settings' limits (the global throttle);
        `nexx_limit`: what the emulated frame refuses above (None: nothing); `redis`: start a
        throw-away local redis-server and set REDIS_URL (rate-limit counts shared);
        `gunicorn_args`: added to gunicorn's command line (worker class, threads…); `asgi`:
        serve `mvcontrol.asgi:application` with uvicorn workers, as production does."""
        self.workers = workers or 2 * (os.cpu_count() or 1) + 1
        self.asgi = asgi
        self.redis = redis
        self.redis_url = ""
        self.gunicorn_args = list(gunicorn_args or [])
        self.q_workers = q_workers
        self.operator_count = operators
        self.multiviewers = multiviewers
        self.nexx_rate = nexx_rate
        self.nexx_limit = nexx_limit
        self.quartz_rate = quartz_rate
        self.extra_env = env or {}
        self.suffix = suffix
        from tests.support import free_port

        self.port = free_port()
        self.processes: list[subprocess.Popen] = []
        self.server: subprocess.Popen | None = None  # gunicorn's master
        self.emulators: Emulators | None = None
        self._original_db = ""
        self.operators: list[Operator] = []
        self.multiviewer_ids: list[int] = []
        self.source_ids: list[int] = []

    # --- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        os.environ["TEST_DB_SUFFIX"] = self.suffix
        import django

        django.setup()
        from django.db import connection

        self._original_db = connection.settings_dict["NAME"]
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        self.emulators = Emulators(self.multiviewers, self.nexx_limit)
        if self.redis:
            self._start_redis()
        self._configure_devices()
        self._seed()
        env = self.env()
        app = (["mvcontrol.asgi:application", "--worker-class", "uvicorn_worker.UvicornWorker",
                "--graceful-timeout", "5"] if self.asgi else ["mvcontrol.wsgi"])
        self._spawn([sys.executable, "-m", "gunicorn", *app,
                     "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
                     "--backlog", "2048", "--log-level", "warning", *self.gunicorn_args], env)
        self.server = self.processes[-1]
        if self.q_workers:
            self._spawn([sys.executable, "manage.py", "qcluster"],
                        {**env, "Q_WORKERS": str(self.q_workers)})
        self._wait_ready()

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        if self.emulators is not None:
            self.emulators.close()
            self.emulators = None
        if self._original_db:
            from django.db import connection

            from devices.nexx.service import close_shared_service as close_nexx
            from devices.quartz.service import close_shared_service as close_quartz
            from devices.throttle import reset_shared_schedule

            close_nexx()
            close_quartz()
            reset_shared_schedule()
            connection.creation.destroy_test_db(self._original_db, verbosity=0)
            self._original_db = ""

    def server_rss(self) -> int:
        """Resident memory of the web server (gunicorn master and workers), bytes; 0 where
        /proc is not there."""
        table = _process_table()
        children = _children(table)
        total, todo = 0, [self.server.pid]
        while todo:
            pid = todo.pop()
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
            except OSError:
                pass
            todo.extend(children.get(pid, []))
        return total

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by each part of the stack on this machine, to tell where a
        request's CPU goes: the gunicorn master and workers (and the django-q2 cluster when
        started), every PostgreSQL process on the machine (the embedded server's; a remote
        DATABASE_URL shows 0), the bench's redis-server, the emulators and this process (the
        load generator). Empty where /proc is not there."""
        table = _process_table()
        if not table:
            return {}
        children = _children(table)
        redis_pids = {p.pid for p in self.processes if p.args[0].endswith("redis-server")}
        cpu = {
            "gunicorn": sum(_tree_cpu(table, children, p.pid) for p in self.processes
                            if p.pid not in redis_pids),
            "postgresql": sum(c for _, name, c in table.values() if name == "postgres"),
            "redis": sum(_tree_cpu(table, children, pid) for pid in redis_pids),
            "emulators": (_tree_cpu(table, children, self.emulators.process.pid)
                          if self.emulators else 0.0),
            # Its own CPU only: the stack's processes are its children.
            "load generator": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
        }
        return cpu

    def _start_redis(self) -> None:
        from tests.support import RedisUnavailable, start_redis_server

        try:
            process, self.redis_url = start_redis_server()
        except RedisUnavailable as exc:
            raise SystemExit(f"{exc} (run without Redis instead)") from None
        self.processes.append(process)

    def env(self) -> dict[str, str]:
        from tests.support import database_url

        env = os.environ.copy()
        env.update({
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": "mvcontrol.settings",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SESSION_COOKIE_SECURE": "false",  # plain HTTP on loopback
            "LOG_LEVEL": "ERROR",
            "PYTHONPATH": str(BASE_DIR),
        })
        env.pop("TEST_DB_SUFFIX", None)
        env.pop("REDIS_URL", None)
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        env.update(self.extra_env)
        return env

    def _spawn(self, argv: list[str], env: dict[str, str]) -> None:
        self.processes.append(subprocess.Popen(argv, cwd=BASE_DIR, env=env))

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise SystemExit(f"{process.args[:3]} exited with {process.returncode}")
            try:
                with urllib.request.urlopen(  # noqa: S310 - loopback
                        f"http://127.0.0.1:{self.port}/readyz", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("gunicorn did not become ready")

    # --- data ---------------------------------------------------------------------------------

    def _configure_devices(self) -> None:
        from devices.models import NexxAuthMode, NexxSettings, QuartzSettings

        nexx = NexxSettings.load()
        nexx.base_url = self.emulators.info["nexx"]
        nexx.auth_mode = NexxAuthMode.API_KEY
        nexx.api_key = "bench-key"  # noqa: S105 - the emulator's
        nexx.requests_per_second = self.nexx_rate
        nexx.timeout = 5.0
        nexx.save()
        quartz = QuartzSettings.load()
        quartz.host, quartz.port = "127.0.0.1", self.emulators.info["quartz"]
        quartz.source_count, quartz.output_count = SOURCES, self.multiviewers * 16
        quartz.commands_per_second = self.quartz_rate
        quartz.save()

    def _seed(self) -> None:
        from accounts.models import Role, User
        from devices.models import Multiviewer, Source
        from state.models import RefreshRun
        from state.refresh import execute_run
        from state.services import StateService

        ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND)
        outcome = execute_run(ticket.run.pk)
        if outcome is None or outcome.status != "success":
            raise SystemExit(f"the first refresh failed: "
                             f"{outcome.error_summary if outcome else 'not run'}")
        enabled = list(Multiviewer.objects.filter(enabled=True).order_by("nexx_index"))
        if len(enabled) < self.operator_count:
            raise SystemExit(f"{len(enabled)} enabled multiviewers for {self.operator_count} "
                             f"operators: raise --multiviewers")
        self.multiviewer_ids = [mv.pk for mv in enabled]
        self.source_ids = list(Source.objects.order_by("quartz_input").values_list("pk",
                                                                                   flat=True))
        admin = User(login="admin", role=Role.ADMIN)
        admin.set_password(PASSWORD)
        admin.save()
        users = []
        for i in range(self.operator_count):
            user = User(login=f"op{i + 1:02d}", role=Role.USER)
            user.set_password(PASSWORD)
            users.append(user)
        User.objects.bulk_create(users)
        for i, user in enumerate(User.objects.filter(role=Role.USER).order_by("login")):
            user.multiviewers.set([enabled[i]])
            user.sources.set(self.source_ids)
            self.operators.append(Operator(user.login, enabled[i].pk))

    # --- clients ------------------------------------------------------------------------------

    def log_in_operators(self) -> list[Operator]:
        """Password login of every operator over HTTP, as the login page does."""
        for operator in self.operators:
            self.log_in(operator)
        return self.operators

    def log_in(self, who: Operator) -> Operator:
        status, _, _ = asyncio.run(request(self.port, "GET", "/api/auth/setup", who))
        if status != 200:
            raise SystemExit(f"GET /api/auth/setup answered {status}")
        status, body, _ = asyncio.run(request(
            self.port, "POST", "/api/auth/login", who,
            {"login": who.login, "password": PASSWORD}))
        if status != 200:
            raise SystemExit(f"login of {who.login} answered {status}: {body[:200]!r}")
        return who


class Connection:
    """One client's HTTP/1.1 connection. With `keep_alive` it is reused from request to request
    for as long as the server keeps it open (gunicorn's gthread workers do; sync workers close
    after each answer, and then every request opens a new one)."""

    def __init__(self, port: int, keep_alive: bool = False) -> None:
        self.port = port
        self.keep_alive = keep_alive
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, who: Operator | None = None,
                      body: object = None) -> tuple[int, bytes, float]:
        """(status, body, seconds), connecting first when needed. Cookies the server sets are
        kept in `who`."""
        started = time.perf_counter()
        reused = self.writer is not None
        try:
            result = await self._exchange(method, path, who, body)
        except (ConnectionError, asyncio.IncompleteReadError, IndexError, ValueError):
            # A kept-alive connection the server closed meanwhile: once more on a new one.
            await self.close()
            if not reused:
                raise
            started = time.perf_counter()
            result = await self._exchange(method, path, who, body)
        return result[0], result[1], time.perf_counter() - started

    async def _exchange(self, method: str, path: str, who: Operator | None,
                        body: object) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.reader, self.writer
        writer.write(_message(self.port, self.keep_alive, method, path, who, body))
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        answer = _Answer(self.keep_alive)
        while answer.header(await reader.readline(), who):
            pass
        if answer.length is None:
            data = await reader.read()
        else:
            data = await reader.readexactly(answer.length)
        if answer.closing:
            await self.close()
        return status, data

    async def close(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        if writer is None:
            return
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


def _message(port: int, keep_alive: bool, method: str, path: str, who: Operator | None,
             body: object) -> bytes:
    """One HTTP/1.1 request as bytes: JSON body, the operator's cookies (and CSRF token when
    unsafe)."""
    payload = b"" if body is None else json.dumps(body).encode()
    headers = {"Host": f"127.0.0.1:{port}",
               "Connection": "keep-alive" if keep_alive else "close",
               "Accept": "application/json"}
    if who is not None:
        headers.update(who.headers(unsafe=method not in ("GET", "HEAD")))
    if body is not None:
        headers["Content-Type"] = "application/json"
    headers["Content-Length"] = str(len(payload))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode("latin-1") + payload


class _Answer:
    """What an answer's header lines say: its length, whether the server closes, and the
    cookies it sets (kept in the operator)."""

    def __init__(self, keep_alive: bool) -> None:
        self.length: int | None = None
        self.closing = not keep_alive

    def header(self, line: bytes, who: Operator | None) -> bool:
        """Take one header line; False at the blank line that ends them."""
        if line in (b"\r\n", b"\n", b""):
            if self.length is None:
                self.closing = True
            return False
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            self.length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            self.closing = True
        elif name == "set-cookie" and who is not None:
            # name=value; attributes… (Django's cookie values need no unquoting). Parsed by
            # hand: http.cookies took a tenth of the load generator's CPU.
            key, _, rest = value.strip().partition("=")
            who.cookies[key] = rest.split(";", 1)[0]
        return True


class BlockingConnection:
    """Connection's blocking twin, for requests timed one at a time: no event loop between the
    clock and the socket, so a request costs the client no more than a direct device call costs
    the bench (an asyncio round trip added 0.5-0.8 ms on a paced request)."""

    def __init__(self, port: int, keep_alive: bool = False) -> None:
        self.port = port
        self.keep_alive = keep_alive
        self.file = None
        self.sock: socket.socket | None = None

    def request(self, method: str, path: str, who: Operator | None = None,
                body: object = None) -> tuple[int, bytes, float]:
        started = time.perf_counter()
        reused = self.sock is not None
        try:
            status, data = self._exchange(method, path, who, body)
        except (ConnectionError, IndexError, ValueError):
            self.close()
            if not reused:
                raise
            started = time.perf_counter()
            status, data = self._exchange(method, path, who, body)
        return status, data, time.perf_counter() - started

    def _exchange(self, method: str, path: str, who: Operator | None,
                  body: object) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.file = self.sock.makefile("rb")
        self.sock.sendall(_message(self.port, self.keep_alive, method, path, who, body))
        status = int(self.file.readline().split()[1])
        answer = _Answer(self.keep_alive)
        while answer.header(self.file.readline(), who):
            pass
        data = self.file.read() if answer.length is None else self.file.read(answer.length)
        if answer.closing:
            self.close()
        return status, data

    def close(self) -> None:
        sock, file, self.sock, self.file = self.sock, None, None, None
        if file is not None:
            file.close()
        if sock is not None:
            sock.close()


async def request(port: int, method: str, path: str, who: Operator | None = None,
                  body: object = None) -> tuple[int, bytes, float]:
    """One HTTP/1.1 request on a new connection: (status, body, seconds). Cookies the server
    sets are kept in `who`."""
    return await Connection(port).request(method, path, who, body)


RESULTS = BASE_DIR / "bench" / "results"


def write_results(bench: str, results: dict) -> Path:
    """Keep a bench's figures as bench/results/<bench>-<time>.json and say where."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{bench}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(f"written: {path.relative_to(BASE_DIR)}")
    return path


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


@contextlib.contextmanager
def scratch_database() -> Iterator[None]:
    """Django set up on a scratch database (test_<db>, created here and dropped after), for a
    bench that runs the system in this process; the shared device clients are closed after."""
    import django

    django.setup()
    from django.db import connection

    original = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        from devices.nexx.service import close_shared_service as close_nexx
        from devices.quartz.service import close_shared_service as close_quartz
        from devices.throttle import reset_shared_schedule

        close_nexx()
        close_quartz()
        reset_shared_schedule()
        connection.close()
        connection.creation.destroy_test_db(original, verbosity=0)

