"""python -m csp state status|migrate: where the app state is and which schema it has."""
from __future__ import annotations

from . import backend, connect, describe, migrations


def _cmd(args) -> int:
    with connect() as con:  # connecting applies any migration this database has not had
        done = migrations.applied(con)
    print(f"app state: {backend()} at {describe()}")
    for version, name, _ in migrations.MIGRATIONS:
        print(f"  {version}\t{'applied ' + done[version] if version in done else 'pending'}\t{name}")
    return 0


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("state", help="the app state database: where it is, schema version (migrates it)")
    p.add_argument("state_action", choices=["status", "migrate"],
                   help="both apply pending migrations, then list them")
    p.set_defaults(fn=_cmd)
