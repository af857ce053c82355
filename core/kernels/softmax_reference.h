#ifndef ACTSERVE_CORE_KERNELS_SOFTMAX_REFERENCE_H_
#define ACTSERVE_CORE_KERNELS_SOFTMAX_REFERENCE_H_

// long double references for softmax and log_softmax on one contiguous
// slice, with the same care as the kernels (core/kernels/softmax-inl.h):
// x - max kept exactly, compensated sums, log1p and R / S where one element
// dominates. Extended precision alone would not do: 1 - y_max and log S
// cancel for any precision once the other elements are small enough.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace actserve::softmax_reference {

struct Slice {
  bool bad = false;      // NaN, several +inf or only -inf: every output is NaN
  long double rest = 0;  // R: sum of exp(x - max) below the max
  long double sum = 0;   // S = c + R
  long double log_sum = 0;
  std::vector<long double> d_hi, d_lo, p, q;  // q = 1 - p
};

inline Slice Analyze(const long double* x, size_t k) {
  Slice s;
  long double m = -std::numeric_limits<long double>::infinity();
  for (size_t i = 0; i < k; ++i) {
    if (std::isnan(x[i])) s.bad = true;
    if (x[i] > m) m = x[i];
  }
  if (!s.bad && m == std::numeric_limits<long double>::infinity() &&
      std::count(x, x + k, m) == 1) {
    // The limit x_k -> +inf (see core/kernels/softmax-inl.h): p is the
    // indicator of the +inf, log S - max tends to 0.
    s.sum = 1;
    s.d_hi.assign(k, -std::numeric_limits<long double>::infinity());
    s.d_lo.assign(k, 0);
    s.p.assign(k, 0);
    s.q.assign(k, 1);
    const size_t at = std::find(x, x + k, m) - x;
    s.d_hi[at] = 0;
    s.p[at] = 1;
    s.q[at] = 0;
    return s;
  }
  if (s.bad || !std::isfinite(m)) {
    s.bad = true;
    return s;
  }
  s.d_hi.resize(k);
  s.d_lo.resize(k);
  std::vector<long double> e(k);
  long double count = 0, hi = 0, lo = 0;
  for (size_t i = 0; i < k; ++i) {
    const long double d = x[i] - m;
    const long double bb = d - x[i];
    s.d_hi[i] = d;
    s.d_lo[i] = std::isfinite(d) ? (x[i] - (d - bb)) + (-m - bb) : 0;
    e[i] = std::exp(d) * (1 + s.d_lo[i]);
    if (d == 0) {
      ++count;
      continue;
    }
    const long double t = hi + e[i];
    const long double b = t - hi;
    lo += (hi - (t - b)) + (e[i] - b);
    hi = t;
  }
  s.rest = hi + lo;
  s.sum = count + s.rest;
  const bool dominant = count == 1;
  s.log_sum = dominant ? std::log1p(s.rest) : std::log(s.sum);
  s.p.resize(k);
  s.q.resize(k);
  for (size_t i = 0; i < k; ++i) {
    s.p[i] = e[i] / s.sum;
    s.q[i] = dominant && s.d_hi[i] == 0 ? s.rest / s.sum : 1 - s.p[i];
  }
  return s;
}

constexpr long double kNaN = std::numeric_limits<long double>::quiet_NaN();

inline void SoftmaxForward(const long double* x, long double* y, size_t k,
                           size_t) {
  const Slice s = Analyze(x, k);
  for (size_t i = 0; i < k; ++i) y[i] = s.bad ? kNaN : s.p[i];
}

inline void LogSoftmaxForward(const long double* x, long double* y, size_t k,
                              size_t) {
  const Slice s = Analyze(x, k);
  for (size_t i = 0; i < k; ++i) {
    y[i] = s.bad ? kNaN : (s.d_hi[i] - s.log_sum) + s.d_lo[i];
  }
}

// J[i][j] = dy_i / dx_j.
inline void SoftmaxJacobian(const long double* x, long double* jac, size_t k,
                            size_t) {
  const Slice s = Analyze(x, k);
  for (size_t i = 0; i < k; ++i) {
    for (size_t j = 0; j < k; ++j) {
      jac[i * k + j] = s.bad    ? kNaN
                       : i == j ? s.p[i] * s.q[i]
                                : -s.p[i] * s.p[j];
    }
  }
}

inline void LogSoftmaxJacobian(const long double* x, long double* jac, size_t k,
                               size_t) {
  const Slice s = Analyze(x, k);
  for (size_t i = 0; i < k; ++i) {
    for (size_t j = 0; j < k; ++j) {
      jac[i * k + j] = s.bad ? kNaN : i == j ? s.q[i] : -s.p[j];
    }
  }
}

// gx_j = sum_i g_i J[i][j], term by term in long double.
inline void SoftmaxBackward(const long double* x, const long double* g,
                            long double* gx, size_t k, size_t) {
  const Slice s = Analyze(x, k);
  for (size_t j = 0; j < k; ++j) {
    if (s.bad) {
      gx[j] = kNaN;
      continue;
    }
    long double sum = g[j] * s.p[j] * s.q[j];
    for (size_t i = 0; i < k; ++i) {
      if (i != j) sum -= g[i] * s.p[i] * s.p[j];
    }
    gx[j] = sum;
  }
}

inline void LogSoftmaxBackward(const long double* x, const long double* g,
                               long double* gx, size_t k, size_t) {
  const Slice s = Analyze(x, k);
  for (size_t j = 0; j < k; ++j) {
    if (s.bad) {
      gx[j] = kNaN;
      continue;
    }
    long double sum = g[j] * s.q[j];
    for (size_t i = 0; i < k; ++i) {
      if (i != j) sum -= g[i] * s.p[j];
    }
    gx[j] = sum;
  }
}

}  // namespace actserve::softmax_reference

#endif  // ACTSERVE_CORE_KERNELS_SOFTMAX_REFERENCE_H_
