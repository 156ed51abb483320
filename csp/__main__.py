"""Command line: python -m csp --help"""
from __future__ import annotations

import argparse
import importlib
import sys

from . import access, config, queries


CLI_MODULES = ("csp.upload", "csp.audit", "csp.accounts", "csp.protection.ptable", "csp.protection.utility",
               "csp.geography.cli", "csp.partnership",
               "csp.settings", "csp.state.cli", "csp.upgrade")


def _fail(msg: str, code: int = 2) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return code


def cmd_demo(args) -> int:
    from . import demo

    ids = demo.publish_demo()
    from . import users

    made = users.ensure_demo_users()
    print("Demo area ready: " + ", ".join(f"{k} {v}" for k, v in ids.items()))
    if made:
        print(f"Created demo users: {', '.join(made)} (passwords in README.md)")
    return 0


def cmd_import(args) -> int:
    from . import geography, ingest

    if args.kind == "police-uk":
        report = ingest.import_police_uk(args.paths, published_by=args.by)
        print(report.summary())
        return 0
    try:
        if args.kind == "population":
            if len(args.paths) != 1:
                return _fail("import population takes one file (import each year's file in turn)")
            out = geography.import_population(args.paths[0], year=args.year, published_by=args.by)
        else:
            if len(args.paths) > 3:
                return _fail("import lookup takes an LSOA -> ward file, optionally a ward -> district file "
                             "and an LSOA11 -> LSOA21 lookup")
            out = geography.import_lookup(args.paths, published_by=args.by, ward_codes=args.ward_codes)
    except geography.GeographyError as e:
        return _fail(str(e))
    print(out.summary())
    return 0


def cmd_users(args) -> int:
    from . import users

    if args.action == "list":
        for u in users.list_users():
            print(f"{u.username}\t{u.role}\t{u.partner}\t{','.join(u.areas) or 'all areas'}")
        return 0
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    if not password:
        return _fail("give the password on standard input with --password-stdin")
    from . import accounts

    if args.replace:
        u = users.add_user(args.name, password, name=args.display_name, role=args.role,
                           partner=args.partner, areas=args.area or [], replace=True)
        from . import audit

        audit.record("cli", "user_change", target=args.name,
                     details={"role": u.role, "partner": u.partner, "areas": list(u.areas), "replaced": True})
    else:  # the audited path the admin page uses (password rules, audit entry)
        u = accounts.add_user("cli", args.name, password, name=args.display_name or args.name,
                              role=args.role, partner=args.partner, areas=args.area or [])
    print(f"User {u.username} ({u.role}, {u.partner}) saved")
    return 0


def cmd_queries(args) -> int:
    for q in queries.all_queries():
        params = ", ".join(
            f"{p.name}:{p.type}{'' if p.required else '?'}" for p in q.params.values()
        ) or "-"
        print(f"{q.name}\t{q.title}\tdatasets: {', '.join(q.datasets)}\tparams: {params}")
    return 0


def cmd_export(args) -> int:
    from . import export, users

    user = users.get_user(args.as_user)
    if user is None:
        return _fail(f"unknown user '{args.as_user}'")
    params = {}
    for item in args.param or []:
        if "=" not in item:
            return _fail(f"--param takes name=value, got '{item}'")
        k, v = item.split("=", 1)
        params[k] = v
    result = queries.run(user, args.query, params)
    sys.stdout.write(export.to_csv(result) if args.format == "csv" else export.to_json(result) + "\n")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one 'error: ...' line like every other CLI error."""

    def error(self, message: str):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m csp", description="CSP Insight command line.")
    sub = p.add_subparsers(dest="cmd", required=True)

    sub.add_parser("demo", help="build the demo area's data and demo users (idempotent)").set_defaults(fn=cmd_demo)

    imp = sub.add_parser("import", help="import police.uk street-level CSVs, a geography lookup or population")
    imp.add_argument("kind", choices=["police-uk", "lookup", "population"])
    imp.add_argument("paths", nargs="+", help="files or folders (lookup: LSOA -> ward file [ward -> district file])")
    imp.add_argument("--year", type=int, help="population: the mid-year estimate year, when the file does not say")
    imp.add_argument("--ward-codes", help="lookup: ward -> district table (e.g. ward_all_codes.csv) for current districts")
    imp.add_argument("--by", default="cli", help="who is publishing (recorded with the version)")
    imp.set_defaults(fn=cmd_import)

    us = sub.add_parser("users", help="manage users")
    us_sub = us.add_subparsers(dest="action", required=True)
    add = us_sub.add_parser("add", help="add a user (password read from stdin)")
    add.add_argument("name", help="username")
    add.add_argument("--role", required=True, choices=access.ROLES)
    add.add_argument("--partner", required=True, choices=access.PARTNERS)
    add.add_argument("--area", action="append", help="ward code in the user's scope (repeatable)")
    add.add_argument("--display-name", help="full name shown in the app")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument("--replace", action="store_true", help="overwrite an existing user")
    add.set_defaults(fn=cmd_users)
    us_sub.add_parser("list", help="list users").set_defaults(fn=cmd_users)

    sub.add_parser("queries", help="list the named queries and their parameters").set_defaults(fn=cmd_queries)

    ex = sub.add_parser("export", help="run a named query as a user, through the access layer")
    ex.add_argument("query")
    ex.add_argument("--as", dest="as_user", required=True, help="username to run as")
    ex.add_argument("--param", action="append", help="name=value (repeatable)")
    ex.add_argument("--format", choices=["csv", "json"], default="csv")
    ex.set_defaults(fn=cmd_export)

    # Feature modules add their own subcommands (upload/versions/rollback, audit ...): each
    # defines register_cli(subparsers). Listed here so the CLI is explicit about what it offers.
    for mod in CLI_MODULES:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise
            continue
        module.register_cli(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2, already reported on one line)
        return int(e.code or 0)
    from . import ingest, state, store, users

    try:
        return args.fn(args)
    except (queries.QueryError, access.AccessDenied, ingest.IngestError, users.UserError,
            store.StoreError, config.ConfigError, state.StateError, ValueError) as e:
        return _fail(str(e))


if __name__ == "__main__":
    sys.exit(main())
