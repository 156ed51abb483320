"""One upload of one file, measured in a fresh process (issue 14, finding 1).

    python tests/hostile_probe.py cli|page FILE [DATASET]

``cli`` runs ``python -m csp upload DATASET FILE --as analyst.police --dry-run`` in this process;
``page`` logs in as analyst.police through the login form (Streamlit AppTest, the app's real
script) and uploads FILE on the Upload page. Both first handle a small valid file, so imports and
the upload reader are warm, then measure the file itself: this process's resident memory before,
its peak during (VmHWM, reset first), the time taken and what the person was told. Prints one JSON
line. CSP_DATA_DIR must hold the tiny area and the analyst (tests/test_hardening_uploads.py)."""
from __future__ import annotations

import contextlib
import io
import json
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]
LIMIT_GB = 6  # so the old code fails with MemoryError instead of taking the machine


def _status(field: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) // 1024 for line in fh if line.startswith(field + ":"))


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM to the current resident size
        return True
    except OSError:
        return False


def measure(run) -> dict:
    before = _status("VmRSS")
    reset = _reset_peak()
    t = time.monotonic()
    said = run()
    seconds = time.monotonic() - t
    peak = _status("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return {"rss_before_mb": before, "peak_mb": peak, "growth_mb": peak - before, "seconds": round(seconds, 2),
            "said": said}


def cli(path: Path, dataset: str) -> dict:
    from csp.__main__ import main
    from upload_fixtures import crime_csv

    def upload(p: Path) -> str:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(["upload", dataset, str(p), "--as", "analyst.police", "--dry-run"])
        return out.getvalue() + err.getvalue()

    warm = path.with_name("warm.csv")
    warm.write_bytes(crime_csv())
    upload(warm)
    return measure(lambda: upload(path))


def page(path: Path, dataset: str) -> dict:
    from streamlit.runtime import pages_manager
    from streamlit.testing.v1 import app_test

    from apptest_helpers import go, login
    from upload_fixtures import crime_csv, crime_rows

    class ServerLikePagesManager(pages_manager.PagesManager):  # as tests/conftest.py's shim
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            pages_manager.PagesManager.uses_pages_directory = False

    app_test.PagesManager = ServerLikePagesManager

    at = go(login("analyst.police", "correct-horse-battery", timeout=300), "upload")

    def upload(name: str, data: bytes) -> str:
        at.file_uploader[0].set_value((name, data, "application/octet-stream"))
        at.run()
        assert not at.exception, at.exception
        return "\n".join(e.value for e in at.error) + "\n" + "\n".join(
            str(v) for d in at.dataframe[1:] for v in d.value.get("problem", []))

    upload("warm.csv", crime_csv())
    data = path.read_bytes()
    out = measure(lambda: upload(path.name, data))
    # The page still works afterwards: the next file is read and validated as usual.
    upload("next.csv", crime_csv(crime_rows(4)))
    out["after"] = any("Validation passed" in s.value for s in at.success)
    return out


if __name__ == "__main__":
    limit = LIMIT_GB << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    mode, file = sys.argv[1], Path(sys.argv[2])
    dataset = sys.argv[3] if len(sys.argv) > 3 else "crime"
    print(json.dumps((cli if mode == "cli" else page)(file, dataset)), flush=True)
