"""Maths that gives the same bits on every machine, for content compared byte for byte.

numpy picks its kernels by CPU at run time: ``np.sin``, ``np.power``, ``np.hypot`` and
friends have AVX2 and AVX-512 versions (AVX-512 ones from Intel's SVML) that differ from
the baseline ones in the last bit, and ``@``, ``np.dot`` and ``np.linalg.norm`` of a
vector go to OpenBLAS, whose kernels (Haswell, SkylakeX, ...) sum in different orders.
A generator that uses them writes other bytes on another CPU.

Everything here is built from operations IEEE 754 rounds exactly, the same in every SIMD
width and on every platform: ``+ - * /``, ``sqrt``, ``rint``, ``floor``, ``frexp`` and
``ldexp``, applied element by element in a fixed order. The transcendental functions are
fdlibm's (Sun's freely distributable libm) polynomial kernels, accurate to about one ulp
over the ranges sample content uses; their point is being portable, not the last ulp.

Arrays of float32 come back as float32 (computed in float64 and rounded once), anything
else as float64. :func:`quantize` rounds to a grid and turns ``-0.0`` into ``0.0``, so a
value whose sign of zero or last bit came from a kernel cannot reach a file.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["arctan", "arctan2", "cbrt", "cos", "dot", "exp", "hypot", "log", "matmul",
           "norm", "power", "quantize", "sin", "tan"]

# Cody-Waite split of pi/2 (fdlibm e_rem_pio2.c): k * _PIO2_1 is exact for |k| < 2**20.
_PIO2_1 = 1.57079632673412561417e+00
_PIO2_2 = 6.07710050630396597660e-11
_PIO2_3 = 2.02226624871116645580e-21
_INV_PIO2 = 6.36619772367581382433e-01
_PI = 3.14159265358979311600e+00
_PI_2 = 1.57079632679489655800e+00
# fdlibm k_sin.c / k_cos.c
_S = (-1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04,
      2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10)
_C = (4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05,
      -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11)
# fdlibm s_atan.c
_ATAN_HI = (4.63647609000806093515e-01, 7.85398163397448278999e-01,
            9.82793723247329054082e-01, 1.57079632679489655800e+00)
_ATAN_LO = (2.26987774529616870924e-17, 3.06161699786838301793e-17,
            1.39033110312309984516e-17, 6.12323399573676603587e-17)
_AT = (3.33333333333329318027e-01, -1.99999999998764832476e-01, 1.42857142725034663711e-01,
       -1.11111104054623557880e-01, 9.09088713343650656196e-02, -7.69187620504482999495e-02,
       6.66107313738753120669e-02, -5.83357013379057348645e-02, 4.97687799461593236017e-02,
       -3.65315727442169155270e-02, 1.62858201153657823623e-02)
# fdlibm e_exp.c / e_log.c
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e+00
_P = (1.66666666666666019037e-01, -2.77777777770155933842e-03, 6.61375632143793436117e-05,
      -1.65339022054652515390e-06, 4.13813679705723846039e-08)
_LG = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
       2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
       1.479819860511658591e-01)
_SQRT_HALF = 7.07106781186547524401e-01
_EXP_MAX, _EXP_MIN = 709.78, -745.13


def _f64(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _like(result: np.ndarray, *inputs: Any) -> np.ndarray | float:
    """float32 in, float32 out (one rounding); a Python or numpy scalar in, a float out."""
    if any(isinstance(x, np.ndarray) and x.dtype == np.float32 for x in inputs):
        return result.astype(np.float32)
    if result.ndim == 0 and not any(isinstance(x, np.ndarray) for x in inputs):
        return float(result)
    return result


def _poly(z: np.ndarray, coeffs: tuple[float, ...]) -> np.ndarray:
    """coeffs[0] + z * (coeffs[1] + z * (...)), Horner's order (fixed)."""
    acc = np.full_like(z, coeffs[-1])
    for c in reversed(coeffs[:-1]):
        acc = c + z * acc
    return acc


