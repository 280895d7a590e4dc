"""Overview: the shipped models, their training curves and the benchmark tables."""

import plotly.express as px
import streamlit as st

from core.training import validation_kind
from explorer.loaders import (active_study_dir, benchmark_result, findings_table, generator_names, generate_images, generator_training,
                              open_study, to_display, training_log)

st.title("Embedding images in DDIM diffusion models")
st.write(
    "A deterministic DDIM generator G maps a seed z (a noise image) to an image. Embedding inverts it: "
    "given x, find z with G(z) = x. These pages show the project's shipped generators, their samples, "
    "and the embedding methods side by side."
)
st.subheader("The shape of emb(x): findings of the study")
study, problem = open_study(active_study_dir())
if study is None:
    st.info(problem)
else:
    st.caption(f"From `{study.folder}` ({len(study.names)} images, cloud of {study.summary['config']['cloud_size']} starts each; "
               "the study pages show each question in detail).")
    try:
        st.table(findings_table(study.summary, study.arrays), hide_index=True)  # static: every row and the whole question visible
    except KeyError as missing:  # a study written before a field the findings now report
        st.info(f"This study predates the findings table (its study.json lacks {missing}); the study pages still show it. "
                "`python -m core.study` with the same images recomputes it from its cache.")

names = generator_names()
if not names:
    st.error("No generator found under assets/. Train one with `python -m core.train` (see the README).")
    st.stop()

for name in names:
    st.subheader(f"Generator `{name}`")
    left, right = st.columns([1, 2])
    with left:
        st.image(to_display(generate_images(name, "0-15", 10), scale=3), width=84)
    with right:
        log, training = training_log(name), generator_training(name)
        if log is not None and "val_loss" in log:
            # The validation loss (fixed noise draws on test images) is one quantity across runs, unlike the training loss
            # (a distilled student's is its error against the teacher). Which loss it measured is per record: the wide run
            # switched from L1 to MSE mid-way, and the L1 and MSE of one model differ by 2x.
            fallback = validation_kind(training) if training.get("loss") else None  # records written before val_kind
            kinds = [k if isinstance(k, str) else fallback for k in (log["val_kind"] if "val_kind" in log else [None] * len(log))]
            points = log.assign(series=[f"validation {k.upper()}" if k else "validation" for k in kinds])
            if len(points) == 1:
                row = points.iloc[0]
                st.metric(f"{row['series']} loss on test images (step {int(row['step'])})", f"{row['val_loss']:.4f}",
                          help="one record: the run was one epoch")
            else:
                figure = px.line(points, x="step", y="val_loss", color="series", markers=True,
                                 title="validation noise-prediction loss, test images",
                                 labels={"val_loss": "loss", "step": "training step", "series": ""})
                figure.update_yaxes(rangemode="tozero")  # from 0: a change in the 5th digit is not drawn as a cliff
                st.plotly_chart(figure, width="stretch")
            if points["series"].nunique() > 1:
                order = " then ".join(k.upper() for k in dict.fromkeys(k for k in kinds if k))
                st.caption(f"The loss changed during this run ({order}): the series are different quantities.")
        else:
            st.info("No training log shipped with this generator.")

for name in ("sample_quality", "speed", "embedding"):
    result = benchmark_result(name)
    if result is None:
        continue
    st.subheader(result.title)
    st.caption(f"`{result.command}` ({result.date}; {result.machine})")
    # a scrollable, sortable frame: the embedding table's 13 columns overflow the page as markdown
    # 4 significant digits, as the README prints them; Streamlit's default would show 1.6e-7 as 0.0000
    digits = {column: st.column_config.NumberColumn(format="%.4g") for column in result.table.select_dtypes("float").columns}
    digits[result.table.columns[0]] = st.column_config.Column(pinned=True)  # the row's name stays while scrolling right
    st.dataframe(result.table, hide_index=True, width="stretch", column_config=digits)
    if result.notes:
        st.caption(result.notes)
