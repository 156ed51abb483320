"""CSP Insight entry point: configuration check, login gate, and navigation built from the
user's permissions. Logged out, the only page that exists is the login form, so any page URL
shows it and no data."""
from __future__ import annotations

import importlib

import streamlit as st

from csp import access, audit, config, queries
from csp.ui import auth, denied
from csp.ui.boardpack import boardpack_button
from csp.indicators import scope_label
from csp.ui.common import md_escape as ui_escape
from pages import PAGES

st.set_page_config(page_title="CSP Insight", page_icon=":material/shield:", layout="wide")

try:
    cookie = config.cookie_settings()
    config.database_url()
except config.ConfigError as e:
    st.error(f"CSP Insight cannot start: {e}")
    st.stop()

# A pending write or delete of the re-login cookie is drawn first in every run, logged in or
# not, until the browser confirms it (see csp.ui.auth.sync_cookie).
auth.sync_cookie(cookie)


def login_page() -> None:
    st.set_page_config(page_title="Log in · CSP Insight")
    # No heading anchors (anchor=False): they were links Tab reached before the username field.
    st.title("CSP Insight", anchor=False)
    st.caption("Community Safety Partnership evidence, shared safely.")
    if st.session_state.get("csp_notice"):
        st.info(st.session_state["csp_notice"])
    with st.form("login"):
        st.header("Log in", anchor=False)
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Log in")
    if submitted and not auth.password_login(cookie, username, password):
        # One message for unknown user, wrong password and locked account: no user enumeration.
        st.error("Username or password is incorrect.")
        st.caption("After 5 failed attempts an account is locked for 15 minutes.")
    if config.demo_mode():
        st.info(
            "Demo mode: fictional data for 'Fenmouth', and a cookie key generated for this data "
            "directory. Not for real data. The demo logins are listed in README.md under \"Demo "
            "logins\" (one password for all, `fenmouth-demo`): one for each role and partner, so "
            "you can see what a board member, an analyst, a practitioner or an administrator of "
            "each partner would see, for example `board.council` or `officer.housing`."
        )


if st.session_state.get("authentication_status") is not True:
    # A re-login cookie is checked (signature, expiry, revocation, account state, idle) before
    # it may log anyone in; otherwise the form, and after a form login we start again at the
    # real navigation.
    if not auth.cookie_login(cookie):
        # The form answers at every page's URL (hidden), so a deep link such as
        # /crime?period=... survives logging in instead of hitting "Page not found".
        st.navigation(
            [st.Page(login_page, title="Log in", icon=":material/login:", default=True)]
            + [st.Page(login_page, title="Log in", url_path=spec.url_path) for spec in PAGES],
            position="hidden",
        ).run()
        if st.session_state.get("authentication_status") is not True:
            st.stop()
        st.rerun()
    # Logged in by cookie: nothing drawn yet, so carry on in this run to the page the URL asks for.

real = auth.check_session()  # revoked, ended (on any replica), disabled or idle sessions end here
if real is None:
    st.rerun()
user = auth.current_user()
if user is None:  # viewing as an account that has since been disabled
    auth.view_as(None)
    st.rerun()

def page_function(module, spec):
    """The page's render(), or for a dataset's dashboard render(dataset) under its own name,
    with the browser tab titled for the page (WCAG 2.4.2: one title per page, not the app's)."""
    def render():
        st.set_page_config(page_title=f"{spec.title} · CSP Insight")
        if spec.dataset is None:
            module.render()
        else:
            module.render(spec.dataset)
    render.__name__ = f"render_{spec.dataset or spec.url_path}"
    return render


pages: dict[str, list] = {}
specs_by_title = {}  # page title -> PageSpec, for the audit's data owners
landing = home_page = None
for spec in PAGES:
    if spec.open_to(user):
        module = importlib.import_module(f"pages.{spec.module}")
        p = st.Page(page_function(module, spec), title=spec.title, icon=spec.icon, url_path=spec.url_path)
        pages.setdefault(spec.section, []).append(p)
        specs_by_title[spec.title] = spec
        if landing is None or (user.role in spec.default_for_roles
                               and user.role not in specs_by_title[landing.title].default_for_roles):
            landing = p
if not pages:
    pages["CSP Insight"] = [st.Page(lambda: st.info("Nothing is shared with you yet."), title="Home")]
else:
    # Streamlit serves its default page at the app root and answers that page's own URL with
    # "Page not found", so a shared link to the landing page (/neighbourhood?ward=...) would open
    # on an error. The default is a hidden step that moves to the landing page, keeping the URL's
    # filters; the landing page is then an ordinary page with a working URL.
    def home(target=landing):
        st.switch_page(target, query_params={k: st.query_params.get_all(k) for k in st.query_params})
    home_page = st.Page(home, title="Home", url_path="home", default=True, visibility="hidden")
    pages[next(iter(pages))].insert(0, home_page)
# A page the user may not open answers at its URL with why, instead of "Page not found" over
# another page: hidden pages, not in the menu (csp.ui.denied).
first = next(iter(pages))
refused = [denied.page(user, spec) for spec in PAGES if spec.title not in specs_by_title]
pages[first] += refused

