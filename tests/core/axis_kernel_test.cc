// Every activation along an axis (softmax, log_softmax, maxout) x mode x
// dtype x compiled SIMD target, against its long double reference, on shapes
// with inner == 1 and inner > 1; plus the evaluator on those activations and
// on per-channel prelu.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/activation_def.h"
#include "core/evaluation.h"
#include "core/registry.h"
#include "core/thread_pool.h"
#include "gtest/gtest.h"
#include "hwy/targets.h"
#include "tests/core/accuracy.h"
#include "tests/core/simd_targets.h"

namespace actserve {
namespace {

using testing::ForEachTarget;
using testing::kEveryTargetCompiled;
using testing::UlpError;
using testing::UlpOf;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<const ActivationDef*> AxisActivations() {
  std::vector<const ActivationDef*> out;
  for (const ActivationDef* def : AllActivations()) {
    if (def->kind != ActivationKind::kElementwise) out.push_back(def);
  }
  return out;
}

template <typename T>
const AxisKernels<T>& KernelsFor(const ActivationDef& def) {
  if constexpr (sizeof(T) == 4) {
    return def.axis_f32;
  } else {
    return def.axis_f64;
  }
}

constexpr size_t kSliceKinds = 16;

// One slice's values, by kind: random at several scales, extremes, ties,
// and the +inf, -inf and NaN cases.
template <typename T>
std::vector<double> SliceValues(size_t k, size_t slice, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(-1, 1);
  std::vector<double> v(k);
  const int kind = static_cast<int>(slice % kSliceKinds);
  for (size_t i = 0; i < k; ++i) {
    switch (kind) {
      case 0:
      case 1:
        v[i] = 10 * unit(rng);
        break;
      case 2:  // spread past exp's range: most elements underflow
        v[i] = (sizeof(T) == 4 ? 120 : 800) * unit(rng);
        break;
      case 3:  // one element dominates: y_max = 1 - tiny
        v[i] = i == k / 2 ? 0 : -30 - 600 * (unit(rng) + 1) / 2;
        break;
      case 4:  // huge magnitudes
        v[i] = 1e30 * unit(rng);
        break;
      case 5:  // near a huge value: x - max cancels
        v[i] = 1e6 + unit(rng);
        break;
      case 6:  // ties
        v[i] = std::round(2 * unit(rng));
        break;
      case 7:  // all equal (the case: 1 - y = 0 exactly)
        v[i] = -3.2366841587980244;
        break;
      case 15:  // equal but for the last bits: y nearly 1 / k, inexact
        v[i] = 0.75 + 1e-6 * unit(rng);
        break;
      default:
        v[i] = 3 * unit(rng);
        break;
    }
  }
  switch (kind) {
    case 8:
      v[k / 3] = -kInf;
      break;
    case 9:  // one +inf: the limit
      v[k - 1] = kInf;
      break;
    case 10:
      v[k / 2] = kNaN;
      break;
    case 11:
      std::fill(v.begin(), v.end(), -kInf);
      break;
    case 12:  // two +inf (one where k == 1): NaN
      v[0] = kInf;
      v[k - 1] = kInf;
      break;
    case 13:  // +inf and NaN: NaN
      v[k / 2] = kInf;
      v[k - 1] = kNaN;
      break;
    case 14:  // one +inf among -inf: the limit
      std::fill(v.begin(), v.end(), -kInf);
      v[k / 3] = kInf;
      break;
  }
  return v;
}

// One slice's upstream gradient, by a kind drawn at random: moderate, every
// magnitude from T's smallest subnormal to 1e30 with both signs, all equal
// (softmax's backward is then exactly 0) or equal but for the last bits.
template <typename T>
std::vector<double> SliceGradient(size_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> exponent(
      std::log2(std::numeric_limits<T>::denorm_min()), std::log2(1e30));
  std::uniform_real_distribution<double> unit(-1, 1);
  const auto any = [&] {
    return std::copysign(std::exp2(exponent(rng)), unit(rng));
  };
  std::vector<double> g(n);
  const double common = any();
  const int kind = static_cast<int>(rng() % 4);
  for (double& v : g) {
    switch (kind) {
      case 0:
        v = 2 * unit(rng);
        break;
      case 1:
        v = any();
        break;
      case 2:
        v = common;
        break;
      default:
        v = common * (1 + std::ldexp(unit(rng), -20));
        break;
    }
  }
  return g;
}

struct Shape {
  size_t outer, axis_len, inner;
};

// A tensor [outer, K, inner] and its slices gathered to contiguous vectors.
template <typename T>
struct Case {
  SliceShape shape;
  std::vector<T> x;
  std::vector<T> g;  // shaped like the forward output

