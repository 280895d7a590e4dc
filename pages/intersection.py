"""Intersection: are the clouds of different images apart?"""

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from explorer.loaders import current_study

st.title("Intersection")
study = current_study()
st.markdown(
    "Two sets emb_ε(a) and emb_ε(b) **cannot** meet when the images are more than 2·sqrt(ε) apart in RMS (a seed in both "
    "would give an image close to each: the triangle inequality). Sampling says more: distances between seeds of one "
    "cloud against distances between seeds of two clouds, and for each seed, whose cloud its nearest other seed is in "
    "(the attribution matrix: a diagonal near 1 means clouds that keep to themselves).\n\n"
    "Every image's cloud descends from **the same N(0, I) starts**, and a descent ends near its start. So two images' "
    "seeds from one start are shown apart ('same start'), and a seed's nearest neighbour is looked for among the seeds "
    "from other starts only."
)
levels = [level for level in study.levels if level in study.summary.get("separation", {})]
if not levels:
    st.info("This study has no separation section: it needs at least two images with two or more cloud seeds each.")
    st.stop()
level = st.selectbox("tolerance", levels)
separation = study.summary["separation"][level]
pairs = study.summary.get("image_pairs", 0)
disjoint = study.summary.get("disjoint_pairs_by_triangle_inequality", {}).get(level)
within, between = study.arrays[f"separation/{level}/within"], study.arrays[f"separation/{level}/between"]
same_start = study.arrays.get(f"separation/{level}/same_start", np.zeros(0))  # absent in studies that did not record starts
columns = st.columns(3)  # short labels: long ones were cut off in a narrow window
columns[0].metric("disjoint for certain", f"{disjoint}/{pairs}",
                  help="pairs of images whose RMS distance is over 2 sqrt(eps): no seed can be in both sets")
columns[1].metric("nearest seed in own cloud", f"{100 * separation['self_attribution']:.0f}%",
                  help=f"the nearest seed among those from other starts; chance: about {100 / separation['clouds']:.0f}% "
                       f"(one cloud of {separation['clouds']})")
columns[2].metric("closest, other starts", f"{separation['between_distance_min']:.2f}",
                  help="the closest seeds of two clouds from different starts; from the same start: "
                       + (f"{same_start.min():.2f}" if len(same_start) else "not recorded")
                       + f". Farthest seeds within one cloud: {separation['within_distance_max']:.2f}")
if len(same_start):
    st.caption(f"Seeds of two clouds that descended from the same start come as close as {same_start.min():.2f} "
               f"(mean {same_start.mean():.2f}): the start, not the image, sets where a descent ends.")
figure = go.Figure()
COLOURS = {"within": "#1f77b4", "between": "#ff7f0e", "same": "#d62728"}  # blue, orange, red: told apart at a glance
# One set of bins for every histogram: plotly bins each trace on its own, and overlaid densities of different bin widths mislead.
distances = np.concatenate([np.asarray(values, dtype=float) for values in (within, between, same_start)])
low, high = float(distances.min()), float(distances.max())
bins = {"start": low, "end": high, "size": max(high - low, 1e-9) / 40}
figure.add_histogram(x=within, name=f"within a cloud ({len(within)} pairs)", histnorm="probability density", opacity=0.6,
                     marker_color=COLOURS["within"])
figure.add_histogram(x=between, name=f"two clouds, other starts ({len(between)} pairs)", histnorm="probability density", opacity=0.6,
                     marker_color=COLOURS["between"])
if len(same_start):
    figure.add_histogram(x=same_start, name=f"two clouds, same start ({len(same_start)} pairs)", histnorm="probability density",
                         opacity=0.6, marker_color=COLOURS["same"])
figure.update_traces(xbins=bins)
figure.update_layout(barmode="overlay", xaxis_title="distance between seeds |z_i - z_j|", yaxis_title="density", height=340,
                     margin={"t": 20})
st.plotly_chart(figure, width="stretch")

names = separation["names"]
attribution = np.asarray(study.arrays[f"separation/{level}/attribution"])
heatmap = px.imshow(attribution, x=names, y=names, zmin=0, zmax=1, text_auto=".2f", color_continuous_scale="Blues",
                    labels={"x": "cloud of the nearest other seed", "y": "seeds of", "color": "share"}, height=120 + 40 * len(names))
st.plotly_chart(heatmap, width="stretch")
rms = np.asarray(separation.get("image_rms", []))
if rms.size:
    st.caption(f"RMS distance between the images (2·sqrt(ε) = {2 * study.eps(level) ** 0.5:.3f} at {level}):")
    st.dataframe({"image": names, **{n: rms[:, i] for i, n in enumerate(names)}}, hide_index=True)
third = study.summary.get("third_set")
if third:
    st.write(f"Segments between the clouds of **{third['a']}** and **{third['b']}** that enter emb_ε({third['third']}) at "
             f"{study.levels[0]}: {third['segments_entering_third_set']}/{third['pairs']} (closest PSNR to {third['third']}: "
             f"{third['closest_psnr_to_third_db']:.1f} dB)." + (f" The study tests this at {study.levels[0]} only." if level != study.levels[0] else ""))
