"""Clouds and projections: every seed of the study on UMAP and PCA maps; pick one to see G(seed)."""

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from explorer.loaders import (current_study, generate_from, mse_to, project_groups, projection_points, psnr_db,
                              seeds_display, study_generator, to_display)

POINT_KEY = "clouds_point"
SYMBOLS = {"cloud seed": "circle", "z*": "diamond", "network E(x)": "square", "DDIM inversion": "x", "random N(0, I)": "cross"}

st.title("Clouds and projections")
study = current_study()
st.markdown(
    "Each point is a seed (a noise image of the generator's size) mapped to 2-D. Colour: the image the seed belongs to (or the "
    "random start its descent began from: the choice below); "
    "symbol: how it was found (cloud seeds by descent from random starts, z\\* by fixed-point inversion, the embedding network, "
    "naive DDIM inversion) and, in grey, random N(0, I) seeds for reference. **PCA** keeps global distances (its axes show "
    "the stated share of the spread); **UMAP** keeps neighbourhoods, but distances between its clusters mean little. "
    f"Cloud seeds are those inside emb_ε(x) at {study.levels[0]}. Click a point (or choose it below) to see its seed and G(seed)."
)

tables = {method: projection_points(study, method) for method in ("umap", "pca")}
base = tables["pca"] or tables["umap"]
if base is None:
    st.info("This study holds no projection of its seeds (or one in an older format).")
    st.stop()
table, seeds = base
labels = table["label"].tolist()
if st.session_state.get(POINT_KEY) not in labels:
    st.session_state[POINT_KEY] = labels[0]


def _pick(chart_key: str) -> None:
    """A click (or box/lasso) on a chart selects its first point in the selectbox below."""
    event = st.session_state.get(chart_key)
    points = (event or {}).get("selection", {}).get("points", [])
    if points:
        row = points[0].get("customdata")
        row = row[0] if isinstance(row, (list, tuple)) and row else row
        if isinstance(row, (int, float)) and 0 <= int(row) < len(labels):
            st.session_state[POINT_KEY] = labels[int(row)]


def _hover(label: str, psnr: float | None) -> str:
    return label if psnr is None or np.isnan(psnr) else f"{label}<br>PSNR of G(seed) to its image {psnr:.1f} dB"


colours = {name: colour for name, colour in zip(study.names, px.colors.qualitative.Dark24)}
colours["random"] = "lightgrey"
LEGEND_NAMES = {"random": "random N(0, I)"}  # the reference group's legend entry
has_starts = table["start"].notna().any()
st.info("Every image's cloud descends from the same random starts (torch seeds 0, 1, ...), and a descent ends near its "
        "start, so the tight clusters on these maps are mostly the starts, not the images"
        + (" (colour by start to see it)" if has_starts else "")
        + ". Compared among seeds from different starts, a seed's nearest neighbour is in its own image's cloud: "
        "the Intersection page measures it.")
colour_by = st.radio("colour by", ["image", "random start of the descent"] if has_starts else ["image"], horizontal=True,
                     help="start: the torch seed of the N(0, I) draw the cloud seed descended from; other seeds in grey")
