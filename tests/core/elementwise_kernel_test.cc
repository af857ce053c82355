// Every elementwise activation x mode x dtype x compiled SIMD target, against
// its long double reference, with the tolerance its file declares.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/activation_def.h"
#include "core/evaluation.h"
#include "core/registry.h"
#include "gtest/gtest.h"
#include "hwy/targets.h"
#include "tests/core/accuracy.h"
#include "tests/core/simd_targets.h"

namespace actserve {
namespace {

using testing::ForEachTarget;
using testing::kEveryTargetCompiled;
using testing::UlpError;

std::vector<const ActivationDef*> ElementwiseActivations() {
  std::vector<const ActivationDef*> out;
  for (const ActivationDef* def : AllActivations()) {
    if (def->kind == ActivationKind::kElementwise) out.push_back(def);
  }
  return out;
}

// Defaults first, then the activation's extra test sets.
std::vector<KernelParams> ParamSets(const ActivationDef& def) {
  std::vector<KernelParams> sets;
  std::vector<ActivationParams> given = {ActivationParams{}};
  given.insert(given.end(), def.test_params.begin(), def.test_params.end());
  for (const ActivationParams& params : given) {
    EvaluationRequest request;
    request.activation = std::string(def.name);
    request.params = params;
    request.params.channel_alpha.clear();
    absl::StatusOr<Evaluation> e = Evaluation::Create(request);
    EXPECT_TRUE(e.ok()) << e.status();
    if (e.ok()) sets.push_back(e->kernel_params());
  }
  return sets;
}

// Inputs across the whole finite range of T: a dense middle, the tails where
// f' underflows (|x| up to 200 in float32, 1500 in float64, beyond which
// g f' rounds to 0 for every finite g), log-uniform magnitudes out to the
// largest finite value, points next to each root window's centre, and the
// edges themselves.
// Where dense sweeps of millions of points (quoted next to each bound) found
// a worst case this sweep would rarely hit: sampled densely, so that the
// stale-bound check sees it. celu at alpha = -1.5 and -1.2: z = x / alpha
// just above ln2 / 2, where expm1(z) = 2 (1 + p) - 1 cancels.
struct HotInterval {
  absl::string_view activation;
  double lo, hi;
};
constexpr HotInterval kHotIntervals[] = {{"celu", -0.54, -0.51},
                                         {"celu", -0.432, -0.408}};

template <typename T>
std::vector<T> SweepInputs(uint32_t seed,
                           const std::vector<AbsErrorWindow>& windows = {},
                           absl::string_view activation = "") {
  std::mt19937_64 rng(seed);
  std::vector<T> xs;
  std::uniform_real_distribution<double> middle(-30, 30);
  for (int i = 0; i < 60000; ++i) xs.push_back(static_cast<T>(middle(rng)));
  std::uniform_real_distribution<double> small(-2, 2);
  for (int i = 0; i < 30000; ++i) xs.push_back(static_cast<T>(small(rng)));
  std::uniform_real_distribution<double> tails(sizeof(T) == 4 ? -200 : -1500,
                                               sizeof(T) == 4 ? 200 : 1500);
  for (int i = 0; i < 30000; ++i) xs.push_back(static_cast<T>(tails(rng)));
  const double max_log =
      std::log(static_cast<double>(std::numeric_limits<T>::max()));
  const double min_log =
      std::log(static_cast<double>(std::numeric_limits<T>::denorm_min()));
  std::uniform_real_distribution<double> log_magnitude(min_log, max_log);
  for (int i = 0; i < 60000; ++i) {
    const T m = static_cast<T>(std::exp(log_magnitude(rng)));
    xs.push_back(i % 2 == 0 ? m : -m);
  }
  // Twice the widest window: the sweep sees where the relative bound starts
  // to fail, so a window wider than needed is noticed (see CheckSweep).
  for (const AbsErrorWindow& w : windows) {
    std::uniform_real_distribution<double> near(-2 * w.half_width,
                                                2 * w.half_width);
    for (int i = 0; i < 50000; ++i) {
      xs.push_back(static_cast<T>(w.centre + near(rng)));
    }
  }
  for (const HotInterval& hot : kHotIntervals) {
    if (hot.activation != activation) continue;
    std::uniform_real_distribution<double> dense(hot.lo, hot.hi);
    for (int i = 0; i < 20000; ++i) xs.push_back(static_cast<T>(dense(rng)));
  }
  const T edges[] = {0,
                     -0.0,
                     std::numeric_limits<T>::min(),
                     -std::numeric_limits<T>::min(),
                     std::numeric_limits<T>::denorm_min(),
                     std::numeric_limits<T>::max(),
                     -std::numeric_limits<T>::max(),
                     std::numeric_limits<T>::infinity(),
                     -std::numeric_limits<T>::infinity(),
                     std::numeric_limits<T>::quiet_NaN()};
  xs.insert(xs.end(), std::begin(edges), std::end(edges));
  return xs;
}

// Upstream gradients of every magnitude: a third uniform in [-2, 2], the
// rest log-uniform from T's smallest subnormal to 1e30, both signs. Large |g|
// times a subnormal f' is where a product rounded twice shows.
template <typename T>
std::vector<T> SweepGradients(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(-2, 2);
  std::uniform_real_distribution<double> log_magnitude(
      std::log(static_cast<double>(std::numeric_limits<T>::denorm_min())),
      std::log(1e30));
  std::vector<T> gs(n);
  for (size_t i = 0; i < n; ++i) {
    const T m = static_cast<T>(std::exp(log_magnitude(rng)));
    gs[i] = i % 3 == 0 ? static_cast<T>(unit(rng)) : i % 3 == 1 ? m : -m;
  }
  return gs;
}

// The parameters as T's kernels see them: float32 kernels round them to float
// (as PyTorch casts scalars to the tensor's dtype), so the reference must too.
template <typename T>
KernelParams AsComputed(KernelParams p) {
  for (double* v : {&p.alpha, &p.beta, &p.min, &p.max, &p.threshold}) {
    *v = static_cast<T>(*v);
  }
  return p;
}

template <typename T>
double Tolerance(const ActivationDef& def) {
  return sizeof(T) == 4 ? def.accuracy.ulp_f32 : def.accuracy.ulp_f64;
}

template <typename T>
constexpr DType DTypeOf() {
  return sizeof(T) == 4 ? DType::kFloat32 : DType::kFloat64;
}

// T's windows, in the order the definition lists them.
template <typename T>
std::vector<AbsErrorWindow> WindowsFor(const ActivationDef& def) {
  std::vector<AbsErrorWindow> out;
  for (const AbsErrorWindow& w : def.accuracy.abs_error_windows) {
    if (w.dtype == DTypeOf<T>()) out.push_back(w);
  }
  return out;
}

template <typename T>
const ElementwiseKernels<T>& KernelsFor(const ActivationDef& def) {
  if constexpr (sizeof(T) == 4) {
    return def.f32;
  } else {
    return def.f64;
  }
}

class ElementwiseKernelTest
    : public ::testing::TestWithParam<const ActivationDef*> {
 protected:
  const ActivationDef& def() const { return *GetParam(); }

  // Each activation x dtype x parameter set x target against the long double
  // reference (computed once per point, outside the target loop), then the
  // declared figures against what the sweep measured. A figure is stale when
  // it is looser than the sweep needs by more than the sweep's own sampling
  // can explain: the ULP bound may exceed the measured worst case by at most
  // 1 ULP + 25% (dense sweeps of millions of points, which the comments
  // quote, find maxima up to ~20% above this sweep's), a window's half width
  // at most twice the farthest point from its centre that needed it, and its
  // absolute bound at most four times the largest error of the points that
  // needed it (50000 points spread over twice the window; errors of a few
  // ULPs of tiny values scatter more than the window's edge does).
  template <typename T>
  void CheckSweep() {
    const ActivationDef& d = def();
    const ElementwiseKernels<T>& k = KernelsFor<T>(d);
    const std::vector<AbsErrorWindow> windows = WindowsFor<T>(d);
    const std::vector<T> xs = SweepInputs<T>(42, windows, d.name);
    const std::vector<T> gs = SweepGradients<T>(xs.size(), 7);
    const double tolerance = Tolerance<T>(d);
    const char* dtype = sizeof(T) == 4 ? "f32" : "f64";
    std::vector<T> y(xs.size()), dy(xs.size()), gx(xs.size());
    std::vector<long double> refs[3];
    for (auto& r : refs) r.resize(xs.size());
    double measured = 0;
    std::vector<double> needed_width(windows.size(), 0);
    std::vector<double> seen_abs(windows.size(), 0);
    const std::vector<KernelParams> param_sets = ParamSets(d);
    for (size_t set = 0; set < param_sets.size(); ++set) {
      const KernelParams p = AsComputed<T>(param_sets[set]);
      for (size_t i = 0; i < xs.size(); ++i) {
        const long double x = xs[i];
        const long double ref_dy = d.reference.derivative(x, p);
        refs[0][i] = d.reference.forward(x, p);
        refs[1][i] = ref_dy;
        refs[2][i] = gs[i] * ref_dy;
        // NaN in gives NaN out in every mode, whatever the formula says.
        if (std::isnan(x)) refs[0][i] = refs[1][i] = refs[2][i] = x;
      }
      ForEachTarget([&](const char* target) {
        k.forward(xs.data(), y.data(), xs.size(), p);
        k.derivative(xs.data(), dy.data(), xs.size(), p);
        k.backward(xs.data(), gs.data(), gx.data(), xs.size(), p);
        long double worst[3] = {0, 0, 0};
        for (size_t i = 0; i < xs.size(); ++i) {
          const T got[3] = {y[i], dy[i], gx[i]};
          for (int m = 0; m < 3; ++m) {
            const long double err = UlpError<T>(got[m], refs[m][i]);
            // Windows are declared at default parameters, per unit |g| in
            // backward.
            const long double abs_err =
                std::fabs(got[m] - refs[m][i]) /
                (m == 2 && gs[i] != 0 ? std::fabs(gs[i]) : 1);
            bool in_window = false, covered = false;
            for (size_t w = 0; w < windows.size(); ++w) {
              const long double from_centre =
                  std::fabs(xs[i] - windows[w].centre);
              if (set != 0 || windows[w].mode != Mode(m) ||
                  from_centre > windows[w].half_width) {
                continue;
              }
              in_window = true;
              if (err > tolerance && abs_err <= windows[w].max_abs_error) {
                seen_abs[w] =
                    std::max(seen_abs[w], static_cast<double>(abs_err));
                needed_width[w] =
                    std::max(needed_width[w], static_cast<double>(from_centre));
                covered = true;
              }
            }
            if (covered) continue;
            // The ULP figures are those outside the windows.
            if (!in_window) worst[m] = std::max(worst[m], err);
            if (err > tolerance) {
              ADD_FAILURE() << d.name << " " << ModeName(Mode(m)) << " "
                            << dtype << " x=" << static_cast<double>(xs[i])
                            << " g=" << gs[i] << " alpha=" << p.alpha
                            << " beta=" << p.beta << " got=" << got[m]
                            << " ref=" << static_cast<double>(refs[m][i])
                            << " err=" << static_cast<double>(err) << " ulp";
              return;
            }
          }
        }
        std::printf(
            "[ measured ] %s %s %s set %zu: forward %.2f, derivative %.2f, "
            "backward %.2f ulp\n",
            std::string(d.name).c_str(), target, dtype, set,
            static_cast<double>(worst[0]), static_cast<double>(worst[1]),
            static_cast<double>(worst[2]));
        for (long double w : worst) {
          measured = std::max(measured, static_cast<double>(w));
        }
      });
    }
    if (HasFailure() || !kEveryTargetCompiled) return;
    EXPECT_LE(tolerance, 1.25 * measured + 1)
        << d.name << " " << dtype << ": declared " << tolerance
        << " ULP is stale, the sweep measures " << measured;
    for (size_t w = 0; w < windows.size(); ++w) {
      std::printf(
          "[ measured ] %s %s %s window at %.17g: needed half width %.3g, "
          "abs error %.3g\n",
          std::string(d.name).c_str(), dtype,
          std::string(ModeName(windows[w].mode)).c_str(), windows[w].centre,
          needed_width[w], seen_abs[w]);
      // Plus four steps of T's grid at the centre: in float32 the points
      // that need a window are a handful of representable values.
      const double grid = std::nextafter(static_cast<T>(windows[w].centre),
                                         std::numeric_limits<T>::infinity()) -
                          static_cast<T>(windows[w].centre);
      EXPECT_LE(windows[w].half_width, 2 * needed_width[w] + 4 * grid)
          << d.name << " " << dtype << " " << ModeName(windows[w].mode)
          << ": window half width " << windows[w].half_width
          << " is stale, the sweep needs " << needed_width[w];
      EXPECT_LE(windows[w].max_abs_error, 4 * seen_abs[w])
          << d.name << " " << dtype << " " << ModeName(windows[w].mode)
          << ": window bound " << windows[w].max_abs_error
          << " is stale, the sweep sees " << seen_abs[w];
    }
  }

  template <typename T>
  void CheckSpecialValues() {
    const ActivationDef& d = def();
    const ElementwiseKernels<T>& k = KernelsFor<T>(d);
    const KernelParams p = ParamSets(d)[0];
    // The table's decimal values are themselves rounded once more.
    const double tolerance = Tolerance<T>(d) + 0.5;
    ForEachTarget([&](const char*) {
      for (const SpecialValue& sv : d.special_values) {
        const T x = static_cast<T>(sv.x);
        T y, dy;
        k.forward(&x, &y, 1, p);
        k.derivative(&x, &dy, 1, p);
        EXPECT_LE(UlpError<T>(y, sv.forward), tolerance)
            << d.name << "(" << sv.x << ") = " << y << ", want " << sv.forward;
        EXPECT_LE(UlpError<T>(dy, sv.derivative), tolerance)
            << d.name << "'(" << sv.x << ") = " << dy << ", want "
            << sv.derivative;
        if (std::isnan(sv.x)) {
          const T g = 1;
          T gx;
          k.backward(&x, &g, &gx, 1, p);
          EXPECT_TRUE(std::isnan(gx)) << "backward must propagate NaN";
        }
      }
    });
  }

  // Lengths around the vector width and in place give the bits of one long
  // call.
  template <typename T>
  void CheckLengthsAndInPlace() {
    const ActivationDef& d = def();
    const ElementwiseKernels<T>& k = KernelsFor<T>(d);
    const KernelParams p = ParamSets(d)[0];
    std::vector<T> xs = SweepInputs<T>(3);
    xs.resize(1000);
    std::vector<T> gs(xs.size(), static_cast<T>(0.75));
    ForEachTarget([&](const char*) {
      std::vector<T> whole(xs.size()), whole_b(xs.size());
      k.forward(xs.data(), whole.data(), xs.size(), p);
      k.backward(xs.data(), gs.data(), whole_b.data(), xs.size(), p);
      for (size_t n : {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63,
                       64, 65, 1000}) {
        std::vector<T> part(n + 1, static_cast<T>(-123));
        k.forward(xs.data(), part.data(), n, p);
        EXPECT_TRUE(
            testing::SameBytes(part.data(), whole.data(), n * sizeof(T)))
            << "n=" << n;
        EXPECT_EQ(part[n], static_cast<T>(-123)) << "wrote past n=" << n;
        std::vector<T> in_place(xs.begin(), xs.begin() + n);
        k.forward(in_place.data(), in_place.data(), n, p);
        EXPECT_TRUE(
            testing::SameBytes(in_place.data(), whole.data(), n * sizeof(T)))
            << "in place, n=" << n;
        std::vector<T> g_in_place(gs.begin(), gs.begin() + n);
        k.backward(xs.data(), g_in_place.data(), g_in_place.data(), n, p);
        EXPECT_TRUE(testing::SameBytes(g_in_place.data(), whole_b.data(),
                                       n * sizeof(T)))
            << "backward in place, n=" << n;
        if (k.backward_with_param_grad == nullptr) continue;
        // The fused kernel writes backward's bits, sweep specials included.
        std::vector<T> fused(n + 1, static_cast<T>(-123));
        k.backward_with_param_grad(xs.data(), gs.data(), fused.data(), n, p);
        EXPECT_TRUE(
            testing::SameBytes(fused.data(), whole_b.data(), n * sizeof(T)))
            << "backward_with_param_grad, n=" << n;
        EXPECT_EQ(fused[n], static_cast<T>(-123)) << "wrote past n=" << n;
        std::vector<T> fused_in_place(gs.begin(), gs.begin() + n);
        k.backward_with_param_grad(xs.data(), fused_in_place.data(),
                                   fused_in_place.data(), n, p);
        EXPECT_TRUE(testing::SameBytes(fused_in_place.data(), whole_b.data(),
                                       n * sizeof(T)))
            << "backward_with_param_grad in place, n=" << n;
      }
    });
  }
};

TEST_P(ElementwiseKernelTest, SweepFloat32) { CheckSweep<float>(); }
TEST_P(ElementwiseKernelTest, SweepFloat64) { CheckSweep<double>(); }
TEST_P(ElementwiseKernelTest, SpecialValuesFloat32) {
  CheckSpecialValues<float>();
}
TEST_P(ElementwiseKernelTest, SpecialValuesFloat64) {
  CheckSpecialValues<double>();
}
TEST_P(ElementwiseKernelTest, LengthsAndInPlaceFloat32) {
  CheckLengthsAndInPlace<float>();
}
TEST_P(ElementwiseKernelTest, LengthsAndInPlaceFloat64) {
  CheckLengthsAndInPlace<double>();
}

// The reference derivative must match a central difference of the reference
// forward wherever the function is smooth (kinks are recognised by their
// one-sided differences disagreeing).
TEST_P(ElementwiseKernelTest, ReferenceDerivativeMatchesFiniteDifference) {
  const ActivationDef& d = def();
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> dist(-12, 12);
  for (const KernelParams& p : ParamSets(d)) {
    int checked = 0;
    for (int i = 0; i < 2000; ++i) {
      const long double x = dist(rng);
      const long double h = 1e-6L * std::max(1.0L, std::fabs(x));
      const long double f0 = d.reference.forward(x, p);
      const long double right = (d.reference.forward(x + h, p) - f0) / h;
      const long double left = (f0 - d.reference.forward(x - h, p)) / h;
      const long double scale = std::max(1.0L, std::fabs(right));
      if (std::fabs(right - left) > 1e-4L * scale) continue;  // a kink
      const long double central = (right + left) / 2;
      EXPECT_NEAR(static_cast<double>(d.reference.derivative(x, p)),
                  static_cast<double>(central),
                  1e-7 * static_cast<double>(scale))
          << d.name << " at x=" << static_cast<double>(x);
      ++checked;
    }
    EXPECT_GT(checked, 1000) << "too few smooth points checked";
  }
}

// df/dtheta of the reference against a central difference in theta, the
// fused kernels' parameter-gradient sums against the reference sums, and
// their gx against backward's bits (also written in place over g).
const ParamDef* LearnableParam(const ActivationDef& def) {
  for (const ParamDef& param : def.params) {
    if (param.learnable) return &param;
  }
  return nullptr;
}

// Exactly the activations with a learnable parameter have the kernels and
// the reference that compute its gradient.
TEST_P(ElementwiseKernelTest, GradientKernelsIffLearnable) {
  const bool learnable = LearnableParam(def()) != nullptr;
  EXPECT_EQ(def().f32.backward_with_param_grad != nullptr, learnable);
  EXPECT_EQ(def().f64.backward_with_param_grad != nullptr, learnable);
  EXPECT_EQ(def().reference.param_derivative != nullptr, learnable);
}

std::vector<const ActivationDef*> LearnableActivations() {
  std::vector<const ActivationDef*> out;
  for (const ActivationDef* def : ElementwiseActivations()) {
    if (LearnableParam(*def) != nullptr) out.push_back(def);
  }
  return out;
}

class ParameterGradientTest : public ElementwiseKernelTest {};

TEST_P(ParameterGradientTest, MatchReferenceAndFiniteDifferences) {
  const ActivationDef& d = def();
  const ParamDef* learnable = LearnableParam(d);
  ASSERT_NE(learnable, nullptr);
  ASSERT_NE(d.reference.param_derivative, nullptr);
  ASSERT_NE(d.f32.backward_with_param_grad, nullptr);
  ASSERT_NE(d.f64.backward_with_param_grad, nullptr);
  double KernelParams::*field = learnable->id == ParamId::kAlpha
                                    ? &KernelParams::alpha
                                    : &KernelParams::beta;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> dist(-8, 8);
  std::vector<double> xs(4099), gs(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    xs[i] = dist(rng);
    gs[i] = dist(rng) / 4;
  }
  std::vector<float> xf(xs.begin(), xs.end()), gf(gs.begin(), gs.end());
  for (const KernelParams& p : ParamSets(d)) {
    long double want = 0, want_f32 = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      const long double analytic = d.reference.param_derivative(xs[i], p);
      KernelParams up = p, down = p;
      const double h = 1e-5 * std::max(1.0, std::fabs(p.*field));
      up.*field += h;
      down.*field -= h;
      const long double numeric =
          (d.reference.forward(xs[i], up) - d.reference.forward(xs[i], down)) /
          (2 * h);
      EXPECT_NEAR(static_cast<double>(analytic), static_cast<double>(numeric),
                  1e-6 * std::max(1.0, std::fabs(static_cast<double>(numeric))))
          << d.name << " at x=" << xs[i];
      want += gs[i] * analytic;
      want_f32 += static_cast<long double>(gf[i]) *
                  d.reference.param_derivative(xf[i], p);
    }
    ForEachTarget([&](const char*) {
      std::vector<double> gx64(xs.size()), want_gx64(xs.size());
      const double got64 = d.f64.backward_with_param_grad(
          xs.data(), gs.data(), gx64.data(), xs.size(), p);
      EXPECT_NEAR(got64, static_cast<double>(want),
                  1e-12 * std::fabs(static_cast<double>(want)) + 1e-12);
      d.f64.backward(xs.data(), gs.data(), want_gx64.data(), xs.size(), p);
      std::vector<double> in_place64 = gs;
      EXPECT_EQ(d.f64.backward_with_param_grad(xs.data(), in_place64.data(),
                                               in_place64.data(), xs.size(), p),
                got64);
      std::vector<float> gx32(xf.size()), want_gx32(xf.size());
      const double got32 = d.f32.backward_with_param_grad(
          xf.data(), gf.data(), gx32.data(), xf.size(), p);
      EXPECT_NEAR(got32, static_cast<double>(want_f32),
                  1e-6 * std::fabs(static_cast<double>(want_f32)) + 1e-6);
      d.f32.backward(xf.data(), gf.data(), want_gx32.data(), xf.size(), p);
      std::vector<float> in_place32 = gf;
      EXPECT_EQ(d.f32.backward_with_param_grad(xf.data(), in_place32.data(),
                                               in_place32.data(), xf.size(), p),
                got32);
      const size_t n = xs.size();
      EXPECT_TRUE(testing::SameBytes(gx64.data(), want_gx64.data(),
                                     n * sizeof(double)));
      EXPECT_TRUE(testing::SameBytes(in_place64.data(), want_gx64.data(),
                                     n * sizeof(double)));
      EXPECT_TRUE(
          testing::SameBytes(gx32.data(), want_gx32.data(), n * sizeof(float)));
      EXPECT_TRUE(testing::SameBytes(in_place32.data(), want_gx32.data(),
                                     n * sizeof(float)));
    });
  }
}

// Sums whose terms are infinite, or overflow a double although g and the
// partial are finite, have the exact sum's limit (not inf - inf = NaN).
TEST_P(ParameterGradientTest, SumsOfHugeTermsHaveTheirLimits) {
  const ActivationDef& d = def();
  constexpr double kMax = std::numeric_limits<double>::max();
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const struct {
    std::vector<double> x, g;
  } cases[] = {
      {{-kInf, -kMax}, {1, -2}},             // -inf + (finite, overflowing)
      {{-kMax, -kMax}, {-2, 1}},             // 2 max - max = max
      {{-kMax, -kMax, -kMax}, {-2, -2, 1}},  // 3 max: overflows to inf
      {{-kInf, -kInf}, {1, -1}},             // -inf + inf: NaN
      {{-kMax, -1.5, -kMax, 3}, {-2, 4, 1, 0.5}},
  };
  for (const KernelParams& p : ParamSets(d)) {
    for (const auto& c : cases) {
      long double want = 0;
      for (size_t i = 0; i < c.x.size(); ++i) {
        want += c.g[i] * d.reference.param_derivative(c.x[i], p);
      }
      ForEachTarget([&](const char*) {
        std::vector<double> gx(c.x.size());
        const double got = d.f64.backward_with_param_grad(
            c.x.data(), c.g.data(), gx.data(), c.x.size(), p);
        const double rounded = static_cast<double>(want);
        if (std::isnan(rounded) || std::isinf(rounded)) {
          EXPECT_TRUE(testing::SameBytes(&got, &rounded, sizeof(got)) ||
                      (std::isnan(got) && std::isnan(rounded)))
              << d.name << ": " << got << ", want " << rounded;
        } else {
          EXPECT_NEAR(got, rounded, 1e-15 * std::fabs(rounded))
              << d.name << " x[0]=" << c.x[0];
        }
      });
    }
  }
}

// Reported cases where f' is subnormal or underflows and |g| is large: g f'
// must round once, on every target.
TEST(BackwardWithSubnormalSlope, RoundsOnce) {
  const struct {
    const char* name;
    ActivationParams params;
    bool float32;
    double x, g;
  } cases[] = {
      {"softsign", {}, true, 5.050916e20, 95058.47},
      {"selu", {}, true, -100, -71381.31},
      {"log_sigmoid", {}, true, 100, 5405.165},
      {"elu", {.alpha = 0.5}, true, -88.7, 10.811},
      {"softplus", {.beta = 2, .threshold = 10}, true, -56.955097, 173789.9},
      {"elu", {.alpha = 0.5}, false, -710, 1e20},
      {"sigmoid", {}, false, 745, -3e25},
      {"softsign", {}, false, 1e200, 1e250},
  };
  for (const auto& c : cases) {
    const ActivationDef& d = *FindActivation(c.name);
    EvaluationRequest request;
    request.activation = c.name;
    request.params = c.params;
    absl::StatusOr<Evaluation> e = Evaluation::Create(request);
    ASSERT_TRUE(e.ok()) << e.status();
    const KernelParams& p = e->kernel_params();
    ForEachTarget([&](const char*) {
      if (c.float32) {
        const float x = static_cast<float>(c.x), g = static_cast<float>(c.g);
        float gx;
        d.f32.backward(&x, &g, &gx, 1, p);
        EXPECT_LE(UlpError<float>(gx, g * d.reference.derivative(x, p)),
                  d.accuracy.ulp_f32)
            << c.name << " f32 x=" << x << " g=" << g << " got " << gx;
      } else {
        double gx;
        d.f64.backward(&c.x, &c.g, &gx, 1, p);
        EXPECT_LE(UlpError<double>(gx, c.g * d.reference.derivative(c.x, p)),
                  d.accuracy.ulp_f64)
            << c.name << " f64 x=" << c.x << " g=" << c.g << " got " << gx;
      }
    });
  }
}

std::string NameOf(const ::testing::TestParamInfo<const ActivationDef*>& info) {
  return std::string(info.param->name);
}

INSTANTIATE_TEST_SUITE_P(Registry, ElementwiseKernelTest,
                         ::testing::ValuesIn(ElementwiseActivations()), NameOf);
INSTANTIATE_TEST_SUITE_P(Registry, ParameterGradientTest,
                         ::testing::ValuesIn(LearnableActivations()), NameOf);

}  // namespace
}  // namespace actserve
