"""Which palette colour each fitted cell is, with the palette as the only hypotheses.

A fitted cell (cellfit) is its true colour plus an error of a level or two per channel (noise,
JPEG). Where two palette colours lie closer together than that (real palettes hold #000000 and
#010101, or ramps of shades one level apart), the nearest colour is a coin toss; the art's own
structure still tells them apart. Pixel art holds runs of one colour, so a cell near a tie takes
the colour of its 4-neighbours: a Potts prior on top of each cell's likelihood, maximised by
iterated conditional modes from the per-cell best.

- Likelihood: Gaussian in cellfit's weighted Y'CbCr, its variance fitted by EM to the cells as a
  mixture over the palette colours (cells far from every colour, blends and misfits, are left
  out). Its shape stays cellfit's: a full or per-channel covariance fitted the same way does
  worse, since a palette of colours a level apart explains a shifted cell as well as the true
  colour does.
- Colour prior: the share of the picture each colour holds, fitted by the same EM (a colour the
  art hardly uses needs more evidence than one it is made of), at PRIOR_WEIGHT of its
  log-probability: the shares are read from the cells they then judge, and two colours a level
  apart trade cells inside EM. Measured on bench/realart.py (worst image, exact, x4/x8/x16,
  2 seeds): no prior 0.296/0.562/0.797, half 0.417/0.664/0.816, full 0.403/0.672/0.773.
- Neighbour weight: how much more often two sure 4-neighbours (cells whose best colour leads the
  next by SURE) share a colour than two sure cells picked at random, as log-odds times
  BETA_SCALE, at most BETA_MAX per neighbour. A texture of independent cells gets none.

Colours that are distinct (many error widths apart) differ in log-likelihood by far more than
four neighbours can add, so the prior only ever decides between colours a cell cannot tell apart.

- A key colour's spill: art flattened on a key (white, magenta) has its largest steps at the
  key, and a blur fitted a little low leaves a share of each in the cells beside it (black reads
  a level or two bright: as bright as a near-black shade). The share is fitted (least squares,
  at most SPILL_MAX) from the cells beside the key that are sure of their colour, taken out of
  every cell beside it, and the cells are assigned again.
"""

from __future__ import annotations

import numpy as np

from .cellfit import sq_distances

EM_ITERATIONS = 8
CANDIDATES = 4
PRIOR_WEIGHT = 0.5
SHARE_FLOOR = 1e-3  # of the cells, spread over the colours: no colour's share reaches 0
OUTLIER = 25.0  # squared distance in error widths (5 sigma) past which a cell teaches EM nothing
VAR_FLOOR = 0.1  # levels^2: the least error variance (rounding)
SURE = 2.0  # log-likelihood lead of a cell sure of its colour
BETA_SCALE = 0.5
BETA_MAX = 1.0
SPILL_MAX = 0.01  # the largest share of the key's step a fitted cell is taken to hold
SPILL_SURE = 8.0  # levels: a cell this much nearer its label than any other teaches the share
ICM_ROUNDS = 4
_STEPS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def mixture(d2: np.ndarray) -> tuple[np.ndarray, float]:
    """The share of each palette colour (K,) and the error variance (levels^2 per dimension)
    of cells whose squared distances to the colours are d2 (N, K): EM for a mixture of
    Gaussians at the colours (each cell's CANDIDATES nearest only: the farther ones have no
    weight worth counting)."""
    k = d2.shape[1]
    if k > CANDIDATES:
        idx = np.argpartition(d2, CANDIDATES - 1, axis=1)[:, :CANDIDATES]
        d2 = np.take_along_axis(d2, idx, axis=1)
    else:
        idx = np.broadcast_to(np.arange(k), d2.shape)
    share = np.full(k, 1.0 / k)
    var = 4.0
    for _ in range(EM_ITERATIONS):
        z = d2 / var
        inlier = z.min(axis=1) <= OUTLIER
        m = int(inlier.sum())
        if m == 0:
            break
        logp = np.log(share)[idx[inlier]] - 0.5 * z[inlier]
        logp -= logp.max(axis=1, keepdims=True)
        r = np.exp(logp)
        r /= r.sum(axis=1, keepdims=True)
        var = float((r * d2[inlier]).sum()) / (3 * m) + VAR_FLOOR
        count = np.bincount(idx[inlier].ravel(), weights=r.ravel(), minlength=k)
        share = count + SHARE_FLOOR * m / k
        share /= share.sum()
    return share, var


