"""The study of emb(x): the set of seeds z with G(z) ~ x.

One probe a module, each a plain function over a generator and tensors that returns arrays and
summary numbers (dataclasses); `core.study.report` runs them for chosen images and writes JSON,
figures and a markdown report (`python -m core.study`).

Definitions (docs/study.md has the long form):
- emb_eps(x) = { z : MSE(G(z), x) <= eps }, MSE on [0, 1] pixels; eps is usually given as a PSNR
  (30 dB -> eps = 1e-3, 40 dB -> eps = 1e-4), see `core.study.tolerance`;
- z*: the seed of near-exact (fixed-point) inversion;
- a cloud: seeds found by gradient descent from independent N(0, I) starts (`core.study.clouds`).
"""