  size_t Slices() const { return shape.outer * shape.inner; }
  size_t OutLen() const { return shape.axis_len / shape.pieces; }
  // Element i of slice s in a [outer, len, inner] tensor.
  size_t At(size_t s, size_t i, size_t len) const {
    return (s / shape.inner * len + i) * shape.inner + s % shape.inner;
  }
  std::vector<long double> Gather(const std::vector<T>& t, size_t s,
                                  size_t len) const {
    std::vector<long double> out(len);
    for (size_t i = 0; i < len; ++i) out[i] = t[At(s, i, len)];
    return out;
  }
};

template <typename T>
Case<T> MakeCase(const Shape& sh, size_t pieces, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Case<T> c;
  c.shape = {sh.outer, sh.axis_len, sh.inner, pieces};
  c.x.resize(sh.outer * sh.axis_len * sh.inner);
  for (size_t s = 0; s < c.Slices(); ++s) {
    const std::vector<double> v = SliceValues<T>(sh.axis_len, s, rng);
    for (size_t i = 0; i < sh.axis_len; ++i) {
      c.x[c.At(s, i, sh.axis_len)] = static_cast<T>(v[i]);
    }
  }
  c.g.resize(c.Slices() * c.OutLen());
  for (size_t s = 0; s < c.Slices(); ++s) {
    const std::vector<double> g = SliceGradient<T>(c.OutLen(), rng);
    for (size_t i = 0; i < g.size(); ++i) {
      c.g[c.At(s, i, c.OutLen())] = static_cast<T>(g[i]);
    }
  }
  return c;
}

// The dense Jacobian of one slice, [out_len, K], from the reference.
std::vector<long double> ReferenceJacobian(const ActivationDef& def,
                                           const std::vector<long double>& x,
                                           size_t pieces) {
  const size_t k = x.size();
  if (def.kind == ActivationKind::kAlongAxis) {
    std::vector<long double> jac(k * k);
    def.axis_reference.derivative(x.data(), jac.data(), k, pieces);
    return jac;
  }
  std::vector<long double> mask(k);
  def.axis_reference.derivative(x.data(), mask.data(), k, pieces);
  std::vector<long double> jac(k / pieces * k, 0);
  for (size_t j = 0; j < k; ++j) jac[j / pieces * k + j] = mask[j];
  return jac;
}

// A backward result against its declared bound: `ulp` ULP of the exact
// value plus `cancel_ulp` ULP of the terms' scale sum_i |g_i J[i][j]|.
struct BackwardError {
  long double relative;  // the error less the cancellation allowance, in ULP
  long double cancel;    // the error less the relative allowance, in ULP of
                         // the scale
  bool within;
};

template <typename T>
BackwardError CheckBackward(T got, long double ref, long double scale,
                            double ulp, double cancel_ulp) {
  const long double err = UlpError<T>(got, ref);
  if (std::isnan(ref) || std::isnan(got) || std::isinf(ref) ||
      std::isinf(got) || std::isinf(err)) {
    return {err, err, err == 0};
  }
  const long double abs_err = std::fabs(got - ref);
  const long double ref_ulp = UlpOf<T>(ref), scale_ulp = UlpOf<T>(scale);
  return {std::max(0.0L, (abs_err - cancel_ulp * scale_ulp) / ref_ulp),
          std::max(0.0L, (abs_err - ulp * ref_ulp) / scale_ulp),
          abs_err <= ulp * ref_ulp + cancel_ulp * scale_ulp};
}

// A declared figure is stale when the sweep's worst case uses less than
// 1 / slack of it. The relative ULP figures are measured maxima, and the
// sweeps reach each function's worst region (exponent underflow, ties,
// dominance): slack 2. The cancellation figures are derived bounds (the
// error of p times the terms, see core/kernels/softmax-inl.h), whose worst
// case needs every element's rounding to align: in double these sweeps
// reach 1.2 to 1.6 ULP of the terms against a declared 4.5, and a one-off
// run of 2e5 slices cancelled the same way reached 2.1: slack 4. In float the
// figure is not checked for staleness: its part of the error shows only
// where the exact result is below ~2^-47 of the terms, which a float g
// rarely allows (rounding g_j to float leaves ~2^-24 of them); the 2e5
// slices reached 2.9e-9 ULP against a declared 8e-9.
void ExpectNotStale(const char* what, double declared, long double measured,
                    double slack) {
  if (!kEveryTargetCompiled) return;
  EXPECT_LE(declared, slack * measured)
      << what << ": declared " << declared << ", measured at most "
      << static_cast<double>(measured) << "; update the activation's file";
}

// In every third slice of a softmax-like case, g at one element j is set
// so that the exact gx_j = sum_i g_i J[i][j] is about 0: the deepest
// cancellation, with p inexact (the backward's worst case).
template <typename T>
void CancelSomeResults(const ActivationDef& def, Case<T>& c) {
  const size_t k = c.shape.axis_len;
  // Every third: across the slices every kind of SliceValues comes up.
  for (size_t s = 2; s < c.Slices(); s += 3) {
    const std::vector<long double> xs = c.Gather(c.x, s, k);
    const std::vector<long double> gs = c.Gather(c.g, s, k);
    const std::vector<long double> jac = ReferenceJacobian(def, xs, 1);
    const size_t j = s / 3 % k;
    long double others = 0;
    for (size_t i = 0; i < k; ++i) {
      if (i != j) others += gs[i] * jac[i * k + j];
    }
    // Within the range of g the sweeps promise (a dominant j has a tiny
    // J[j][j]).
    const T g_j = static_cast<T>(-others / jac[j * k + j]);
    if (std::fabs(g_j) <= 1e30) c.g[c.At(s, j, k)] = g_j;
  }
}

std::vector<Shape> TestShapes(bool with_large) {
  std::vector<Shape> shapes;
  // inner == 1: lengths around every target's lane count, and long slices.
  for (size_t k : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 1000}) {
    shapes.push_back({13, k, 1});
  }
  // inner > 1: vectors over inner, full and partial.
  for (size_t inner : {2, 3, 7, 8, 9, 17}) {
    for (size_t k : {1, 2, 5, 24}) shapes.push_back({3, k, inner});
  }
  if (with_large) {
    shapes.push_back({4, 1500, 1});
    shapes.push_back({1, 130, 12});
  }
  return shapes;
}

class AxisKernelTest : public ::testing::TestWithParam<const ActivationDef*> {
 protected:
  const ActivationDef& def() const { return *GetParam(); }