def assign(
    x: np.ndarray, mu: np.ndarray, use: np.ndarray | None = None, key: int | None = None
) -> np.ndarray:
    """The palette index (h, w) of every fitted cell x (h, w, 3) among the colours mu (K, 3)
    (what a flat cell of each averages to: cellfit.observed). `use` marks the cells that hold
    a colour (default all; transparent cells do not) and so are measured. `key`: the index in mu
    of a background key colour the picture was flattened on, if any.

    With a key, twice: the first labels show how much of the key the fit left in the cells
    beside it (a blur a little off leaves a share of the step: black beside a white key reads a
    level or two too bright, as bright as a near-black shade of the palette); that share,
    fitted over the sure cells, is taken out before the labels are chosen again."""
    lab = _assign(x, mu, use)
    if key is None:
        return lab
    c = mu[lab]
    nb = _neighbour_steps(c, lab == key)
    sure = _sure(x, mu, lab) if use is None else _sure(x, mu, lab) & use
    r = (x - c)[sure].ravel()
    n = nb[sure].ravel()
    nn = float(n @ n)
    if nn <= 0:
        return lab
    share = float(np.clip((r @ n) / nn, 0.0, SPILL_MAX))
    if share <= 0:
        return lab
    return _assign(x - share * nb, mu, use)


def _neighbour_steps(c: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Sum over each cell's 4-neighbours in `key` of (neighbour - cell) colour (h, w, 3)."""
    c = c.astype(np.float64)
    out = np.zeros_like(c)
    d0, d1 = np.diff(c, axis=0), np.diff(c, axis=1)
    out[:-1] += d0 * key[1:, :, None]
    out[1:] -= d0 * key[:-1, :, None]
    out[:, :-1] += d1 * key[:, 1:, None]
    out[:, 1:] -= d1 * key[:, :-1, None]
    return out


def _sure(x: np.ndarray, mu: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """Cells whose colour is nearer their label than half the way to the next colour."""
    d2 = sq_distances(x, mu).reshape(*x.shape[:2], len(mu))
    if len(mu) < 2:
        return np.ones(x.shape[:2], bool)
    two = np.partition(d2, 1, axis=2)[..., :2]
    return np.sqrt(two[..., 1]) - np.sqrt(two[..., 0]) > SPILL_SURE


def _assign(x: np.ndarray, mu: np.ndarray, use: np.ndarray | None) -> np.ndarray:
    h, w, _ = x.shape
    k = len(mu)
    d2 = sq_distances(x, mu)
    use = np.ones((h, w), bool) if use is None else use
    est = d2[use.ravel()]
    share, var = mixture(est if len(est) else d2)
    score = (PRIOR_WEIGHT * np.log(share) - 0.5 / var * d2).reshape(h, w, k)
    lab = score.argmax(axis=2)
    if k == 1:
        return lab
    top2 = np.partition(score, k - 2, axis=2)[..., -2:]
    gap = top2[..., 1] - top2[..., 0]
    beta = neighbour_weight(lab, use & (gap >= SURE))
    if beta <= 0:
        return lab
    return _icm(score, lab, gap < 4 * beta, beta)


def _shifted(a: np.ndarray, dy: int, dx: int, fill: bool | int) -> np.ndarray:
    """out[y, x] = a[y + dy, x + dx], `fill` outside."""
    h, w = a.shape
    out = np.full_like(a, fill)
    out[max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)] = a[
        max(dy, 0) : h - max(-dy, 0), max(dx, 0) : w - max(-dx, 0)
    ]
    return out


def neighbour_weight(lab: np.ndarray, sure: np.ndarray) -> float:
    """The Potts weight the art supports (see the module): 0 for a texture of independent cells."""
    same = both = 0
    for dy, dx in ((1, 0), (0, 1)):
        pair = sure & _shifted(sure, dy, dx, False)
        both += int(pair.sum())
        same += int((pair & (_shifted(lab, dy, dx, -1) == lab)).sum())
    freq = np.bincount(lab[sure]) / max(1, int(sure.sum()))
    chance = float((freq**2).sum())
    if same == 0 or chance <= 0:
        return 0.0
    return float(np.clip(BETA_SCALE * np.log(same / both / chance), 0.0, BETA_MAX))


def _icm(score: np.ndarray, lab: np.ndarray, open_: np.ndarray, beta: float) -> np.ndarray:
    """Labels maximising score (h, w, K) plus `beta` per equal 4-neighbour, by iterated
    conditional modes from `lab`, changing only the `open_` cells (the others' best two lie
    farther apart than four neighbours can add)."""
    h, w, k = score.shape
    cy, cx = np.nonzero(open_)
    if len(cy) == 0:
        return lab
    lab = lab.copy()
    sub = score[cy, cx]  # (M, K)
    ar = np.arange(k)
    for _ in range(ICM_ROUNDS):
        bonus = np.zeros_like(sub)
        for dy, dx in _STEPS:
            ny, nx = cy + dy, cx + dx
            inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
            nb = lab[np.clip(ny, 0, h - 1), np.clip(nx, 0, w - 1)]
            bonus += (nb[:, None] == ar[None, :]) & inside[:, None]
        new = (sub + beta * bonus).argmax(axis=1)
        if np.array_equal(new, lab[cy, cx]):
            break
        lab[cy, cx] = new
    return lab
