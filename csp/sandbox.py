"""Reading uploaded files in a child process with memory and time limits.

A small file can describe a huge table: a 1.5 KB workbook declaring 16,384 columns by 8,000
rows took 1.1 GB to read, a 143 KB Parquet file holds 20 million rows, a 10 MB CSV header names
a million columns. csp.validate refuses what a file declares beyond the limits before reading
it; this module is the backstop for whatever it cannot foresee, so the app server's own memory
grows by about the size of the file and it keeps answering.

How: the parent (the app server, or the CLI) starts one helper process, ``python -m csp.sandbox
--serve``, which imports the readers once and then forks a fresh child for each file. The child
caps its address space (RLIMIT_AS: what it already has plus ``CSP_UPLOAD_READ_MEMORY_MB``,
default 2048, enough for a 100 MB CSV) and CPU time, reads the file with csp.validate, and
writes the table as Arrow IPC to a private file. The helper kills a child still running after
``CSP_UPLOAD_READ_SECONDS`` (default 120); the parent kills the helper's whole process group if it
stops answering. Forking from the helper, which never starts a thread, costs milliseconds where a
new interpreter costs a second; the server itself, which runs many threads, never forks.
Reads are one at a time per server process.
"""
from __future__ import annotations

import json
import os
import resource
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

DEFAULT_MEMORY_MB = 2048
DEFAULT_SECONDS = 120

_lock = threading.Lock()
_helper: subprocess.Popen | None = None


def limits() -> tuple[int, int]:
    return (int(os.environ.get("CSP_UPLOAD_READ_MEMORY_MB", DEFAULT_MEMORY_MB)),
            int(float(os.environ.get("CSP_UPLOAD_READ_SECONDS", DEFAULT_SECONDS))))


def read_table(data: bytes, filename: str):
    """csp.validate.read_table, in a limited child process. Raises validate.ReadError with a
    message for the partner when the file cannot be read, is too big, or breaks a limit."""
    import polars as pl

    from . import validate

    name = os.path.basename(filename) or "upload"
    out = _run("table", data, name)
    try:
        frame = pl.read_ipc(out["arrow"])
    finally:
        Path(out["arrow"]).unlink(missing_ok=True)
    notes = [validate.Problem(**n) for n in out["notes"]]
    return validate.Table(frame, out["format"], out["encoding"], notes, out["first_row"])


def check_boundaries(level: str, data: bytes, name: str, known_codes: set[str] | None, dest: Path):
    """csp.validate.check_boundaries in a limited child; the normalised GeoJSON is written to
    ``dest`` (never parsed in this process). Returns (feature count or None, problems)."""
    from . import validate

    extra = {"level": level, "known": sorted(known_codes) if known_codes is not None else None, "dest": str(dest)}
    out = _run("boundaries", data, name, extra)
    return out["features"], [validate.Problem(**p) for p in out["problems"]]


