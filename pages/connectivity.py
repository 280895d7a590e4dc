"""Connectivity: which cloud seeds are joined by segments inside emb_eps(x); a path search between two."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from sklearn.decomposition import PCA

from core.study.tolerance import mse_from_psnr
from explorer.loaders import (components_of, current_study, psnr_db, search_relaxed_path, select_cloud_image,
                              study_generator)

REQUESTS_KEY = "connectivity_searches"  # path searches asked for in this session (results come from the cache)

st.title("Connectivity")
study = current_study()
st.markdown(
    "Two cloud seeds are **joined** when every checked point of the straight segment between them is inside emb_ε(x). "
    "The pieces of that graph are the cloud's components. Seeds in different pieces may still be connected by a curved "
    "path: the **path search** pulls the points of the segment back into emb_ε(x) by Gauss-Newton descent and checks "
    "every point and the sub-segments between them (a discretised test). The map is a PCA of this cloud's seeds."
)
left, middle = st.columns(2)
name = select_cloud_image(study, left)
usable = [level for level in study.levels if f"{name}/graph_worst_mse_{level}" in study.arrays]
# No st.stop() here: a stopped run skips Streamlit's clean-up of the widgets it did not draw, so the server kept
# the last tolerance while the browser redrew its slider at the default (the numbers answered 25 dB under 30).
if not usable:
    st.info(f"The cloud of {name} has fewer than 2 seeds inside any tolerance: no segments to test.")
else:
    level = middle.selectbox("cloud at", usable)
    members = study.members(name, level)
    starts = study.member_starts(name, level)  # the torch seed each member descended from (None: an older study)
    starts = None if None in starts else starts
    st.caption("Seeds are numbered within the chosen level: a tighter level keeps only the seeds its polish brought inside, so "
               "seed 3 at one level need not be seed 3 at another" + ("; the hover gives each seed's start, the same at every level."
                                                                      if starts is not None else "."))
    worst = study.arrays[f"{name}/graph_worst_mse_{level}"]  # (m, m) largest error along each segment
    level_db = float(level[:-2])
    tolerance_db = st.slider("tolerance for the segments (PSNR, dB)", min_value=5.0, max_value=60.0, value=min(max(level_db, 5.0), 60.0),
                             step=0.5, help="a segment joins two seeds when its worst point is at least this PSNR",
                             key=f"connectivity_tolerance_{name}_{level}")  # per cloud: a page stopped early (no cloud) desynced one shared slider
    eps = mse_from_psnr(tolerance_db)
    adjacency = worst <= eps
    np.fill_diagonal(adjacency, True)
    components = components_of(adjacency)
    m = len(members)
    joined = int(np.triu(adjacency, 1).sum())
    sizes = np.bincount(components)
    columns = st.columns(3)
    columns[0].metric("segments inside", f"{joined}/{m * (m - 1) // 2}")
    columns[1].metric("components", len(sizes))
    columns[2].metric("largest component", f"{sizes.max()}/{m}")

    # The path search: two seeds, by default the first pair in different components.
    pairs = [(i, j) for i in range(m) for j in range(i + 1, m)]
    default = next(((i, j) for i, j in pairs if components[i] != components[j]), (0, 1))
    left, middle, right = st.columns(3)
    a = left.selectbox("path from cloud seed", range(m), index=default[0])
    b = middle.selectbox("to cloud seed", range(m), index=default[1])
    points = right.slider("points on the path", 3, 15, 9)
    request = (study.key, name, level, tolerance_db, a, b, points)
    requests = st.session_state.setdefault(REQUESTS_KEY, [])
    path = None
    if a == b:
        st.warning("Choose two different seeds.")
    else:
        if st.button("Search a path (about a minute)", help="Gauss-Newton descent on each point of the segment: a minute or a few on a CPU"):
            if request not in requests:
                requests.append(request)
        if request in requests:
            study_generator(study)
            with st.spinner(f"pulling {points - 2} points of the segment into emb_ε(x) by descent..."):
                path = search_relaxed_path(str(study.generator_dir()), members[a], members[b], study.image(name), eps, points, study.steps)
            verdict = "found" if path["exists"] else "not found"
            st.write(f"**Path {verdict}** between seeds {a} and {b} at {tolerance_db:g} dB: worst point {float(psnr_db(path['mse'].max())):.1f} dB, "
                     f"worst sub-segment {float(psnr_db(path['worst_sub_segment_mse'])):.1f} dB; the straight segment's worst point "
                     f"{float(psnr_db(path['straight_worst_mse'])):.1f} dB.")

    # PCA fitted to the cloud alone, the path projected into it: the seeds stay where they were when a path is added
    cloud_points = np.asarray(members).reshape(len(members), -1)  # (m, D)
    plane = PCA(n_components=2).fit(cloud_points)
    xy = plane.transform(cloud_points if path is None else np.concatenate([cloud_points, path["seeds"].reshape(len(path["seeds"]), -1)]))
    figure = go.Figure()
    for i, j in pairs:
        if adjacency[i, j]:
            figure.add_scatter(x=xy[[i, j], 0], y=xy[[i, j], 1], mode="lines", line={"color": "lightgrey", "width": 1},
                               hoverinfo="skip", showlegend=False)
    figure.add_scatter(x=xy[:m, 0], y=xy[:m, 1], mode="markers+text", text=[str(i) for i in range(m)], textposition="top center",
                       marker={"size": 12, "color": components, "colorscale": "Turbo"}, name="cloud seeds", showlegend=False,
                       hovertext=[f"seed {i}, component {c}" + (f", start {starts[i]}" if starts is not None else "") for i, c in enumerate(components)],
                       hoverinfo="text")
    if path is not None:
        figure.add_scatter(x=xy[m:, 0], y=xy[m:, 1], mode="lines+markers", line={"color": "red", "width": 2},
                           name="searched path", hovertext=[f"{p:.1f} dB" for p in psnr_db(path["mse"])], hoverinfo="text")
    figure.update_layout(height=460, margin={"t": 20}, xaxis_title="PC 1", yaxis_title="PC 2")
    st.plotly_chart(figure, width="stretch")
    st.caption("Each dot is a cloud seed (its number); one colour per connected component; a grey line is a segment inside "
               "emb_ε(x) at the chosen tolerance" + ("; red: the searched path." if path is not None else "."))

    relaxed = study.summary["images"][name].get(level, {}).get("relaxed_paths", [])
    if relaxed:
        st.write(f"Path searches of the study at {level}:")
        st.dataframe([{"seeds": f"{p['pair'][0]}-{p['pair'][1]}", "found": p["exists"], "worst point MSE": p["worst_point_mse"],
                       "worst sub-segment MSE": p["worst_sub_segment_mse"], "straight segment worst MSE": p["straight_worst_mse"]}
                      for p in relaxed], hide_index=True)
