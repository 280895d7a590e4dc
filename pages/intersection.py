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
columns = st.columns(3)
columns[0].metric("pairs disjoint for certain", f"{disjoint}/{pairs}", help="RMS distance of the images > 2 sqrt(eps)")
columns[1].metric("nearest seed from another start in its own cloud", f"{100 * separation['self_attribution']:.0f}%",
                  help=f"chance: about {100 / separation['clouds']:.0f}% (one cloud of {separation['clouds']})")
columns[2].metric("closest seeds of two clouds", f"{separation['between_distance_min']:.2f}",
                  help=f"farthest seeds within one cloud: {separation['within_distance_max']:.2f}")

within, between = study.arrays[f"separation/{level}/within"], study.arrays[f"separation/{level}/between"]
same_start = study.arrays.get(f"separation/{level}/same_start", np.zeros(0))  # absent in studies that did not record starts
figure = go.Figure()
figure.add_histogram(x=within, name=f"within a cloud ({len(within)} pairs)", histnorm="probability density", opacity=0.6)
figure.add_histogram(x=between, name=f"two clouds, other starts ({len(between)} pairs)", histnorm="probability density", opacity=0.6)
if len(same_start):
    figure.add_histogram(x=same_start, name=f"two clouds, same start ({len(same_start)} pairs)", histnorm="probability density",
                         opacity=0.6)
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
             f"{third['closest_psnr_to_third_db']:.1f} dB).")
