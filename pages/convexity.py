"""Convexity: do convex combinations of k cloud seeds stay inside emb_eps(x)?"""

import plotly.express as px
import streamlit as st

from core.study.convexity import share_with_interval
from core.study.tolerance import mse_from_psnr
from explorer.loaders import (convexity_samples, current_study, psnr_db, select_cloud_image, study_generator,
                              to_display)

st.title("Convexity")
study = current_study()
st.markdown(
    "A convex set holds every weighted average of its points. Here k members of an image's cloud are mixed with random "
    "weights (Dirichlet(1, ..., 1), the same draws as the study's run) and G is asked for the image: the share of mixtures "
    "whose PSNR stays above the tolerance is how convex emb_ε(x) looks at that tolerance, with a 95% Wilson interval."
)
left, middle = st.columns(2)
name = select_cloud_image(study, left)
usable = [level for level in study.levels if len(study.members(name, level)) >= 2]
# No st.stop() here: a stopped run skips Streamlit's clean-up of the widgets it did not draw, so the server kept
# the last tolerance while the browser redrew its slider at the default (the numbers answered 25 dB under 30).
if not usable:
    st.info(f"The cloud of {name} has fewer than 2 seeds inside any tolerance: nothing to combine.")
else:
    level = middle.selectbox("cloud at", usable, help="the seeds combined are the cloud's members inside emb_ε(x) at this level")
    members = study.members(name, level)
    stored_ks = sorted(int(key.rsplit("_k", 1)[1]) for key in study.arrays if key.startswith(f"{name}/convexity_mse_{level}_k"))
    if len(members) > 2:
        k = st.slider("k: seeds per combination", min_value=2, max_value=len(members), value=2, key=f"convexity_k_{name}_{level}",
                      help=f"between 2 and the {len(members)} seeds of this cloud; the study stored k = {stored_ks}")
    else:  # a slider needs two distinct ends
        k = 2
        st.caption("k = 2: this cloud has 2 seeds at this tolerance.")
    level_db = float(level[:-2])
    tolerance_db = st.slider("tolerance (PSNR, dB)", min_value=5.0, max_value=60.0, value=min(max(level_db, 5.0), 60.0), step=0.5,
                             key=f"convexity_tolerance_{name}_{level}",  # per cloud: a page stopped early (no cloud) desynced one shared slider
                             help="a mixture is inside when PSNR(G(mixture), x) is at least this")
    samples = int(study.summary["config"].get("convexity_samples", 32))

    if k in stored_ks:
        errors = study.arrays[f"{name}/convexity_mse_{level}_k{k}"]
        computed = None
    else:
        study_generator(study)
        computed = convexity_samples(str(study.generator_dir()), members, study.image(name), study.eps(level), k, samples, study.steps)
        errors = computed["mse"]

    psnrs = psnr_db(errors)
    share, low, high = share_with_interval(int((errors <= mse_from_psnr(tolerance_db)).sum()), len(errors))
    columns = st.columns(3)
    columns[0].metric(f"inside emb_ε at {tolerance_db:g} dB", f"{100 * share:.0f}%", help=f"95% CI {100 * low:.0f}-{100 * high:.0f}%")
    columns[1].metric("combinations", len(errors))
    columns[2].metric("worst PSNR", f"{psnrs.min():.1f} dB")
    st.caption(f"95% interval of the share: {100 * low:.0f}% to {100 * high:.0f}% ({'stored in the study' if computed is None else 'computed now'}).")
    figure = px.histogram(x=psnrs, nbins=30, labels={"x": "PSNR of G(combination) to x (dB)"}, height=320)
    figure.add_vline(x=tolerance_db, line_dash="dash", line_color="red", annotation_text="tolerance")
    figure.update_layout(yaxis_title="combinations", margin={"t": 20})
    st.plotly_chart(figure, width="stretch")

    rows = [{"k": c["k"], "samples": c["samples"], "share inside": c["share_inside"], "95% CI low": c["share_inside_ci95"][0],
             "95% CI high": c["share_inside_ci95"][1], "worst MSE": c["mse_max"], "mean |z|/sqrt(D)": c["seed_norm_mean"]}
            for c in study.summary["images"][name].get(level, {}).get("convexity", [])]
    if rows:
        st.write(f"The study's table for {name} at {level} (its own tolerance):")
        st.dataframe(rows, hide_index=True)

    st.subheader("The worst combinations")
    study_generator(study)
    if computed is None:
        computed = convexity_samples(str(study.generator_dir()), members, study.image(name), study.eps(level), k, len(errors), study.steps)
    worst_psnr = psnr_db(computed["mse"][computed["worst"]])
    st.image([to_display(study.image(name)[None])[0]] + to_display(computed["worst_images"]), width=112,
             caption=[f"x = {name}"] + [f"{p:.1f} dB, seeds {', '.join(map(str, m))}" for p, m in zip(worst_psnr, computed["worst_members"])])
