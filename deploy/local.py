"""CSP Insight as several replicas behind HAProxy, with the app state in PostgreSQL, on one machine.

    python -m deploy.local up --replicas 2 --demo      # http://127.0.0.1:8500, Ctrl-C stops everything

What it starts (each a real process, stopped again on exit):

- PostgreSQL (Debian's ``postgresql`` package): a private cluster in ``--pg-dir`` (kept between
  runs), listening on 127.0.0.1 only, password authentication (scram-sha-256) for user ``csp``;
  or none, when ``--database-url`` names a server you run yourself;
- N Streamlit replicas of serve.py (app.py behind the download guard, as ``make run`` serves it)
  on 127.0.0.1, one port each, sharing the data directory
  (``CSP_DATA_DIR``) and ``CSP_DATABASE_URL``, ``CSP_COOKIE_KEY`` and ``CSP_AUDIT_KEY``;
- HAProxy (Debian's ``haproxy`` package) on ``--port`` with cookie affinity
  (deploy/haproxy.cfg.template).

The tests (tests/e2e/test_e2e_replicas.py, tests/conftest.py, and the browser suite's single
server in tests/e2e/server.py) use the same classes. Packages missing on Debian are installed with
apt-get when running as root (``ensure_packages``).
"""
from __future__ import annotations

import argparse
import glob
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).with_name("haproxy.cfg.template")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    return found[-1] if found else shutil.which(name)


def ensure_packages() -> None:
    """PostgreSQL and HAProxy from Debian, installed when missing (as root, e.g. on CI)."""
    missing = [pkg for pkg, present in (("postgresql", _pg_bin("initdb")), ("haproxy", shutil.which("haproxy")))
               if not present]
    if not missing:
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"missing Debian packages: {' '.join(missing)} (sudo apt-get install {' '.join(missing)})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], check=True,
                   env=env, capture_output=True, timeout=900)


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None, what: str = "server") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited early (code {proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)  # readiness polling interval
    raise RuntimeError(f"{what} not answering at {url} after {timeout:.0f} s")


class Postgres:
    """A private PostgreSQL cluster in ``root`` (made on first start, reused after)."""

    USER = "csp"

    def __init__(self, root: Path, port: int | None = None):
        self.root = Path(root)
        self.data = self.root / "data"
        self.port = port or free_port()
        self.log = self.root / "postgres.log"
        self._as_postgres = os.geteuid() == 0  # initdb and postgres refuse to run as root

    def _run(self, *cmd: str, timeout: float = 120) -> subprocess.CompletedProcess:
        if self._as_postgres:
            cmd = ("runuser", "-u", "postgres", "--", *cmd)
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=timeout)

    @property
    def password(self) -> str:
        return (self.root / "password").read_text().strip()

    def url(self, database: str = "csp") -> str:
        return f"postgresql://{self.USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> str:
        if not self.root.exists():
            self.root.mkdir(parents=True, mode=0o700)
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            pw = self.root / "password"
            pw.write_text(secrets.token_urlsafe(24) + "\n")
            if self._as_postgres:
                shutil.chown(pw, "postgres", "postgres")
            os.chmod(pw, 0o600)
            self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", self.USER, "--auth=scram-sha-256",
                      f"--pwfile={pw}", "-E", "UTF8", "--locale=C", "--no-sync")
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200",
                  "start")
        self.create_database("csp")
        return self.url()

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as con:
            if not con.execute("SELECT 1 FROM pg_database WHERE datname=%s", (name,)).fetchone():
                con.execute(f'CREATE DATABASE "{name}"')  # name from our own code, never user input
        return self.url(name)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


