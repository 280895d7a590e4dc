"""Streamlit explorer: `streamlit run explorer/Home.py`. This entry file is the router; the
pages live in ../pages (registered below with st.navigation, which accepts paths relative to
this file)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import streamlit as st  # noqa: E402

st.set_page_config(page_title="DDIM embedding explorer", layout="wide")

PAGES = "../pages"
navigation = st.navigation([
    st.Page(f"{PAGES}/overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page(f"{PAGES}/generate.py", title="Generate", icon=":material/grid_view:"),
    st.Page(f"{PAGES}/embed.py", title="Embed test images", icon=":material/compare:"),
    st.Page(f"{PAGES}/applications.py", title="Projection and directions", icon=":material/tune:"),
])
navigation.run()
