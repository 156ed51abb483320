"""Upload: analysts (and admins) publish their partner's extracts. The file is read, mapped,
screened for personal data and validated by csp.upload; this page shows the report, offers the
column mapping and the depersonalising fixes, previews the change and publishes. Versions and
rollback are below. Text from the file (column names, values) is shown only in tables, never as
Markdown."""
import json

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from csp import catalog, pii, safety, store, supply, upload, users, validate
from csp.ui import common as ui
from csp.ui import readable
from csp.ui.auth import current_user

NONE = "(not in this file)"


def render() -> None:
    st.title("Upload data", anchor=False)
    user = current_user()
    targets = upload.upload_targets(user)
    if not targets:
        st.info("Your partner does not own any dataset you can upload.")
        return
    dataset = st.selectbox("Dataset", targets, format_func=lambda d: catalog.contract(d).title,
                           key="up_dataset")
    contract = catalog.contract(dataset)
    with st.expander("What the file should contain"):
        st.markdown(ui.md_escape(contract.description))
        required = set(validate.required_fields(dataset))
        st.dataframe([{"column": f.name, "required": "yes" if f.name in required else "optional",
                       "type": f.type, "description": f.description} for f in contract.fields],
                     hide_index=True, width="stretch")
        st.caption("CSV (UTF-8, UTF-8 with BOM or Windows-1252), Excel .xlsx (first sheet) or Parquet; "
                   + ("raw data.police.uk street-level files are accepted as they are and update both crime and ASB. "
                      if dataset in ("crime", "asb") else "")
                   + f"Up to {validate.max_upload_bytes() / 1e6:,.0f} MB.")

    # The widget states the app's own limit (CSP_UPLOAD_MAX_MB), not Streamlit's 200 MB default.
    file = st.file_uploader("File", type=["csv", "xlsx", "parquet"], key=f"up_file_{dataset}",
                            max_upload_size=max(1, int(validate.max_upload_bytes() // 1_000_000)))
    if file is not None:
        _review(user, dataset, file)
    if dataset == "geography":
        _boundaries(user)
    _versions(user, dataset)


def _boundaries(user) -> None:
    st.header("Boundaries (GeoJSON)", anchor=False)
    st.caption("Polygons in longitude/latitude (WGS84) with a code property for the level; used by the maps.")
    level = st.selectbox("Level", validate.BOUNDARY_LEVELS, key="up_bd_level",
                         format_func=lambda lv: {"lsoa": "LSOA", "ward": "Ward"}.get(lv, lv))
    file = st.file_uploader("Boundary file", type=["geojson", "json"], key="up_bd_file",
                            max_upload_size=max(1, int(validate.max_upload_bytes() // 1_000_000)))
    if file is None:
        return
    dry = not st.button("Publish boundaries", key="up_bd_publish")
    problems, path = upload.boundaries(level, file.getvalue(), file.name, user=user, dry_run=dry, by=user.username)
    errors = [p for p in problems if p.severity == "error"]
    if problems:
        _problems(problems)
    if errors:
        st.error("These boundaries cannot be published until the problems are fixed.")
    elif path is not None:
        st.success(f"Published {'LSOA' if level == 'lsoa' else level} boundaries.")
    else:
        st.info("The boundaries passed validation; publish them to replace the current ones.")


def _state(dataset: str) -> tuple[dict, list]:
    mapping = st.session_state.setdefault(f"up_map_{dataset}", {})
    transforms = st.session_state.setdefault(f"up_tf_{dataset}", [])
    return mapping, transforms


def _plan(user, dataset: str, file) -> tuple[tuple, upload.Plan | None]:
    """The upload's plan, prepared once per attempt: a new file, mapping, fix or confirmation
    is a new attempt (and one audit entry); a rerun of the page (any click) is not."""
    mapping, transforms = _state(dataset)
    accepts = {flag: bool(st.session_state.get(f"up_{flag}_{dataset}")) for flag in upload.GATE_CODES.values()}
    key = (dataset, file.file_id, file.name, json.dumps(mapping, sort_keys=True), tuple(transforms),
           tuple(sorted(accepts.items())))
    held = st.session_state.get("up_plan")
    if held is not None and held[0] == key:
        return key, held[1]
    st.session_state.pop("up_plan", None)  # one plan per session: the last file's
    try:
        plan = upload.prepare(dataset, file.getvalue(), file.name, user=user, mapping=mapping,
                              transforms=transforms, **accepts)
    except (upload.UploadError, ValueError) as e:
        st.error(ui.md_escape(e))
        return key, None
    st.session_state["up_plan"] = (key, plan)
    return key, plan


def _review(user, dataset: str, file) -> None:
    _, transforms = _state(dataset)
    key, plan = _plan(user, dataset, file)
    if plan is None:
        return
    st.caption(f"{ui.md_escape(plan.filename)}: {plan.rows:,} data rows"
               + (f", {plan.format}" if plan.format else "") + (f", {plan.encoding}" if plan.encoding else "")
               + (", police.uk street-level file" if plan.police_uk else ""))

    if plan.errors:
        st.error(f"{len(plan.errors)} problem(s) must be fixed before this file can be published.")
        _problems(plan.errors)
    _confirmations(dataset, plan)
    if plan.findings:
        st.error(f"{len(plan.findings)} possible personal-data finding(s): nothing is published until each is "
                 "resolved, by fixing the file or applying a standard depersonalising fix below.")
        _findings(dataset, plan)
    if plan.warnings:
        st.warning(f"{len(plan.warnings)} warning(s) (these do not stop publishing).")
        _problems(plan.warnings)
    if plan.format and not plan.police_uk and not any(p.code == "unreadable" for p in plan.errors):
        _mapping(dataset, plan)
    if transforms:
        st.caption("Fixes applied: " + ui.md_escape(", ".join(transforms)))
        if st.button("Clear fixes", key=f"up_clear_{dataset}"):
            st.session_state[f"up_tf_{dataset}"] = []
            st.rerun()
    done = st.session_state.get(f"up_done_{dataset}")
    if done and done[0] == key:
        st.success(f"Published {ui.md_escape(done[1])}.")
        return
    if not plan.ok:
        return

    st.success("Validation passed: no problems and no personal data found.")
    for d in plan.diffs.values():
        _preview(d)
    if st.button("Publish", type="primary", key=f"up_publish_{dataset}"):
        try:
            done = upload.publish(plan, user.username)
        except upload.UploadError as e:
            st.error(ui.md_escape(e))
            return
        st.session_state[f"up_done_{dataset}"] = (key, ", ".join(f"{catalog.contract(k).title}: {readable.version(v.version)}"
                                                                  for k, v in done.items()))
        st.rerun()


def _confirmations(dataset: str, plan: upload.Plan) -> None:
    """The upload gate: figures that stop publishing until the person, seeing them, confirms."""
    for code, flag in upload.GATE_CODES.items():
        shown = [p for p in plan.problems if p.code == code]
        if shown:
            st.checkbox("I have checked these figures and they are right: " + ui.md_escape(
                "; ".join(p.message.removesuffix(" - confirmed") for p in shown)), key=f"up_{flag}_{dataset}")


def _problems(problems: list[validate.Problem]) -> None:
    st.dataframe(
        [{"problem": p.message, "column": p.column or "", "count": str(p.count) if p.count else "",
          "rows": ", ".join(map(str, p.rows)) + (" ..." if p.count > len(p.rows) else "") if p.rows else ""}
         for p in problems],
        hide_index=True, width="stretch",
        column_config={"problem": st.column_config.TextColumn("Problem", width="large")},
    )


def _findings(dataset: str, plan: upload.Plan) -> None:
    st.dataframe(
        [{"column": f.column, "looks like": pii.KIND_LABELS.get(f.kind, (f.kind.replace("_", " "),))[0],
          "count": f.count, "rows": ", ".join(map(str, f.rows[:10])) + (" ..." if f.count > 10 else ""),
          "example (masked)": f.example} for f in plan.findings],
        hide_index=True, width="stretch",
    )
    with st.form(f"up_fix_{dataset}"):
        choices = {}
        for f in {f.column: f for f in plan.findings}.values():
            options = ["leave (fix the file instead)"] + [t for t in pii.TRANSFORMS if t != "coordinates_to_lsoa"]
            suggested = pii.suggest_transform(f)
            choices[f.column] = st.selectbox(
                f"Fix for column {ui.md_escape(repr(f.column))}", options, index=options.index(suggested) if suggested in options else 0,
                format_func=lambda t: pii.TRANSFORM_DESCRIPTIONS.get(t, t), key=f"up_fixsel_{dataset}_{f.column}")
        if st.form_submit_button("Apply fixes"):
            chosen = [f"{t}:{c}" for c, t in choices.items() if t in pii.TRANSFORMS]
            st.session_state[f"up_tf_{dataset}"] = _state(dataset)[1] + chosen
            st.rerun()


def _mapping(dataset: str, plan: upload.Plan) -> None:
    contract = catalog.contract(dataset)
    missing = any(p.code == "missing_columns" for p in plan.errors)
    with st.expander("Column mapping", expanded=missing):
        st.caption("Which column of your file holds each field. Your choice is remembered for your "
                   "partner's next upload of this dataset.")
        by_target = {dst: src for src, dst in plan.mapping.items()}
        with st.form(f"up_mapform_{dataset}"):
            picks = {}
            cols = [NONE] + plan.columns
            for f in contract.fields:
                current = by_target.get(f.name, NONE)
                picks[f.name] = st.selectbox(f.name, cols, index=cols.index(current) if current in cols else 0,
                                             key=f"up_mapsel_{dataset}_{f.name}")
            if st.form_submit_button("Apply mapping"):
                st.session_state[f"up_map_{dataset}"] = {src: dst for dst, src in picks.items() if src != NONE}
                st.rerun()


def _preview(d: upload.Diff) -> None:
    st.header(f"Preview: {catalog.contract(d.dataset).title}", anchor=False)
    c1, c2, c3 = st.columns(3)
    c1.metric("Rows after publishing", f"{d.rows_after:,}", delta=f"{d.rows_after - d.rows_before:+,}")
    c2.metric("Periods added", len(d.periods_added))
    c3.metric("Periods replaced", len(d.periods_replaced))
    st.caption(f"Compared with {readable.version(d.base_version) or 'nothing published yet'}. Totals count "
               f"{'records' if d.measure == 'rows' else d.measure}.")
    if d.moved:
        st.warning(f"{len(d.moved)} period(s) move by more than {d.margin:.0%} against the published figures: "
                   + ui.md_escape(", ".join(d.moved)))
    t = d.totals
    periods = [safety.label(p) for p in t["period"].to_list()]  # text from the file: never markup
    fig = go.Figure([
        # A period not yet published has no published figure (not zero): leave a gap.
        go.Scatter(name="Published", x=periods, mode="lines+markers",
                   y=[None if p in d.periods_added else v for p, v in zip(t["period"], t["before"])],
                   line=dict(color=ui.PALETTE[0])),
        go.Scatter(name="After upload", x=periods, y=t["after"].to_list(), mode="lines+markers",
                   line=dict(color=ui.PALETTE[1], dash="dash")),
    ])
    fig.update_layout(height=300, margin=dict(t=10, b=10), legend=dict(orientation="h", y=-0.25),
                      xaxis=dict(type="category", nticks=12))
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False},
                    alt=f"Line chart: published totals and totals after this upload, {len(periods)} periods")
    changed = t.filter(pl.col("change") != 0)
    st.caption(f"{changed.height} period(s) change; the table lists them (all periods are in the chart).")
    st.dataframe(changed, hide_index=True, width="stretch", column_config={
        "period": "Period", "before": "Published", "after": "After upload", "change": "Change",
        "change_pct": st.column_config.NumberColumn("Change %", format="%.1f"),
        "moved": f"Moved > {d.margin:.0%}"})


def _versions(user, dataset: str) -> None:
    st.header("Versions", anchor=False)
    vs = store.versions(dataset)
    if not vs:
        st.caption("Nothing published yet.")
        return
    serving = store.current_version_id(dataset)
    grain = catalog.contract(dataset).grain_months
    rows, who = [], readable.people(users.list_users())
    for v in reversed(vs):
        m, val = v.meta, v.meta.get("validation") or {}
        cov = m.get("coverage") or {}
        rows.append({"Version": readable.version(v.version).capitalize(), "Serving": "Yes" if v.version == serving else "",
                     "Published": readable.when(m["published_at"]), "By": who.get(m["published_by"], m["published_by"]),
                     "Rows": f"{m['rows']:,}" if isinstance(m.get("rows"), int) else str(m.get("rows") or ""),
                     "Warnings": len(val.get("warnings", [])),
                     "Coverage": supply.held_words(cov["first"], cov["last"], grain) if cov.get("first") else "not by period",
                     "File": m.get("source", "")})
    # The version and what matters about it first (a phone shows only the first columns); the
    # checksum is in the audit trail, not a column that is empty for most versions.
    st.dataframe(rows, hide_index=True, width="stretch", column_config={
        "Version": st.column_config.TextColumn(pinned=True)})
    others = [v.version for v in vs if v.version != serving]
    with st.container(horizontal=True):
        if others:
            target = st.selectbox("Roll back to", list(reversed(others)), key=f"up_rb_{dataset}",
                                  format_func=lambda v: readable.version(v).capitalize())
            if st.button("Roll back", key=f"up_rbbtn_{dataset}"):
                try:  # nothing changes yet: the person sees what would, and confirms
                    st.session_state[f"up_rbplan_{dataset}"] = (target, upload.rollback_plan(dataset, target))
                except upload.UploadError as e:
                    st.error(ui.md_escape(e))
        days = upload.retention_days(dataset)
        new_days = st.number_input("Keep old versions for (days)", min_value=upload.MIN_KEEP_DAYS,
                                   value=days or 365, step=1, key=f"up_ret_{dataset}",
                                   help=(f"Now: old versions are kept for {days} days." if days else
                                         "Now: no limit is set, so every old version is kept until you save one."))
        if st.button("Save retention and purge", key=f"up_retbtn_{dataset}"):
            upload.set_retention(dataset, int(new_days), user.username)
            purged = upload.apply_retention(dataset, user.username)
            st.success(f"Retention {int(new_days)} days; purged {', '.join(purged) or 'nothing'}.")
    _confirm_rollback(user, dataset)
    events = [e for e in store.history(dataset) if e.get("event") in ("rollback", "purge", "retention")]
    if events:
        st.caption("Rollbacks and purges")
        st.dataframe([{"When": readable.when(e["at"]), "What": readable.words(e["event"]),
                       "By": who.get(e.get("by") or "", e.get("by")),
                       "Detail": readable.details({k: v for k, v in e.items() if k not in ("at", "event", "by")})}
                      for e in reversed(events)], hide_index=True, width="stretch")


def _confirm_rollback(user, dataset: str) -> None:
    done = st.session_state.pop(f"up_rbdone_{dataset}", None)
    if done:
        st.success(ui.md_escape(done))
    pending = st.session_state.get(f"up_rbplan_{dataset}")
    if not pending:
        return
    target, plan = pending
    together = len(upload.changes_in(plan)) > 1
    st.warning("Roll back? " + ui.md_escape(upload.describe_rollback(plan, words=True)) + "."
               + (" These were published together from one file, so they are rolled back together."
                  if together else ""))
    with st.container(horizontal=True):
        if st.button("Confirm rollback", type="primary", key=f"up_rbyes_{dataset}"):
            del st.session_state[f"up_rbplan_{dataset}"]
            try:
                upload.rollback(dataset, target, user.username, expect=plan)
            except upload.UploadError as e:
                st.error(ui.md_escape(e))
                return
            st.session_state[f"up_rbdone_{dataset}"] = "Rolled back: " + upload.describe_rollback(
                {d: ft for d, ft in plan.items() if ft[0] != ft[1]}, words=True) + "."
            st.rerun()
        if st.button("Cancel", key=f"up_rbno_{dataset}"):
            del st.session_state[f"up_rbplan_{dataset}"]
            st.rerun()