class HAProxy:
    """HAProxy on 127.0.0.1:``port`` in front of ``servers`` [(name, port)], cookie affinity."""

    def __init__(self, workdir: Path, port: int, servers: list[tuple[str, int]]):
        self.port, self.servers = port, servers
        self.cfg = Path(workdir) / "haproxy.cfg"
        self.log = Path(workdir) / "haproxy.log"
        self.proc: subprocess.Popen | None = None

    def config(self) -> str:
        lines = "\n".join(f"    server {name} 127.0.0.1:{port} check inter 2s cookie {name}"
                          for name, port in self.servers)
        return string.Template(TEMPLATE.read_text()).substitute(bind=f"127.0.0.1:{self.port}", servers=lines)

    def start(self) -> None:
        self.cfg.write_text(self.config())
        check = subprocess.run(["haproxy", "-c", "-q", "-f", str(self.cfg)], capture_output=True, text=True, timeout=30)
        if check.returncode:
            raise RuntimeError(f"haproxy refuses {self.cfg}: {(check.stdout + check.stderr).strip()[:500]}")
        self._log = self.log.open("w")
        # -db: stay in the foreground, so it is our child and stops with us.
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", str(self.cfg)], stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        """Every replica up as HAProxy sees it (its health checks), so no request is refused."""
        wait_http(f"http://127.0.0.1:{self.port}/_stcore/health", timeout, self.proc, "haproxy")
        deadline = time.monotonic() + timeout
        seen: set[str] = set()
        while time.monotonic() < deadline and len(seen) < len(self.servers):
            for name, _ in self.servers:
                req = urllib.request.Request(f"http://127.0.0.1:{self.port}/_stcore/health",
                                             headers={"Cookie": f"CSP_REPLICA={name}"})
                try:
                    with urllib.request.urlopen(req, timeout=2) as r:
                        if r.headers.get("X-CSP-Replica") == name:
                            seen.add(name)
                except OSError:
                    pass
            time.sleep(0.2)
        if len(seen) < len(self.servers):
            raise RuntimeError(f"haproxy reaches only {sorted(seen)} of {[n for n, _ in self.servers]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self.proc:
            self._log.close()


class Replica:
    """``streamlit run serve.py`` on 127.0.0.1:``port`` with the settings in ``env``: the app
    with its download guard (csp.ui.downloads.MediaGuard), so a replica serves and audits
    downloads exactly as a single ``make run`` server does."""

    def __init__(self, name: str, port: int, env: dict[str, str], log: Path):
        self.name, self.port, self.log_path = name, port, log
        self.url = f"http://127.0.0.1:{port}"
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "serve.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def wait_healthy(self, timeout: float = 90) -> None:
        wait_http(f"http://127.0.0.1:{self.port}/_stcore/health", timeout, self.proc, f"replica {self.name}")
        self.warm_up(timeout)

    def warm_up(self, timeout: float = 90) -> None:
        """Run the app once (a session at /) before the replica takes traffic. Streamlit leaves
        its legacy pages/ mode only when app.py first calls st.navigation; until then the first
        visitor to a deep link (/crime) of a fresh replica gets a "Page not found" dialog."""
        import asyncio
        import threading

        from bench.wsclient import StreamlitSession

        async def visit():
            async with StreamlitSession("127.0.0.1", self.port) as s:
                await s.visit("", timeout=timeout)

        errors: list[BaseException] = []

        def run():  # a thread of its own: the caller may already be running an event loop
            try:
                asyncio.run(visit())
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        t = threading.Thread(target=run)
        t.start()
        t.join()
        if errors:
            raise RuntimeError(f"replica {self.name} did not complete a first run: {errors[0]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()


def replica_env(data_dir: Path, database_url: str, cookie_key: str, audit_key: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CSP_DEMO",)}
    env.update(CSP_DATA_DIR=str(data_dir), CSP_DATABASE_URL=database_url, CSP_COOKIE_KEY=cookie_key)
    if audit_key:
        env["CSP_AUDIT_KEY"] = audit_key
    else:  # the key file the log started with, in the shared data directory
        env.pop("CSP_AUDIT_KEY", None)
    return env


class Stack:
    """PostgreSQL (optional) + N replicas + HAProxy, started and stopped together."""

    def __init__(self, data_dir: Path, replicas: int = 2, port: int | None = None,
                 database_url: str | None = None, pg_dir: Path | None = None, workdir: Path | None = None,
                 cookie_key: str | None = None, audit_key: str | None = None):
        self.data_dir = Path(data_dir)
        self.n = replicas
        self.port = port or free_port()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="csp-stack-"))
        self.pg = None if database_url else Postgres(pg_dir or self.workdir / "pg")
        self.database_url = database_url
        self.cookie_key = cookie_key or secrets.token_urlsafe(48)
        self.audit_key = audit_key  # None: <data dir>/.audit_key, made when the log starts
        self.replicas: list[Replica] = []
        self.haproxy: HAProxy | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return replica_env(self.data_dir, self.database_url, self.cookie_key, self.audit_key)

    def start_database(self) -> str:
        if self.pg is not None:
            self.database_url = self.pg.start()
        return self.database_url

    def start(self) -> None:
        try:
            if self.database_url is None:
                self.start_database()
            ports = [free_port() for _ in range(self.n)]
            self.replicas = [Replica(f"r{i + 1}", p, self.env, self.workdir / f"replica-r{i + 1}.log")
                             for i, p in enumerate(ports)]
            for r in self.replicas:
                r.wait_healthy()
            self.haproxy = HAProxy(self.workdir, self.port, [(r.name, r.port) for r in self.replicas])
            self.haproxy.start()
            self.haproxy.wait_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.haproxy:
            self.haproxy.stop()
        for r in self.replicas:
            r.stop()
        if self.pg is not None:
            self.pg.stop()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m deploy.local", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start PostgreSQL, N replicas and HAProxy; Ctrl-C stops them")
    up.add_argument("--replicas", type=int, default=2)
    up.add_argument("--port", type=int, default=8500, help="where HAProxy listens (default 8500)")
    up.add_argument("--data-dir", type=Path, default=ROOT / "data-shared", help="the shared data directory")
    up.add_argument("--database-url", help="a PostgreSQL server of your own (default: a private cluster)")
    up.add_argument("--pg-dir", type=Path, default=Path("/var/tmp/csp-insight-pg"),
                    help="where the private cluster lives (kept between runs)")
    up.add_argument("--demo", action="store_true", help="publish the demo area and demo users first")
    args = p.parse_args(argv)

    ensure_packages()
    if not os.environ.get("CSP_COOKIE_KEY"):
        print("note: CSP_COOKIE_KEY is not set; using a random one for this run (everyone logs in again "
              "after a restart)", file=sys.stderr)
    if not os.environ.get("CSP_AUDIT_KEY"):
        print(f"note: CSP_AUDIT_KEY is not set; the audit log is signed with the key in "
              f"{args.data_dir}/.audit_key (set CSP_AUDIT_KEY to keep the key off the data directory)",
              file=sys.stderr)
    stack = Stack(args.data_dir.resolve(), args.replicas, args.port, args.database_url, args.pg_dir,
                  workdir=Path(tempfile.mkdtemp(prefix="csp-stack-")),
                  cookie_key=os.environ.get("CSP_COOKIE_KEY"), audit_key=os.environ.get("CSP_AUDIT_KEY"))
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    try:
        stack.start_database()
        if args.demo:
            subprocess.run([sys.executable, "-m", "csp", "demo"], cwd=ROOT, env=stack.env, check=True)
        stack.start()
        print(f"CSP Insight: {stack.url} ({args.replicas} replicas; state in "
              f"{stack.database_url.split('@')[-1]}; logs in {stack.workdir}). Ctrl-C stops.", flush=True)
        while not stop and all(r.proc.poll() is None for r in stack.replicas):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
