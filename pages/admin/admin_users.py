"""Users (administrators): add, change role/partner/area scope, disable and re-enable, reset
passwords, unlock, revoke sessions, and "view as" a user. Every change goes through
csp.accounts, which records it in the audit trail."""
import streamlit as st

from csp import access, accounts, users
from csp.ui import auth
from csp.ui import common as ui
from csp.ui import readable


def _ward_options() -> dict[str, str]:
    areas = ui.run("areas")
    if areas is None:
        return {}
    return {r["ward_code"]: f"{r['ward_name']} ({r['ward_code']})" for r in areas.frame.iter_rows(named=True)
            if r["ward_code"]}


def _apply(action, success: str) -> None:
    """Run an account change; show a plain message either way (never a stack trace)."""
    try:
        action()
    except (users.UserError, ValueError) as e:
        st.error(str(e))
    else:
        st.success(success)


def render() -> None:
    st.title("Users", anchor=False)
    admin = auth.real_user()
    everyone = users.list_all()
    wards = _ward_options()

    st.dataframe(
        readable.users_frame(everyone, wards, lambda u: "disabled" if u["disabled"] else (
            "locked" if accounts.locked_until(u["username"]) else "active")),
        hide_index=True, width="stretch",
    )

    add, change, preview = st.tabs(["Add a user", "Change a user", "View as"])
    with add, st.form("add_user", clear_on_submit=True):
        c1, c2 = st.columns(2)
        username = c1.text_input("Username", help="3-40 characters: a-z, 0-9, '.', '_', '-'")
        name = c2.text_input("Full name")
        role = c1.selectbox("Role", access.ROLES, format_func=lambda r: access.role_name(r).capitalize())
        partner = c2.selectbox("Partner", access.PARTNERS, format_func=access.partner_name)
        areas = st.multiselect("Area scope (empty = the whole partnership area)", list(wards),
                               format_func=wards.get)
        password = st.text_input("Initial password", type="password",
                                 help=f"At least {users.MIN_PASSWORD} characters, not a common password.")
        if st.form_submit_button("Add user"):
            _apply(lambda: accounts.add_user(admin.username, username.strip(), password, name=name.strip() or username,
                                             role=role, partner=partner, areas=areas),
                   "User added.")

    with change:
        names = [u["username"] for u in everyone]
        if not names:
            st.info("No users yet.")
        else:
            who = st.selectbox("User", names, key="change_user")
            u = next(x for x in everyone if x["username"] == who)
            with st.form("change_access"):
                c1, c2 = st.columns(2)
                role = c1.selectbox("Role", access.ROLES, index=access.ROLES.index(u["role"]),
                                    format_func=lambda r: access.role_name(r).capitalize())
                partner = c2.selectbox("Partner", access.PARTNERS, index=access.PARTNERS.index(u["partner"]),
                                       format_func=access.partner_name)
                areas = st.multiselect("Area scope (empty = the whole partnership area)",
                                       sorted(set(wards) | set(u["areas"])), default=list(u["areas"]),
                                       format_func=lambda c: wards.get(c, c))
                if st.form_submit_button("Save role, partner and scope"):
                    _apply(lambda: accounts.set_access(admin.username, who, role=role, partner=partner, areas=areas),
                           "Saved. It applies from the user's next click.")
            with st.container(horizontal=True):
                if u["disabled"]:
                    if st.button("Re-enable account", key="enable"):
                        _apply(lambda: accounts.set_disabled(admin.username, who, False), "Account re-enabled.")
                elif who != admin.username and st.button("Disable account", key="disable"):
                    _apply(lambda: accounts.set_disabled(admin.username, who, True),
                           "Account disabled; its sessions have ended.")
                if st.button("Revoke sessions", key="revoke",
                             help="Log this user out everywhere; saved logins stop working."):
                    _apply(lambda: accounts.revoke_sessions(admin.username, who), "Sessions revoked.")
                if accounts.locked_until(who) and st.button("Unlock", key="unlock"):
                    _apply(lambda: accounts.unlock(admin.username, who), "Account unlocked.")
            with st.form("reset_password", clear_on_submit=True):
                new = st.text_input("New password", type="password")
                if st.form_submit_button("Reset password"):
                    _apply(lambda: accounts.reset_password(admin.username, who, new),
                           "Password reset; the user's sessions have ended.")

    with preview:
        st.caption("See the app exactly as a user sees it: their pages, their data, their "
                   "suppression. No password is needed, and it is recorded in the audit trail.")
        active = [u["username"] for u in everyone if not u["disabled"] and u["username"] != admin.username]
        if active:
            target = st.selectbox("User", active, key="view_as_user")
            if st.button("View as this user", key="view_as_start", type="primary"):
                auth.view_as(target)
                st.rerun()
