"""The app server: ``streamlit run serve.py`` (what ``make run`` does).

Streamlit's own server running app.py, with csp.ui.downloads.MediaGuard in front of its routes:
download files are served only to a session that may still have them, and each is recorded in
the audit trail as it is served. ``streamlit run app.py`` still works, without that guard
(downloads are then audited when clicked; see SECURITY.md).
"""
import streamlit as st
from starlette.middleware import Middleware

from csp.ui.downloads import MediaGuard

app = st.App("app.py", middleware=[Middleware(MediaGuard)])