by_start = colour_by != "image"
start_colours = px.colors.qualitative.Plotly  # no grey in it: grey is for the seeds that did not descend
columns = st.columns(2)
for column, method in zip(columns, ("umap", "pca")):
    with column:
        st.subheader(method.upper())
        entry = tables[method]
        if entry is None and method == "umap":
            st.info("UMAP is not in this study (" + ("studies computed in the explorer skip it" if study.made_in_explorer else "it was computed with --no-umap")
                    + ").")
            if not st.toggle("compute UMAP of these seeds now (~30 s the first time: numba compiles)", key="clouds_compute_umap"):
                continue
            with st.spinner("UMAP..."):
                groups = {g: seeds[(table["group"] == g).to_numpy()] for g in dict.fromkeys(table["group"])}
                projected = project_groups(groups, "umap")
            entry = (table.assign(x=projected["coordinates"][:, 0], y=projected["coordinates"][:, 1]), seeds)
        points = entry[0]
        figure = go.Figure()
        if by_start:  # one trace per start for the cloud seeds, the other seeds in grey
            groups = points.assign(colour_key=[f"start {int(s)}" if s == s and s is not None else ("random N(0, I)" if i == "random" else "other seeds")
                                               for s, i in zip(points["start"], points["image"])]).groupby(["colour_key", "kind"], sort=False)
        else:
            groups = points.assign(colour_key=points["image"]).groupby(["colour_key", "kind"], sort=False)
        seen = set()
        for (key, kind), part in groups:
            if by_start:
                colour = (start_colours[int(key.split()[1]) % len(start_colours)] if key.startswith("start ")
                          else "lightgrey" if key == "random N(0, I)" else "dimgrey")
                name = key
            else:
                colour, name = colours.get(key, "black"), LEGEND_NAMES.get(key, key)
            figure.add_scatter(x=part["x"], y=part["y"], mode="markers", name=name, legendgroup=key,
                               showlegend=key not in seen, opacity=0.75,  # overlapping clouds stay visible
                               customdata=part["row"].tolist(),  # a list: plotly sends numpy arrays as typed bytes
                               hovertext=[_hover(lab, p) for lab, p in zip(part["label"], part["psnr_db"])],
                               hoverinfo="text", marker={"size": 9, "color": colour, "symbol": SYMBOLS.get(kind, "circle"),
                                                         "line": {"width": 0.5, "color": "white"}})
            seen.add(key)
        for kind, symbol in SYMBOLS.items():  # a legend for the symbols (the random reference has its own entry)
            if kind in set(points["kind"]) and kind != "random N(0, I)":
                figure.add_scatter(x=[None], y=[None], mode="markers", name=kind, legendgroup="kinds",
                                   marker={"size": 9, "color": "dimgrey", "symbol": symbol})
        selected = labels.index(st.session_state[POINT_KEY])
        figure.add_scatter(x=[points["x"].iloc[selected]], y=[points["y"].iloc[selected]], mode="markers", name="chosen",
                           marker={"size": 18, "color": "rgba(0,0,0,0)", "line": {"width": 2, "color": "black"}}, hoverinfo="skip")
        axis = "PC" if method == "pca" else "UMAP"
        figure.update_layout(height=460, xaxis_title=f"{axis} 1", yaxis_title=f"{axis} 2", clickmode="event+select")
        # the legend below the map: beside it, a long list of images pushed the symbol key out of view
        figure.update_layout(legend={"font": {"size": 10}, "orientation": "h", "yanchor": "top", "y": -0.22},  # below the axis title
                             margin={"l": 10, "r": 10, "t": 10, "b": 10})
        st.plotly_chart(figure, key=f"clouds_{method}", on_select=lambda k=f"clouds_{method}": _pick(k),
                        selection_mode="points", width="stretch")
        summary = study.summary.get("projections", {}).get(method, {})
        notes = []
        if summary.get("explained_variance_ratio"):
            notes.append("axes explain " + " + ".join(f"{100 * v:.1f}%" for v in summary["explained_variance_ratio"]) + " of the spread")
        if summary.get("silhouette") is not None:
            notes.append(f"silhouette of the images' groups {summary['silhouette']:.2f} (-1..1: 1 = each image's seeds apart from "
                         "the others', 0 = mixed, below 0 = closer to other images' seeds than to their own; here the shared starts)")
        if notes:
            st.caption("; ".join(notes))

st.subheader("The chosen seed")
label = st.selectbox("point", labels, key=POINT_KEY)
row = labels.index(label)
name, kind = table["image"].iloc[row], table["kind"].iloc[row]
seed = seeds[row : row + 1]
study_generator(study)  # stops with a message when the generator is gone
output = generate_from(str(study.generator_dir()), seed, study.steps)
shown, captions = [seeds_display(seed)[0], to_display(output)[0]], ["seed z", "G(z)"]
if name in study.names:
    target = study.image(name)
    error = float(mse_to(output, target)[0])
    shown.insert(0, to_display(target[None])[0])
    captions.insert(0, f"x = {name}")
    st.metric(f"G(z) against {name}", f"{float(psnr_db(error)):.2f} dB", help=f"MSE {error:.3g} on [0, 1] pixels")
else:
    st.caption("A random N(0, I) seed: no target image; it shows what a typical seed gives.")
st.image(shown, width=140, caption=captions)
st.caption(f"{label}: |z| / sqrt(D) = {np.linalg.norm(seed) / np.sqrt(seed.size):.3f} (about 1 for N(0, I) noise).")
