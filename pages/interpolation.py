"""Interpolation: the error along linear and spherical paths between two seeds (of one image or of two)."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer.loaders import current_study, path_profiles, psnr_db, study_generator, to_display

st.title("Interpolation")
study = current_study()
st.markdown(
    "Two seeds, and the images G makes along the **straight line** between them and along the **great circle** "
    "(slerp, which keeps the seed's norm near that of random noise). For two seeds of one image the question is whether "
    "the path stays inside emb_ε(x) (the PSNR stays above the dashed tolerance lines); for seeds of two images, how the "
    "image morphs. The curves are the PSNR of G(seed) against the start image (and the end image)."
)


def pick(side: str, default_image: int, default_seed: int) -> tuple[str, str, np.ndarray]:
    name = st.selectbox(f"{side}: image", study.names, index=min(default_image, len(study.names) - 1), key=f"path_{side}_image")
    choices = study.seed_choices(name)
    labels = list(choices)
    label = st.selectbox(f"{side}: seed", labels, index=min(default_seed, len(labels) - 1), key=f"path_{side}_seed")
    return name, label, choices[label]


# The default pair is the one the study precomputed: z* of the first image to z* of the second (or two cloud seeds).
two_images = len(study.names) >= 2
left, right = st.columns(2)
with left:
    start_name, start_label, start = pick("from", 0, 0)
with right:
    end_name, end_label, end = pick("to", 1 if two_images else 0, 0 if two_images else len(study.single_seeds(study.names[0])) + 1)
frames = st.slider("frames along the path", min_value=3, max_value=33, value=int(study.summary["config"].get("path_frames", 17)))
if start_name == end_name and start_label == end_label:
    st.warning("Choose two different seeds.")
    st.stop()

stored = study.summary.get("paths_between_images", {}).get("linear", {})
is_stored = (two_images and stored.get("from") == start_name and stored.get("to") == end_name and start_label == end_label == "z*"
             and frames == stored.get("frames"))
if is_stored:
    profiles = {mode: {key: study.arrays[f"paths_between_images/{mode}/{key}"]
                       for key in ("images", "mse_to_start_image", "mse_to_end_image", "seed_norms")} for mode in ("linear", "spherical")}
    for profile in profiles.values():
        profile["weights"] = np.linspace(0.0, 1.0, frames)
    st.caption("Precomputed in the study.")
else:
    study_generator(study)
    profiles = path_profiles(str(study.generator_dir()), start, end, study.image(start_name), study.image(end_name), frames, study.steps)

figure = go.Figure()
for mode, dash in (("linear", "solid"), ("spherical", "dot")):
    profile = profiles[mode]
    figure.add_scatter(x=profile["weights"], y=psnr_db(profile["mse_to_start_image"]), name=f"{mode}: to {start_name}",
                       line={"dash": dash, "color": "#1f77b4"})
    if end_name != start_name:
        figure.add_scatter(x=profile["weights"], y=psnr_db(profile["mse_to_end_image"]), name=f"{mode}: to {end_name}",
                           line={"dash": dash, "color": "#d62728"})
for level in study.levels:
    figure.add_hline(y=float(level[:-2]), line_dash="dash", line_color="grey", annotation_text=f"emb_ε at {level}")
figure.update_layout(xaxis_title="position along the path (0 = from, 1 = to)", yaxis_title="PSNR of G(seed) (dB)", height=380,
                     margin={"t": 20})
st.plotly_chart(figure, width="stretch")

for mode in ("linear", "spherical"):
    profile = profiles[mode]
    norm = f"; smallest seed norm |z|/sqrt(D) {float(profile['seed_norms'].min()):.3f}"
    if start_name == end_name:  # does the path stay inside emb_ε(x)?
        worst = float(psnr_db(profile["mse_to_start_image"].max()))
        inside = {level: float((profile["mse_to_start_image"] <= study.eps(level)).mean()) for level in study.levels}
        st.write(f"**{mode}**: worst PSNR to {start_name} {worst:.1f} dB; share of frames inside emb_ε({start_name}): "
                 + ", ".join(f"{100 * v:.0f}% at {level}" for level, v in inside.items()) + norm)
    else:  # a morph: how faithful its ends are, and where it turns from one image to the other
        to_start, to_end = profile["mse_to_start_image"], profile["mse_to_end_image"]
        closer_to_end = np.flatnonzero(to_end < to_start)
        turn = f"closer to {end_name} from position {profile['weights'][closer_to_end[0]]:.2f}" if len(closer_to_end) else f"never closer to {end_name}"
        st.write(f"**{mode}**: PSNR of the first frame against {start_name} {float(psnr_db(to_start[0])):.1f} dB, of the last "
                 f"against {end_name} {float(psnr_db(to_end[-1])):.1f} dB; the frames are {turn}" + norm)
    st.image(to_display(profile["images"], scale=2), width=56, caption=[f"{w:.2f}" for w in profile["weights"]])