  // Grouped activations run pieces of 2 and 3 unless `pieces` is given.
  template <typename T>
  void CheckShapes(size_t fixed_pieces = 0) {
    const ActivationDef& d = def();
    const AxisKernels<T>& kern = KernelsFor<T>(d);
    const double tolerance =
        sizeof(T) == 4 ? d.accuracy.ulp_f32 : d.accuracy.ulp_f64;
    const bool grouped = d.kind == ActivationKind::kGrouped;
    std::vector<Shape> shapes = TestShapes(/*with_large=*/fixed_pieces == 0);
    if (fixed_pieces != 0) {
      // The checks are quadratic in the axis length: the extra runs keep to
      // short axes (still hundreds of groups per tensor).
      shapes.erase(
          std::remove_if(shapes.begin(), shapes.end(),
                         [](const Shape& sh) { return sh.axis_len > 64; }),
          shapes.end());
    }
    if (grouped) {
      for (Shape& sh : shapes) {
        sh.axis_len *= fixed_pieces != 0 ? fixed_pieces : 2 + sh.axis_len % 2;
      }
    }
    const double cancel_tolerance = sizeof(T) == 4
                                        ? d.accuracy.backward_cancel_ulp_f32
                                        : d.accuracy.backward_cancel_ulp_f64;
    long double worst_all = 0, worst_cancel_all = 0;
    ForEachTarget([&](const char* target) {
      long double worst[3] = {0, 0, 0}, worst_cancel = 0;
      uint64_t seed = 1;
      for (const Shape& sh : shapes) {
        const size_t pieces = !grouped               ? size_t{1}
                              : fixed_pieces != 0    ? fixed_pieces
                              : sh.axis_len % 3 == 0 ? 3
                                                     : 2;
        Case<T> c = MakeCase<T>(sh, pieces, seed++);
        if (!grouped) CancelSomeResults(d, c);
        const size_t k = sh.axis_len, out_len = c.OutLen();
        std::vector<T> y(c.Slices() * out_len), gx(c.x.size());
        const size_t deriv_len = grouped ? k : k * k;
        std::vector<T> dy(c.Slices() * deriv_len);
        kern.forward(c.x.data(), y.data(), c.shape);
        kern.derivative(c.x.data(), dy.data(), c.shape);
        kern.backward(c.x.data(), c.g.data(), gx.data(), c.shape);
        for (size_t s = 0; s < c.Slices(); ++s) {
          const std::vector<long double> xs = c.Gather(c.x, s, k);
          const std::vector<long double> gs = c.Gather(c.g, s, out_len);
          std::vector<long double> ref_y(out_len);
          d.axis_reference.forward(xs.data(), ref_y.data(), k, pieces);
          const std::vector<long double> jac = ReferenceJacobian(d, xs, pieces);
          const auto fail = [&](const char* mode, size_t i, T got,
                                long double ref, long double err) {
            ADD_FAILURE() << d.name << " " << mode << " "
                          << (sizeof(T) == 4 ? "f32" : "f64") << " shape ["
                          << sh.outer << ", " << k << ", " << sh.inner
                          << "] slice " << s << " (kind " << s % kSliceKinds
                          << ") element " << i << ": got " << got << " want "
                          << static_cast<double>(ref) << ", "
                          << static_cast<double>(err) << " ulp";
          };
          for (size_t i = 0; i < out_len; ++i) {
            const T got = y[c.At(s, i, out_len)];
            const long double err = UlpError<T>(got, ref_y[i]);
            worst[0] = std::max(worst[0], err);
            if (err > tolerance) return fail("forward", i, got, ref_y[i], err);
          }
          for (size_t i = 0; i < deriv_len; ++i) {
            const T got = grouped ? dy[c.At(s, i, k)] : dy[s * deriv_len + i];
            const long double ref = grouped ? jac[i / pieces * k + i] : jac[i];
            const long double err = UlpError<T>(got, ref);
            worst[1] = std::max(worst[1], err);
            if (err > tolerance) return fail("derivative", i, got, ref, err);
          }
          // Backward against J^T g, with the allowance for cancellation.
          for (size_t j = 0; j < k; ++j) {
            long double ref = 0, scale = 0;
            for (size_t i = 0; i < out_len; ++i) {
              ref += gs[i] * jac[i * k + j];
              scale += std::fabs(gs[i] * jac[i * k + j]);
            }
            const T got = gx[c.At(s, j, k)];
            const BackwardError err =
                CheckBackward<T>(got, ref, scale, tolerance, cancel_tolerance);
            worst[2] = std::max(worst[2], err.relative);
            worst_cancel = std::max(worst_cancel, err.cancel);
            if (!err.within) {
              return fail("backward", j, got, ref, err.relative);
            }
          }
        }
      }
      std::printf(
          "[ measured ] %s %s %s: forward %.2f, derivative %.2f, "
          "backward %.2f ulp, cancelling backward %.3g ulp of the terms\n",
          std::string(d.name).c_str(), target, sizeof(T) == 4 ? "f32" : "f64",
          static_cast<double>(worst[0]), static_cast<double>(worst[1]),
          static_cast<double>(worst[2]), static_cast<double>(worst_cancel));
      worst_all = std::max({worst_all, worst[0], worst[1], worst[2]});
      worst_cancel_all = std::max(worst_cancel_all, worst_cancel);
    });
    ExpectNotStale("ulp", tolerance, worst_all, 2);
    if (sizeof(T) == 8) {
      ExpectNotStale("backward_cancel_ulp", cancel_tolerance, worst_cancel_all,
                     4);
    }
  }
};

TEST_P(AxisKernelTest, ShapesFloat32) { CheckShapes<float>(); }
TEST_P(AxisKernelTest, ShapesFloat64) { CheckShapes<double>(); }

// maxout's groups of 4 (one vector per piece where inner == 1).
class GroupedKernelTest : public AxisKernelTest {};

TEST_P(GroupedKernelTest, PiecesOfFour) {
  ASSERT_EQ(def().kind, ActivationKind::kGrouped);
  CheckShapes<float>(4);
  CheckShapes<double>(4);
}

// The cases of issue 9, exactly: limits at one +inf, and backward results
// whose exact value is far from zero although g_j nearly equals the slice's
// weighted mean (relative error, no cancellation allowance: p is exact
// there).
TEST(SoftmaxFamily, LimitsAtOnePlusInfinity) {
  const ActivationDef& softmax = *FindActivation("softmax");
  const ActivationDef& log_softmax = *FindActivation("log_softmax");
  const auto forward = [](const ActivationDef& def, std::vector<float> x) {
    std::vector<float> y(x.size());
    def.axis_f32.forward(x.data(), y.data(), {1, x.size(), 1, 1});
    return y;
  };
  const float inf = std::numeric_limits<float>::infinity();
  ForEachTarget([&](const char*) {
    EXPECT_EQ(forward(softmax, {inf, -1, 0}), (std::vector<float>{1, 0, 0}));
    EXPECT_EQ(forward(softmax, {inf}), std::vector<float>{1});
    EXPECT_EQ(forward(log_softmax, {inf, -inf, 0}),
              (std::vector<float>{0, -inf, -inf}));
    // log_softmax's backward there: g off the +inf, minus the others' sum
    // on it.
    const std::vector<float> x = {2, inf, -inf}, g = {0.5f, 3, -1.25f};
    std::vector<float> gx(3);
    log_softmax.axis_f32.backward(x.data(), g.data(), gx.data(), {1, 3, 1, 1});
    EXPECT_EQ(gx, (std::vector<float>{0.5f, 0.75f, -1.25f}));
    softmax.axis_f32.backward(x.data(), g.data(), gx.data(), {1, 3, 1, 1});
    EXPECT_EQ(gx, (std::vector<float>{0, 0, 0}));
  });
}

TEST(SoftmaxFamily, BackwardOfEqualEntriesIsRelativelyAccurate) {
  const ActivationDef& log_softmax = *FindActivation("log_softmax");
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> dist(-1, 1);
  const std::vector<double> x64(8, -3.2366841587980244);
  std::vector<double> g64(8);
  for (double& v : g64) v = dist(rng);
  const std::vector<float> x32 = {-4.9476094f, -4.9476094f};
  const std::vector<float> g32 = {-0.5064315f, -0.52888405f};
  ForEachTarget([&](const char*) {
    std::vector<double> gx64(8);
    log_softmax.axis_f64.backward(x64.data(), g64.data(), gx64.data(),
                                  {1, 8, 1, 1});
    long double mean = 0;
    for (double v : g64) mean += v / 8.0L;
    for (size_t i = 0; i < 8; ++i) {
      EXPECT_LE(UlpError<double>(gx64[i], g64[i] - mean),
                log_softmax.accuracy.ulp_f64)
          << i;
    }
    std::vector<float> gx32(2);
    log_softmax.axis_f32.backward(x32.data(), g32.data(), gx32.data(),
                                  {1, 2, 1, 1});
    const long double half_diff =
        (static_cast<long double>(g32[0]) - g32[1]) / 2;
    EXPECT_LE(UlpError<float>(gx32[0], half_diff),
              log_softmax.accuracy.ulp_f32);
    EXPECT_LE(UlpError<float>(gx32[1], -half_diff),
              log_softmax.accuracy.ulp_f32);
  });
}

// Forward on long slices (the Jacobian would not fit: 4097^2 per slice).
TEST_P(AxisKernelTest, LongSlices) {
  const ActivationDef& d = def();
  const bool grouped = d.kind == ActivationKind::kGrouped;
  const size_t k = grouped ? 4098 : 4097, pieces = grouped ? 2 : 1;
  const Case<float> c32 = MakeCase<float>({24, k, 1}, pieces, 99);
  const Case<double> c64 = MakeCase<double>({24, k, 1}, pieces, 99);
  ForEachTarget([&](const char*) {
    std::vector<float> y32(c32.Slices() * c32.OutLen());
    std::vector<double> y64(y32.size());
    d.axis_f32.forward(c32.x.data(), y32.data(), c32.shape);
    d.axis_f64.forward(c64.x.data(), y64.data(), c64.shape);
    std::vector<long double> ref(c32.OutLen());
    for (size_t s = 0; s < c32.Slices(); ++s) {
      const std::vector<long double> x32 = c32.Gather(c32.x, s, k);
      d.axis_reference.forward(x32.data(), ref.data(), k, pieces);
      for (size_t i = 0; i < ref.size(); ++i) {
        ASSERT_LE(UlpError<float>(y32[s * ref.size() + i], ref[i]),
                  d.accuracy.ulp_f32)
            << d.name << " slice " << s << " element " << i;
      }
      const std::vector<long double> x64 = c64.Gather(c64.x, s, k);
      d.axis_reference.forward(x64.data(), ref.data(), k, pieces);
      for (size_t i = 0; i < ref.size(); ++i) {
        ASSERT_LE(UlpError<double>(y64[s * ref.size() + i], ref[i]),
                  d.accuracy.ulp_f64)
            << d.name << " slice " << s << " element " << i;
      }
    }
  });
}

// The reference backward is the product with the reference Jacobian.
TEST_P(AxisKernelTest, ReferenceBackwardIsJacobianProduct) {
  const ActivationDef& d = def();
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> dist(-3, 3);
  for (size_t k : {1, 2, 6, 30}) {
    const size_t pieces = d.kind == ActivationKind::kGrouped ? 3 : 1;
    if (k % pieces != 0) continue;
    std::vector<long double> x(k), g(k / pieces), gx(k);
    for (long double& v : x) v = dist(rng);
    for (long double& v : g) v = dist(rng);
    d.axis_reference.backward(x.data(), g.data(), gx.data(), k, pieces);
    const std::vector<long double> jac = ReferenceJacobian(d, x, pieces);
    for (size_t j = 0; j < k; ++j) {
      long double want = 0;
      for (size_t i = 0; i < g.size(); ++i) want += g[i] * jac[i * k + j];
      EXPECT_NEAR(static_cast<double>(gx[j]), static_cast<double>(want), 1e-15)
          << d.name << " k=" << k << " j=" << j;
    }
  }
}

// The reference Jacobian against central differences of the reference
// forward (random slices have no ties, so maxout is smooth there too).
TEST_P(AxisKernelTest, ReferenceJacobianMatchesFiniteDifference) {
  const ActivationDef& d = def();
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> dist(-4, 4);
  for (size_t k : {1, 2, 6, 12}) {
    const size_t pieces = d.kind == ActivationKind::kGrouped ? 2 : 1;
    if (k % pieces != 0) continue;
    std::vector<long double> x(k);
    for (long double& v : x) v = dist(rng);
    const std::vector<long double> jac = ReferenceJacobian(d, x, pieces);
    const size_t out_len = k / pieces;
    std::vector<long double> up(out_len), down(out_len);
    const long double h = 1e-6L;
    for (size_t j = 0; j < k; ++j) {
      std::vector<long double> xp = x, xm = x;
      xp[j] += h;
      xm[j] -= h;
      d.axis_reference.forward(xp.data(), up.data(), k, pieces);
      d.axis_reference.forward(xm.data(), down.data(), k, pieces);
      for (size_t i = 0; i < out_len; ++i) {
        EXPECT_NEAR(static_cast<double>((up[i] - down[i]) / (2 * h)),
                    static_cast<double>(jac[i * k + j]), 1e-8)
            << d.name << " k=" << k << " J[" << i << "][" << j << "]";
      }
    }
  }
}

// Through the evaluator, every mode gives the same bytes on 1 and 2 threads
// (blocks of whole rows, several per tensor here).
TEST_P(AxisKernelTest, EvaluationIsThreadCountIndependent) {
  const ActivationDef& d = def();
  ThreadPool pool1(0), pool2(1);  // 1 and 2 threads with the caller
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{96, 300}, std::vector<int64_t>{40, 6, 90}}) {
    for (Mode mode : {Mode::kForward, Mode::kDerivative, Mode::kBackward}) {
      EvaluationRequest request;
      request.activation = std::string(d.name);
      request.mode = mode;
      request.shape = shape;
      if (shape.size() == 3) request.params.axis = 1;
      absl::StatusOr<Evaluation> e = Evaluation::Create(request);
      ASSERT_TRUE(e.ok()) << e.status();
      std::mt19937_64 rng(8);
      std::uniform_real_distribution<float> dist(-20, 20);
      std::vector<float> x(e->input_elements()), g(e->grad_elements());
      for (float& v : x) v = dist(rng);
      for (float& v : g) v = dist(rng);
      std::vector<float> out1(e->output_elements()), out2(out1.size(), 7);
      ASSERT_TRUE(
          e->RunAll(x.data(), g.data(), out1.data(), nullptr, pool1).ok());
      ASSERT_TRUE(
          e->RunAll(x.data(), g.data(), out2.data(), nullptr, pool2).ok());
      EXPECT_TRUE(testing::SameBytes(out1.data(), out2.data(),
                                     out1.size() * sizeof(float)))
          << d.name << " " << ModeName(mode);
    }
  }
}

