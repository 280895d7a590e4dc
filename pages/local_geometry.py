"""Local geometry: the singular values of G's Jacobian at z* and the most and least sensitive seed directions."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.study.local_geometry import direction_steps
from explorer.loaders import current_study, locally_injective, seeds_display, to_display

st.title("Local geometry")
study = current_study()
st.markdown(
    "Near z\\*, G(z\\* + d) ≈ G(z\\*) + J d, with J the Jacobian of G (pixels by seed entries). If every singular value "
    "σ_i of J is above zero (above float32 round-off, to be certain), G is **locally injective**: emb(x) at exact equality is the single point z\\*. At a tolerance ε, "
    "emb_ε(x) is close to an ellipsoid with half-axis sqrt(N ε)/σ_i along the i-th seed direction v_i (N pixels): small σ, "
    "long axis. The images below move z\\* along the most and the least sensitive directions by a = that half-axis at "
    f"the first tolerance ({study.levels[0]}), capped at sqrt(D) = {np.sqrt(np.prod(study.image_shape)):.0f}, the norm of a "
    "random seed. Where an axis is longer than that (the least sensitive ones usually are), the step leaves the first "
    "order and the images show what G does to a seed pushed that far."
)
name = st.selectbox("image", study.names)
geometry = study.summary["images"][name]["local_geometry"]
columns = st.columns(4)
columns[0].metric("largest σ", f"{geometry['sigma_max']:.3g}")
columns[1].metric("smallest σ", f"{geometry['sigma_min']:.3g}")
columns[2].metric("condition number", f"{geometry['condition_number']:.3g}")
verdict = locally_injective(geometry)
columns[3].metric("locally injective (certified)", {True: "yes", False: "not certified", None: "n/a"}[verdict],
                  help="yes when the smallest singular value is above float32 round-off (~1e-5 of the largest); "
                       f"{geometry.get('clipped_pixels', '?')} pixels of G(z*) are clipped to [0, 1] and their rows of J do not count")

figure = go.Figure()
for other in study.names:
    values = study.arrays[f"{other}/singular_values"]
    figure.add_scatter(x=np.arange(1, len(values) + 1), y=values, name=other, mode="lines",
                       line={"width": 3 if other == name else 1}, opacity=1.0 if other == name else 0.35)
figure.update_yaxes(exponentformat="power")  # 10⁻⁴, not plotly's SI "100μ", for a singular value
figure.update_layout(yaxis_type="log", xaxis_title="index i (most sensitive first)", yaxis_title="singular value σ_i of J at z*",
                     height=380, margin={"t": 20})
st.plotly_chart(figure, width="stretch")
rows = []
for level in study.levels:
    axes = geometry.get(f"eps={study.eps(level):g}", {})
    if axes:
        rows.append({"tolerance": level, "shortest half-axis": axes["half_axis_min"], "median": axes["half_axis_median"],
                     "longest half-axis": axes["half_axis_max"], "log10 volume / ball of radius sqrt(D)": axes["log10_volume_ratio_to_shell_ball"]})
if rows:
    st.caption(f"First-order half-axes of emb_ε({name}), in seed units (a random seed has norm about sqrt(D) = "
               f"{np.sqrt(np.prod(study.image_shape)):.0f}):")
    st.dataframe(rows, hide_index=True, column_config={key: st.column_config.NumberColumn(format="%.4g") for key in rows[0] if key != "tolerance"})
    st.caption("The volume column compares the first-order ellipsoid with the ball of radius sqrt(D), where random seeds "
               "live, in powers of ten: 2 means 100 times that ball's volume, -2 a hundredth. In D dimensions a few long axes "
               "make it huge; the clouds' own test (the plot at the end) says whether the first order holds that far.")

images = study.arrays[f"{name}/direction_images"]  # (2k, 3, C, H, W): G(z* - a v), G(z*), G(z* + a v)
k = len(images) // 2
singular_values = study.arrays[f"{name}/singular_values"]
dimension = int(np.prod(study.image_shape))  # N = D: pixels and seed entries
steps_a = direction_steps(singular_values, study.eps(study.levels[0]), dimension)  # the steps the study's images took
target = np.asarray(study.image(name))
st.caption(f"Each row: the direction v_i, then G(z* − a·v_i), G(z*), G(z* + a·v_i), with the PSNR to x under each. To first "
           f"order, a is where the error reaches the tolerance ({study.levels[0]}), so a PSNR far from it says where G is not linear.")
for title, rows_of, directions in (("Most sensitive directions", range(k), study.arrays[f"{name}/most_sensitive_directions"]),
                                   ("Least sensitive directions", range(k, 2 * k), study.arrays[f"{name}/least_sensitive_directions"])):
    st.subheader(title)
    for position, (row, direction) in enumerate(zip(rows_of, directions)):
        index = position + 1 if row < k else len(singular_values) - k + position + 1
        a = float(steps_a[index - 1])
        unit = direction / max(np.abs(direction).max(), 1e-12) * 3  # a unit vector, scaled to fill the display range
        psnrs = [10 * np.log10(1 / max(float(np.mean((frame - target) ** 2)), 1e-12)) for frame in images[row]]
        capped = " (capped: sqrt(D))" if a >= np.sqrt(dimension) * (1 - 1e-6) else ""
        st.image(seeds_display(unit[None])[0:1] + to_display(images[row], scale=3), width=84,
                 caption=[f"v_{index}, a = {a:.3g}{capped}", f"−a·v {psnrs[0]:.1f} dB", f"z* {psnrs[1]:.1f} dB",
                          f"+a·v {psnrs[2]:.1f} dB"])  # short: 84-pixel columns

for level in study.levels:
    key = f"{name}/ellipsoid_measured_{level}"
    if key in study.arrays:
        measured, predicted = study.arrays[key], study.arrays[f"{name}/ellipsoid_predicted_{level}"]
        check = go.Figure()
        check.add_scatter(x=predicted, y=measured, mode="markers", name="cloud seeds")
        # log-log: the measured errors sit at the tolerance, orders of magnitude below what the first order predicts
        positive = np.concatenate([measured, predicted])
        positive = positive[positive > 0]
        low, top = (float(positive.min()), float(positive.max())) if len(positive) else (1e-6, 1.0)
        check.add_scatter(x=[low, top], y=[low, top], mode="lines", line={"dash": "dash", "color": "grey"}, name="measured = predicted")
        check.update_layout(xaxis_title="first-order MSE |J (z - z*)|² / N", yaxis_title="measured MSE(G(z), x)", height=320,
                            margin={"t": 30}, title=f"Does the first order hold for the cloud at {level}?",
                            xaxis_type="log", yaxis_type="log")
        check.update_xaxes(exponentformat="power")
        check.update_yaxes(exponentformat="power")
        st.plotly_chart(check, width="stretch")
