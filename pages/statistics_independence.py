"""Seed statistics and independence: do embedded seeds look like N(0, I) noise, can a seed tell a foreign image,
and does a seed mean the same image under a second generator?"""

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from scipy.stats import norm

from explorer.loaders import (autocorrelation, compare_two_generators, current_study, statistics_groups, to_display,
                              independence_pair)

st.title("Seed statistics and independence")
study = current_study()
st.markdown(
    "A true seed is D independent N(0, 1) values. Seeds found by inversion keep the scale but can carry the image's "
    "structure: neighbouring values that are correlated. The **out-of-distribution score** is that lag-1 "
    "autocorrelation, standardised (about N(0, 1) for white noise, high for smooth structure)."
)

st.header("Seed values against N(0, 1)")
table = study.summary.get("statistics", [])
# what each column of core.study.statistics' summary means (tests at the 5% level; "pass": consistent with N(0, 1))
COLUMNS = {
    "name": ("group", "whose seeds"), "count": ("seeds", "seeds in the group"), "dimension": ("D", "values per seed"),
    "mean_norm": ("|z| / sqrt(D)", "1 for N(0, I)"), "mean_mean": ("mean", "mean value of a seed, averaged over the group"),
    "mean_std": ("std", "standard deviation of a seed's values"), "mean_skewness": ("skewness", "0 for N(0, 1)"),
    "mean_excess_kurtosis": ("excess kurtosis", "0 for N(0, 1); heavy tails above"),
    "mean_autocorr_h": ("lag-1 corr. (horizontal)", "correlation of horizontally neighbouring values; 0 for white noise"),
    "mean_autocorr_v": ("lag-1 corr. (vertical)", "correlation of vertically neighbouring values; 0 for white noise"),
    "mean_abs_autocorr": ("mean |autocorr.|", "mean absolute correlation over small lags"),
    "share_ks_pass": ("KS pass", "share of seeds that pass Kolmogorov-Smirnov against N(0, 1)"),
    "share_shapiro_pass": ("Shapiro pass", "share that pass Shapiro-Wilk (normal shape, any mean and scale)"),
    "share_departure_pass": ("departure pass", "share whose departure score (mean, norm, Jarque-Bera, autocorrelation; chi2(6)) passes"),
    "mean_departure_score": ("departure score", "mean; about 6 for N(0, I)"),
    "share_ood_pass": ("OOD pass", "share whose OOD score (standardised lag-1 autocorrelation) passes, one-sided"),
    "mean_ood_score": ("OOD score (mean)", "about 0 for white noise, high for smooth structure"),
    "median_ood_score": ("OOD score (median)", ""),
}
if table:
    st.dataframe([{COLUMNS.get(k, (k,))[0]: v for k, v in row.items()} for row in table], hide_index=True,
                 column_config={label: st.column_config.Column(help=help_text) for label, help_text in COLUMNS.values() if help_text})
names = [row["name"] for row in table] or [k.split("/")[1] for k in study.arrays if k.endswith("/values_sample")]
chosen = st.multiselect("groups", names, default=names[:2])
grid = np.linspace(-4, 4, 200)
figure = go.Figure()
for group in chosen:
    values = study.arrays.get(f"statistics/{group}/values_sample")
    if values is not None:
        figure.add_histogram(x=np.clip(values, -4, 4), name=group, histnorm="probability density", opacity=0.55, nbinsx=60)
figure.add_scatter(x=grid, y=norm.pdf(grid), name="N(0, 1)", line={"color": "black"})
figure.update_layout(barmode="overlay", xaxis_title="seed value", yaxis_title="density", height=340, margin={"t": 20})
st.plotly_chart(figure, width="stretch")

st.header("Spatial autocorrelation")
MAX_LAG = 5  # farther lags are near 0 for every group
groups = statistics_groups(study)
st.caption(f"Mean 2-D autocorrelation of the group's seeds at lags up to ±{MAX_LAG}, zero lag in the centre (1 by definition, "
           "off the colour scale): white noise is the centre alone, image structure lights up its neighbours.")
left, right = st.columns(2)
for column, side, default in ((left, "left", "random N(0, I)"),
                              (right, "right", next((g for g in groups if g.startswith("z*")), list(groups)[-1]))):
    with column:
        group = st.selectbox("group", list(groups), index=list(groups).index(default) if default in groups else 0, key=f"ac_{side}")
        image = autocorrelation(groups[group])
        centre_y, centre_x = image.shape[0] // 2, image.shape[1] // 2
        lags = np.arange(-MAX_LAG, MAX_LAG + 1)
        shown = px.imshow(image[centre_y - MAX_LAG : centre_y + MAX_LAG + 1, centre_x - MAX_LAG : centre_x + MAX_LAG + 1],
                          x=lags, y=lags, color_continuous_scale="RdBu_r", zmin=-0.3, zmax=0.3, height=340,
                          labels={"color": "correlation", "x": "horizontal lag", "y": "vertical lag"},
                          title=f"{group} ({len(groups[group])} seeds)")
        st.plotly_chart(shown, width="stretch")