def _reduce(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x = k * pi/2 + r with |r| <= pi/4 (about); returns (r, k mod 4)."""
    k = np.rint(x * _INV_PIO2)
    r = ((x - k * _PIO2_1) - k * _PIO2_2) - k * _PIO2_3
    return r, k.astype(np.int64) & 3


def _ksin(r: np.ndarray) -> np.ndarray:
    z = r * r
    return r + (r * z) * _poly(z, _S)


def _kcos(r: np.ndarray) -> np.ndarray:
    z = r * r
    return (1.0 - 0.5 * z) + (z * z) * _poly(z, _C)


def sin(x: Any) -> np.ndarray | float:
    """Sine (radians), the same bits on every CPU."""
    r, n = _reduce(_f64(x))
    s, c = _ksin(r), _kcos(r)
    out = np.select([n == 0, n == 1, n == 2], [s, c, -s], -c)
    return _like(out, x)


def cos(x: Any) -> np.ndarray | float:
    """Cosine (radians), the same bits on every CPU."""
    r, n = _reduce(_f64(x))
    s, c = _ksin(r), _kcos(r)
    out = np.select([n == 0, n == 1, n == 2], [c, -s, -c], s)
    return _like(out, x)


def tan(x: Any) -> np.ndarray | float:
    """Tangent (radians), the same bits on every CPU."""
    r, n = _reduce(_f64(x))
    s, c = _ksin(r), _kcos(r)
    with np.errstate(divide="ignore"):
        out = np.where((n & 1) == 0, s / c, -c / s)
    return _like(out, x)


def _atan_abs(a: np.ndarray) -> np.ndarray:
    """atan of a >= 0 (inf allowed), fdlibm's five intervals."""
    bounds = (7.0 / 16.0, 11.0 / 16.0, 19.0 / 16.0, 39.0 / 16.0)
    band = np.searchsorted(np.asarray(bounds), a, side="right").astype(np.int64) - 1
    safe = np.where(np.isfinite(a), a, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.select([band == -1, band == 0, band == 1, band == 2],
                      [a, (2.0 * safe - 1.0) / (2.0 + safe), (safe - 1.0) / (safe + 1.0),
                       (safe - 1.5) / (1.0 + 1.5 * safe)],
                      np.where(np.isinf(a), -0.0, -1.0 / np.where(a == 0, 1.0, a)))
    z = t * t
    w = z * z
    s1 = z * _poly(w, _AT[0::2])
    s2 = w * _poly(w, _AT[1::2])
    hi = np.asarray(_ATAN_HI)[np.maximum(band, 0)]
    lo = np.asarray(_ATAN_LO)[np.maximum(band, 0)]
    return np.where(band < 0, t - t * (s1 + s2), hi - ((t * (s1 + s2) - lo) - t))


def arctan(x: Any) -> np.ndarray | float:
    """Arc tangent, in (-pi/2, pi/2), the same bits on every CPU."""
    v = _f64(x)
    a = _atan_abs(np.abs(v))
    return _like(np.where(v < 0, -a, a), x)


def arctan2(y: Any, x: Any) -> np.ndarray | float:
    """The angle of (x, y), in [-pi, pi], the same bits on every CPU (0 at the origin)."""
    yy, xx = np.broadcast_arrays(_f64(y), _f64(x))
    ay, ax = np.abs(yy), np.abs(xx)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(ax == 0, np.where(ay == 0, 0.0, np.inf), ay / np.where(ax == 0, 1.0, ax))
    a = _atan_abs(ratio)
    a = np.where(xx < 0, _PI - a, a)
    return _like(np.where(yy < 0, -a, a), y, x)


def exp(x: Any) -> np.ndarray | float:
    """e**x, the same bits on every CPU (overflows to inf, underflows to 0)."""
    v = _f64(x)
    c = np.clip(v, _EXP_MIN, _EXP_MAX)
    k = np.rint(c * _INV_LN2)
    hi = c - k * _LN2_HI
    lo = k * _LN2_LO
    r = hi - lo
    z = r * r
    t = r - z * _poly(z, _P)
    y = 1.0 - ((lo - (r * t) / (2.0 - t)) - hi)
    out = np.ldexp(y, k.astype(np.int64))
    out = np.where(v > _EXP_MAX, np.inf, np.where(v < _EXP_MIN, 0.0, out))
    return _like(out, x)


def log(x: Any) -> np.ndarray | float:
    """Natural logarithm, the same bits on every CPU (-inf at 0, nan below)."""
    v = _f64(x)
    safe = np.where(v > 0, v, 1.0)
    m, e = np.frexp(safe)                     # safe = m * 2**e, m in [0.5, 1)
    low = m < _SQRT_HALF
    m = np.where(low, m * 2.0, m)             # m in [sqrt(1/2), sqrt(2))
    k = (e - low.astype(np.int64)).astype(np.float64)
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * _poly(w, _LG[1::2])
    t2 = z * _poly(w, _LG[0::2])
    hfsq = 0.5 * f * f
    out = k * _LN2_HI - ((hfsq - (s * (hfsq + (t1 + t2)) + k * _LN2_LO)) - f)
    out = np.where(v > 0, out, np.where(v == 0, -np.inf, np.nan))
    return _like(out, x)


def power(x: Any, y: Any) -> np.ndarray | float:
    """x**y for x >= 0 (exp(y log x)), the same bits on every CPU; nan for x < 0."""
    xx, yy = np.broadcast_arrays(_f64(x), _f64(y))
    pos = xx > 0
    with np.errstate(invalid="ignore"):
        out = exp(yy * log(np.where(pos, xx, 1.0)))
    out = np.where(pos, out, np.where(xx == 0, np.where(yy == 0, 1.0,
                                                         np.where(yy > 0, 0.0, np.inf)), np.nan))
    out = np.where(yy == 0, 1.0, out)
    return _like(np.asarray(out), x, y)


def cbrt(x: Any) -> np.ndarray | float:
    """Cube root (of negative numbers too), the same bits on every CPU."""
    v = _f64(x)
    a = np.abs(v)
    r = np.asarray(power(a, 1.0 / 3.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(a > 0, r - (r - a / (r * r)) / 3.0, 0.0)   # one Newton step
    return _like(np.where(v < 0, -r, r), x)


def hypot(x: Any, y: Any) -> np.ndarray | float:
    """sqrt(x*x + y*y), the same bits on every CPU (no overflow guard: sample scales)."""
    xx, yy = _f64(x), _f64(y)
    return _like(np.sqrt(xx * xx + yy * yy), x, y)


def dot(a: Any, b: Any) -> np.ndarray | float:
    """Sum over the last axis of a * b, in index order (no BLAS)."""
    aa, bb = np.broadcast_arrays(_f64(a), _f64(b))
    acc = aa[..., 0] * bb[..., 0]
    for i in range(1, aa.shape[-1]):
        acc = acc + aa[..., i] * bb[..., i]
    return _like(np.asarray(acc), a, b)


def norm(a: Any, axis: int = -1, keepdims: bool = False) -> np.ndarray | float:
    """Euclidean length along ``axis``, summed in index order (no BLAS)."""
    v = np.moveaxis(_f64(a), axis, -1)
    out = np.sqrt(np.asarray(dot(v, v)))
    if keepdims:
        out = np.expand_dims(out, axis)
    return _like(out, a)


def matmul(a: Any, b: Any) -> np.ndarray:
    """a @ b for small matrices and stacks of vectors, summed in index order (no BLAS).

    ``a`` is (..., n) or (..., m, n) and ``b`` is (n,) or (n, p), as numpy's ``@``.
    """
    aa, bb = _f64(a), _f64(b)
    if bb.ndim == 1:
        return np.asarray(_like(np.asarray(dot(aa, bb)), a, b))
    cols = [np.asarray(dot(aa, bb[:, j])) for j in range(bb.shape[1])]
    return np.asarray(_like(np.stack(cols, axis=-1), a, b))


def quantize(a: Any, step: float) -> np.ndarray:
    """Round to multiples of ``step`` (float64), with ``-0.0`` made ``0.0``."""
    q = np.rint(_f64(a) / step) * step
    return q + 0.0     # IEEE: -0.0 + 0.0 == +0.0; every other value is unchanged