# Streamlit's own sidebar navigation puts its section names inside the links' list (<ul>), which
# screen readers announce as broken list markup (axe: list, listitem). The navigation is hidden
# and drawn here instead: a label per section and a link per page, in the same order.
page = st.navigation(pages, position="hidden")

# The date boxes' day/month/year parts are 18x20 px targets, under WCAG 2.2's 24x24 (2.5.8).
st.html("<style>[data-testid='stDateInput'] [role='spinbutton']{display:inline-block;"
        "min-width:24px;min-height:24px;line-height:24px;text-align:center}"
        # On a phone a table's toolbar (search, full screen), shown after a tap, sat over the
        # heading above it: room is made for it there.
        "@media (max-width:640px){[data-testid='stElementContainer']:has([data-testid='stDataFrame'])"
        "{margin-top:1.6rem}}</style>")

# Two phone fixes in one fixed script (no data in it). The sidebar lies over the page:
# Streamlit's own navigation closes it after a tap, page links do not, so the new page opened
# under a menu that stayed open; a tap on one of our links at phone width now presses the
# sidebar's own close button. And a section tab far along the strip (a link to ?view=By+LSOA)
# opened scrolled out of sight: the open tab is scrolled into the strip's view.
st.html("""<script>
(() => {
  if (window.__cspNavCloses) return;
  window.__cspNavCloses = true;
  let queued = false;
  const showOpenTabs = () => {
    queued = false;
    document.querySelectorAll('[role="tablist"]').forEach((list) => {
      const tab = list.querySelector('[role="tab"][aria-selected="true"]');
      if (!tab || list.scrollWidth <= list.clientWidth) return;
      const left = tab.offsetLeft - list.offsetLeft, right = left + tab.offsetWidth;
      if (left < list.scrollLeft || right > list.scrollLeft + list.clientWidth)
        list.scrollLeft = Math.max(0, left - 24);
    });
  };
  new MutationObserver(() => { if (!queued) { queued = true; requestAnimationFrame(showOpenTabs); } })
    .observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ["aria-selected"]});
  document.addEventListener("click", (e) => {
    if (!e.target.closest || !e.target.closest(".st-key-csp_nav a")) return;
    if (!window.matchMedia("(max-width: 767.98px)").matches) return;
    const close = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
    if (close) setTimeout(() => close.click(), 0);
  }, true);
})();
</script>""", unsafe_allow_javascript=True)

with st.sidebar:
    with st.container(key="csp_nav", gap="xsmall"):
        for section, section_pages in pages.items():
            st.caption(section)
            for p in section_pages:
                if p.visibility != "hidden":  # refusal pages and the root step answer at their URL only
                    st.page_link(p, label=p.title, icon=p.icon, width="stretch")
    st.divider()
    if user != real:
        st.warning(f"Viewing as **{ui_escape(user.username)}**: you see exactly what they see.")
        if st.button("Stop viewing as", key="stop_view_as"):
            auth.view_as(None)
            st.rerun()
    st.markdown(f"**{ui_escape(user.name)}**  \n{access.role_name(user.role).capitalize()} · "
                f"{access.partner_name(user.partner)}")
    if user.areas:  # names, not codes: the officer knows the ward by its name
        st.caption(f"Your ward{'s' if len(user.areas) > 1 else ''}: "
                   + ui_escape(scope_label(user, codes=False)))
    if cookie.generated:
        st.caption("Demo mode: cookie key generated for this data directory.")
    boardpack_button()  # draws nothing for roles without board_pack
    if st.button("Log out", key="logout_button"):
        # Ends every session and re-login cookie of this user, not just this browser's.
        auth.end_session("logout", "You have logged out.", revoke=True)
        st.rerun()


def audit_view(page, read: set) -> None:
    """Audit the page view with its filters (the URL query string the filters are bound to),
    once per distinct view per session, so reruns that change nothing are not logged again."""
    view = (page.url_path, user.username, tuple(sorted((k, tuple(st.query_params.get_all(k))) for k in st.query_params)))
    if st.session_state.get("csp_last_view") == view:
        return
    st.session_state["csp_last_view"] = view
    spec = specs_by_title.get(page.title)
    # The page's own url_path, also for the default page (whose URL is the app root), so one
    # page is always one target in the audit trail.
    audit.record(
        real.username, "view", target=spec.url_path if spec else (page.url_path or page.title),
        details={"filters": {k: v[0] if len(v) == 1 else list(v) for k, v in view[2]}}
        | ({"view_as": user.username} if user != real else {}),
        # Whose data the view used: the datasets its queries read (Explore lists every dataset
        # but one view reads one), not every dataset the page could read.
        data_owner=audit.owners_of(read),
    )


with queries.tracking_reads() as read:
    try:
        page.run()
    finally:  # also when the page stops early (st.stop) or reruns
        if home_page is None or page.title != home_page.title:  # the root step only moves on
            audit_view(page, read)