st.header("Out-of-distribution score")
scores = {k.split("/")[1]: v for k, v in study.arrays.items() if k.startswith("statistics/") and k.endswith("/ood_score")}
if scores:
    # one row per group with every seed as a point: overlaid histograms of groups of 2 and of 200 seeds were unreadable
    figure = go.Figure()
    for group, values in scores.items():
        figure.add_box(x=values, name=f"{group} ({len(values)})", boxpoints="all", jitter=0.4, pointpos=0, orientation="h",
                       marker={"size": 5, "opacity": 0.6}, line={"width": 1})
    figure.update_layout(xaxis_title="OOD score (standardised lag-1 autocorrelation)", showlegend=False,
                         height=120 + 45 * len(scores), margin={"t": 20})
    st.plotly_chart(figure, width="stretch")
if "ood" in study.summary:
    o = study.summary["ood"]
    columns = st.columns(3)
    columns[0].metric("AUROC, photos vs test images", f"{o['auroc']:.3f}", help=f"95% CI {o['ci_low']:.3f}-{o['ci_high']:.3f}")
    columns[1].metric("z* PSNR, test images", f"{o['exact_psnr_test_mean_db']:.1f} dB")
    columns[2].metric("z* PSNR, photos", f"{o['exact_psnr_photos_mean_db']:.1f} dB")
    separated = go.Figure()
    separated.add_histogram(x=study.arrays["ood/scores_in"], name=f"test images ({o['test_images']})", opacity=0.6)
    separated.add_histogram(x=study.arrays["ood/scores_out"], name=f"photos and faces ({o['photos']})", opacity=0.6)
    separated.update_layout(barmode="overlay", xaxis_title="OOD score of z*", yaxis_title="images", height=300, margin={"t": 20})
    st.plotly_chart(separated, width="stretch")
else:
    st.info("This study has no out-of-distribution section: " + (
        "studies computed in the explorer skip it (hundreds of exact inversions); the shipped study has it."
        if study.made_in_explorer else "it needs a 28x28 generator and `--ood-test-images` and `--ood-photos` above 0 in `python -m core.study`."))

st.header("Network independence")
st.markdown("The same seeds through two generators trained by the same recipe from different initial weights. If a seed "
            "meant the same image under both, the paired PSNR would beat unrelated pairs by far.")
independence = study.summary.get("independence")
if independence:
    result = {"paired": study.arrays["independence/random/paired"], "unrelated": study.arrays["independence/random/unrelated"],
              "same_generator_unrelated": study.arrays["independence/random/same_generator_unrelated"],
              "images_a": study.arrays["independence/random/images_a"], "images_b": study.arrays["independence/random/images_b"]}
    pair = independence_pair(study)
    source = "stored in the study" + (f": A `{pair[0].name}`, B `{pair[1].name}`" if pair else "")
else:
    pair = independence_pair(study)
    if pair is None:
        st.info("This study has no independence section and no pair of same-recipe generators (assets/fashion-small and assets/fashion-small-twin) is on this machine.")
        st.stop()
    first, twin = pair
    if not st.toggle(f"compare `{first.name}` with `{twin.name}` now (a few seconds)", key="independence_now"):
        st.stop()
    result = compare_two_generators(str(first), str(twin), 64, study.steps)
    source = f"computed now: A `{first.name}`, B `{twin.name}`"
study_generator_dir = study.generator_dir()
if pair is not None and study_generator_dir is not None and pair[0].resolve() != study_generator_dir.resolve():
    source += (f" (not the study's generator `{study_generator_dir.name}`, which has no twin: this pair shares one training "
               "recipe and differs only in its initial weights, as the probe needs)")
st.caption(f"Same seeds, generator A (top) and generator B (bottom); {source}.")
st.image(to_display(result["images_a"], scale=3), width=84)
st.image(to_display(result["images_b"], scale=3), width=84)
columns = st.columns(3)
columns[0].metric("same seed, two generators", f"{np.mean(result['paired']):.1f} dB")
columns[1].metric("unrelated seeds, two generators", f"{np.mean(result['unrelated']):.1f} dB")
columns[2].metric("unrelated seeds, one generator", f"{np.mean(result['same_generator_unrelated']):.1f} dB")
figure = go.Figure()
for label, key in (("same seed, two generators", "paired"), ("unrelated, two generators", "unrelated"),
                   ("unrelated, one generator", "same_generator_unrelated")):
    figure.add_histogram(x=result[key], name=label, histnorm="probability density", opacity=0.55)
figure.update_layout(barmode="overlay", xaxis_title="PSNR between the two images (dB)", yaxis_title="density", height=320,
                     margin={"t": 20})
st.plotly_chart(figure, width="stretch")
if independence and "embedded" in independence:
    e = independence["embedded"]
    st.write(f"z\\* of {e['count']} test images (found under A): G_A(z\\*) reproduces x at {e['target_psnr_a_mean']:.1f} dB, "
             f"G_B(z\\*) at {e['target_psnr_b_mean']:.1f} dB.")