def _run(task: str, data: bytes, name: str, extra: dict | None = None) -> dict:
    from . import config, validate

    memory_mb, seconds = limits()
    tmp = config.data_dir() / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    stem = tmp / f"read-{uuid.uuid4().hex}"
    src, result = Path(f"{stem}.upload"), Path(f"{stem}.result")
    fd = os.open(src, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # uploads are partner data
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    request = {"task": task, "name": name, "src": str(src), "result": str(result), "arrow": f"{stem}.arrow",
               "memory_mb": memory_mb, "seconds": seconds, **(extra or {}),
               # the child sees this process's settings (row limits ...), not the helper's
               "env": {k: v for k, v in os.environ.items() if k.startswith("CSP_")}}
    try:
        with _lock:
            reply = _ask(request, seconds + 15)
        out = json.loads(result.read_text()) if result.exists() else None
    finally:
        src.unlink(missing_ok=True)
        result.unlink(missing_ok=True)
    if reply is None or reply.get("timeout"):
        Path(request["arrow"]).unlink(missing_ok=True)
        raise validate.ReadError(f"{name} took longer than {seconds} s to read, so reading was stopped: "
                                 "save the data alone as CSV, or split it into smaller files.")
    if reply.get("exit") != 0 or out is None or out.get("memory"):
        Path(request["arrow"]).unlink(missing_ok=True)
        raise validate.ReadError(
            f"{name} needs more memory to read than an upload may use ({memory_mb:,} MB), so reading was "
            "stopped: it may be damaged, or describe far more than it holds. Save the data alone as CSV, "
            "or split it into smaller files.")
    if out.get("error"):
        Path(request["arrow"]).unlink(missing_ok=True)
        raise validate.ReadError(out["error"])
    return out


def warm() -> None:
    """Start the helper now rather than on the first upload (it takes about a second)."""
    with _lock:
        _start_helper()


def _ask(request: dict, timeout: float) -> dict | None:
    """Send one request to the helper and wait for its one-line reply (None: it hung, and was
    killed with everything it started)."""
    global _helper
    for attempt in (1, 2):  # a helper that died since the last read is replaced once
        helper = _start_helper()
        try:
            helper.stdin.write((json.dumps(request) + "\n").encode())
            helper.stdin.flush()
        except BrokenPipeError:
            _stop_helper()
            continue
        ready, _, _ = select.select([helper.stdout], [], [], timeout)
        line = helper.stdout.readline() if ready else b""
        if line:
            return json.loads(line)
        _stop_helper()
        if ready and attempt == 1:  # it died (EOF) rather than hung: try a fresh one
            Path(request["result"]).unlink(missing_ok=True)
            continue
        return None
    return None


def _start_helper() -> subprocess.Popen:
    global _helper
    if _helper is not None and _helper.poll() is None:
        return _helper
    from . import config

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(config.ROOT), os.environ.get("PYTHONPATH")])))
    _helper = subprocess.Popen([sys.executable, "-m", "csp.sandbox", "--serve"], cwd=str(config.ROOT), env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # its own process group: one kill takes all
    ready, _, _ = select.select([_helper.stdout], [], [], 120)
    if not ready or _helper.stdout.readline().strip() != b"ready":
        _stop_helper()
        raise RuntimeError("the upload reader could not be started")
    return _helper


def _stop_helper() -> None:
    global _helper
    if _helper is not None:
        try:
            os.killpg(_helper.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _helper.wait()
        _helper = None


# ---- the helper and its children ---------------------------------------------------------------


def _serve() -> int:
    """Import the readers once, then fork a limited child per request (one at a time)."""
    from csp import validate  # noqa: F401 - loads Polars, and the readers below, before any fork
    import openpyxl  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    print("ready", flush=True)
    for line in sys.stdin:  # EOF: the parent is gone, and so is this helper
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                code = _child(request)
            finally:
                os._exit(code)  # never return into the helper's loop, never flush its buffers
        deadline = time.monotonic() + request["seconds"]
        status = None
        while status is None:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
            elif time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            else:
                time.sleep(0.01)
        reply = {"timeout": status is None, "exit": None if status is None else os.waitstatus_to_exitcode(status)}
        print(json.dumps(reply), flush=True)
    return 0


def _child(request: dict) -> int:
    # Limit what this child may add to what it was forked with (the helper's imports).
    with open("/proc/self/status") as fh:
        base = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    limit = base + request["memory_mb"] * 1024 * 1024
    for what, want in ((resource.RLIMIT_AS, limit), (resource.RLIMIT_CPU, request["seconds"] + 5)):
        hard = resource.getrlimit(what)[1]  # never above a limit this process was started with
        want = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(what, (want, want))
    for k in [k for k in os.environ if k.startswith("CSP_")]:
        del os.environ[k]
    os.environ.update(request["env"])
    from csp import validate

    try:
        with open(request["src"], "rb") as fh:
            data = fh.read()
        if request["task"] == "table":
            out = _table(validate, data, request)
        else:
            out = _boundaries(validate, data, request)
    except MemoryError:
        out = {"memory": True}
    except validate.ReadError as e:
        out = {"error": str(e)}
    except Exception as e:  # noqa: BLE001 - whatever it is, the person gets a plain message
        out = {"error": f"{request['name']} could not be read ({type(e).__name__}): it may be damaged. "
                        "Save it again as CSV UTF-8 and upload that."}
    fd = os.open(request["result"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(out))
    return 0


def _table(validate, data: bytes, request: dict) -> dict:
    table = validate.read_table(data, request["name"])
    del data
    table.frame.write_ipc(request["arrow"], compression="uncompressed")
    return {"format": table.format, "encoding": table.encoding, "first_row": table.first_row,
            "notes": [n.as_dict() for n in table.notes], "arrow": request["arrow"]}


def _boundaries(validate, data: bytes, request: dict) -> dict:
    known = set(request["known"]) if request["known"] is not None else None
    fc, problems = validate.check_boundaries(request["level"], data, request["name"], known)
    features = None
    if fc is not None and not any(p.severity == "error" for p in problems):
        fd = os.open(request["dest"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(fc, separators=(",", ":")))
            fh.flush()
            os.fsync(fh.fileno())
        features = len(fc["features"])
    return {"features": features, "problems": [p.as_dict() for p in problems]}


if __name__ == "__main__" and sys.argv[1:] == ["--serve"]:
    sys.exit(_serve())
