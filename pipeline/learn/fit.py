"""The optimisation under the learned head: one-vs-rest logistic regression in one L-BFGS run, class
balance, and the calibration map (Platt scaling with shared extra features)."""

from __future__ import annotations

import contextlib

import numpy as np

from ..propose import _sigmoid

def _single_thread():
    """BLAS on one thread: these matrices are small, and on a busy two-core machine threaded BLAS
    made a refit ~20x slower (3.2 s instead of 0.18 s for 400 decisions, measured)."""
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn (sentence-transformers)
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1)


def _balanced(W: np.ndarray, S: np.ndarray) -> np.ndarray:
    """Class balance per code: positives (S > 0) and negatives (S < 0) weigh the same in total."""
    pos_w = (W * (S > 0)).sum(axis=0)
    neg_w = (W * (S < 0)).sum(axis=0)
    tot = pos_w + neg_w
    return W * np.where(S > 0, tot / (2 * np.maximum(pos_w, 1e-12)), tot / (2 * np.maximum(neg_w, 1e-12)))


def _fit_ovr_logistic(X: np.ndarray, S: np.ndarray, W: np.ndarray, C: float, max_iter: int = 200,
                      F=None, init: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest L2 logistic regression, all codes in one L-BFGS run.

    X [n, d] dense features, F [n, f] optional sparse ones beside them (kept sparse: a dense block
    inside a sparse matrix multiplies several times slower); S [n, k] targets +1 / -1 / 0 (no
    information); W [n, k] sample weights. Minimises 0.5 * |coef|^2 + C * sum W * log(1 + exp(-S *
    ([X F] coef + b))); the bias is not penalised (scikit-learn's convention). ``init``: a
    (coef, bias) to start from (a previous solution), zeros otherwise. Returns (coef [d + f, k],
    bias [k]).
    """
    from scipy.optimize import minimize

    X = np.asarray(X, dtype=np.float64)
    F = F.tocsr().astype(np.float64) if F is not None else None
    FT = F.T.tocsr() if F is not None else None
    d = X.shape[1] + (F.shape[1] if F is not None else 0)
    dx = X.shape[1]
    k = S.shape[1]
    CW = C * W * (S != 0)

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        coef = theta[: d * k].reshape(d, k)
        b = theta[d * k:]
        z = X @ coef[:dx] + b
        if F is not None:
            z = z + F @ coef[dx:]
        m = S * z
        loss = 0.5 * float((coef * coef).sum()) + float((CW * np.logaddexp(0.0, -m)).sum())
        g = -CW * S * _sigmoid(-m)  # d loss / d z
        xg = X.T @ g
        if F is not None:
            xg = np.vstack([xg, FT @ g])
        grad = np.concatenate([(xg + coef).ravel(), g.sum(axis=0)])
        return loss, grad

    x0 = np.concatenate([init[0].ravel(), init[1]]) if init is not None else np.zeros(d * k + k)
    res = minimize(f, x0, jac=True, method="L-BFGS-B",
                   options={"maxiter": max_iter, "gtol": 1e-6})
    return res.x[: d * k].reshape(d, k), res.x[d * k:]


MIN_SLOPE = 0.05


def _fit_platt(logit: np.ndarray, target: np.ndarray, weight: np.ndarray, strength: float = 1.0,
               center: tuple[float, float] = (1.0, 0.0), extra: np.ndarray | None = None) -> tuple[float, ...]:
    """score = sigmoid(a * logit + b [+ beta . extra]) by weighted logistic regression, shrunk toward
    ``center`` (default the identity map, a=1, b=0; beta toward 0) with ``strength`` pseudo-weight.
    ``a >= MIN_SLOPE`` keeps the map strictly increasing: a zero-shot code keeps its ranking even when
    the decisions say that similarity to the descriptions is little evidence (it is compressed, never
    flattened or reversed). ``extra`` [n, m]: features shared by every code (fewshot.v6: the name
    match), with weights ``beta >= 0``. ``target`` is 1 / 0. Returns (a, b) or (a, b, *beta)."""
    from scipy.optimize import minimize

    s = 2.0 * target - 1.0
    E = np.zeros((len(logit), 0)) if extra is None else np.asarray(extra, dtype=np.float64).reshape(len(logit), -1)
    m_extra = E.shape[1]
    a0, b0 = center
    c0 = np.array([a0, b0] + [0.0] * m_extra)

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        a, b, beta = theta[0], theta[1], theta[2:]
        m = s * (a * logit + b + E @ beta)
        r = -weight * s * _sigmoid(-m)
        loss = float((weight * np.logaddexp(0.0, -m)).sum()) + 0.5 * strength * float(((theta - c0) ** 2).sum())
        grad = np.concatenate([[(r * logit).sum(), r.sum()], E.T @ r]) + strength * (theta - c0)
        return loss, grad

    res = minimize(f, c0, jac=True, method="L-BFGS-B", bounds=[(MIN_SLOPE, None), (None, None)] + [(0.0, None)] * m_extra)
    return tuple(float(x) for x in res.x)