std::vector<const ActivationDef*> GroupedActivations() {
  std::vector<const ActivationDef*> out;
  for (const ActivationDef* def : AxisActivations()) {
    if (def->kind == ActivationKind::kGrouped) out.push_back(def);
  }
  return out;
}

std::string NameOf(const ::testing::TestParamInfo<const ActivationDef*>& info) {
  return std::string(info.param->name);
}

INSTANTIATE_TEST_SUITE_P(Registry, AxisKernelTest,
                         ::testing::ValuesIn(AxisActivations()), NameOf);
INSTANTIATE_TEST_SUITE_P(Registry, GroupedKernelTest,
                         ::testing::ValuesIn(GroupedActivations()), NameOf);

// Per-channel prelu through the evaluator: each channel's slope, and the
// alpha gradient summed per channel, against long double.
TEST(PerChannelPrelu, MatchesReference) {
  const std::vector<double> alphas = {0.1, -0.2, 0.3, 0, 2.5};
  struct Layout {
    std::vector<int64_t> shape;
    std::optional<int64_t> axis;
    size_t channels, inner;
  };
  const Layout layouts[] = {{{2, 5, 3, 4}, std::nullopt, 5, 12},
                            {{7, 3, 5}, -1, 5, 1},
                            {{5, 4000}, 0, 5, 4000}};
  ThreadPool pool(2);
  for (const Layout& layout : layouts) {
    const std::vector<double> slopes(alphas.begin(),
                                     alphas.begin() + layout.channels);
    EvaluationRequest request;
    request.activation = "prelu";
    request.params.channel_alpha = slopes;
    request.params.axis = layout.axis;
    request.shape = layout.shape;
    request.dtype = DType::kFloat64;
    request.mode = Mode::kBackward;
    absl::StatusOr<Evaluation> e = Evaluation::Create(request);
    ASSERT_TRUE(e.ok()) << e.status();
    std::mt19937_64 rng(9);
    std::uniform_real_distribution<double> dist(-5, 5);
    std::vector<double> x(e->input_elements()), g(x.size()), gx(x.size());
    for (double& v : x) v = dist(rng);
    for (double& v : g) v = dist(rng);
    std::vector<ParameterGradient> grads = e->NewParameterGradients();
    ASSERT_EQ(grads.size(), 1u);
    EXPECT_EQ(grads[0].shape,
              std::vector<int64_t>{static_cast<int64_t>(layout.channels)});
    ASSERT_TRUE(e->RunAll(x.data(), g.data(), gx.data(), &grads, pool).ok());
    std::vector<long double> want(layout.channels, 0);
    for (size_t i = 0; i < x.size(); ++i) {
      const size_t channel = i / layout.inner % layout.channels;
      // One double multiply, as the kernel: exactly its bits.
      ASSERT_EQ(gx[i], x[i] > 0 ? g[i] : g[i] * slopes[channel])
          << "element " << i;
      if (x[i] <= 0) want[channel] += static_cast<long double>(g[i]) * x[i];
    }
    for (size_t c = 0; c < layout.channels; ++c) {
      EXPECT_NEAR(grads[0].values[c], static_cast<double>(want[c]),
                  1e-12 * std::fabs(static_cast<double>(want[c])))
          << "channel " << c;
    }

    request.mode = Mode::kForward;
    request.dtype = DType::kFloat32;
    e = Evaluation::Create(request);
    ASSERT_TRUE(e.ok()) << e.status();
    std::vector<float> xf(x.begin(), x.end()), y(xf.size());
    ASSERT_TRUE(e->RunAll(xf.data(), nullptr, y.data(), nullptr, pool).ok());
    for (size_t i = 0; i < xf.size(); ++i) {
      const long double a = slopes[i / layout.inner % layout.channels];
      const long double ref = xf[i] > 0 ? xf[i] : a * xf[i];
      ASSERT_LE(UlpError<float>(y[i], ref),
                FindActivation("prelu")->accuracy.ulp_f32)
          << "element " << i;
    }
  }
}

TEST(PerChannelPrelu, RejectsMismatchedChannels) {
  EvaluationRequest request;
  request.activation = "prelu";
  request.params.channel_alpha = {0.1, 0.2};
  request.shape = {4, 3};
  absl::StatusOr<Evaluation> e = Evaluation::Create(request);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("activation.channel_alpha"),
            std::string::npos)
      << e.status();
}

TEST(Hardtanh, RejectsMinNotBelowMax) {
  EvaluationRequest request;
  request.activation = "hardtanh";
  request.params.min = 2;
  request.params.max = 2;
  request.shape = {3};
  absl::StatusOr<Evaluation> e = Evaluation::Create(request);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(e.status().message().rfind("activation.min: ", 0), 0u)
      << e.status();
  request.params.max = 2.5;
  EXPECT_TRUE(Evaluation::Create(request).ok());
}

}  // namespace
}  // namespace actserve
