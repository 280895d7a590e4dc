"""Streamlit explorer: `streamlit run explorer/Home.py`. This entry file is the router; the
pages live in ../pages (registered below with st.navigation, which accepts paths relative to
this file). The study pages read the folder named by $EMB_STUDY_DIR (default assets/study)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import streamlit as st  # noqa: E402

st.set_page_config(page_title="DDIM embedding explorer", layout="wide")

PAGES = "../pages"
navigation = st.navigation({
    "The shape of emb(x)": [
        st.Page(f"{PAGES}/study_home.py", title="Home", icon=":material/home:", default=True),
        st.Page(f"{PAGES}/clouds.py", title="Clouds and projections", icon=":material/scatter_plot:"),
        st.Page(f"{PAGES}/interpolation.py", title="Interpolation", icon=":material/timeline:"),
        st.Page(f"{PAGES}/convexity.py", title="Convexity", icon=":material/pentagon:"),
        st.Page(f"{PAGES}/connectivity.py", title="Connectivity", icon=":material/hub:"),
        st.Page(f"{PAGES}/intersection.py", title="Intersection", icon=":material/join_inner:"),
        st.Page(f"{PAGES}/local_geometry.py", title="Local geometry", icon=":material/explore:"),
        st.Page(f"{PAGES}/statistics_independence.py", title="Seed statistics and independence", icon=":material/bar_chart:"),
    ],
    "Models and methods": [
        st.Page(f"{PAGES}/overview.py", title="Overview", icon=":material/dashboard:"),
        st.Page(f"{PAGES}/generate.py", title="Generate", icon=":material/grid_view:"),
        st.Page(f"{PAGES}/embed.py", title="Embed test images", icon=":material/compare:"),
        st.Page(f"{PAGES}/applications.py", title="Projection and directions", icon=":material/tune:"),
    ],
})
navigation.run()
