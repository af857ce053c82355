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

// Inputs across the whole finite range of T: a dense middle, log-uniform
// magnitudes out to the largest finite value, and the edges themselves.
template <typename T>
std::vector<T> SweepInputs(uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<T> xs;
  std::uniform_real_distribution<double> middle(-30, 30);
  for (int i = 0; i < 60000; ++i) xs.push_back(static_cast<T>(middle(rng)));
  std::uniform_real_distribution<double> small(-2, 2);
  for (int i = 0; i < 30000; ++i) xs.push_back(static_cast<T>(small(rng)));
  const double max_log =
      std::log(static_cast<double>(std::numeric_limits<T>::max()));
  const double min_log =
      std::log(static_cast<double>(std::numeric_limits<T>::denorm_min()));
  std::uniform_real_distribution<double> log_magnitude(min_log, max_log);
  for (int i = 0; i < 60000; ++i) {
    const T m = static_cast<T>(std::exp(log_magnitude(rng)));
    xs.push_back(i % 2 == 0 ? m : -m);
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

bool NearRoot(const ActivationDef& def, long double x) {
  for (double root : def.accuracy.derivative_roots) {
    if (std::fabs(x - root) <= def.accuracy.root_window) return true;
  }
  return false;
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

  template <typename T>
  void CheckSweep() {
    const ActivationDef& d = def();
    const ElementwiseKernels<T>& k = KernelsFor<T>(d);
    const std::vector<T> xs = SweepInputs<T>(42);
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> grad(-2, 2);
    std::vector<T> gs(xs.size());
    for (T& g : gs) g = static_cast<T>(grad(rng));
    const double tolerance = Tolerance<T>(d);
    std::vector<T> y(xs.size()), dy(xs.size()), gx(xs.size());
    ForEachTarget([&](const char* target) {
      for (const KernelParams& given : ParamSets(d)) {
        const KernelParams p = AsComputed<T>(given);
        k.forward(xs.data(), y.data(), xs.size(), p);
        k.derivative(xs.data(), dy.data(), xs.size(), p);
        k.backward(xs.data(), gs.data(), gx.data(), xs.size(), p);
        long double worst[3] = {0, 0, 0};
        for (size_t i = 0; i < xs.size(); ++i) {
          const long double x = xs[i];
          const long double ref_dy = d.reference.derivative(x, p);
          long double refs[3] = {d.reference.forward(x, p), ref_dy,
                                 gs[i] * ref_dy};
          // NaN in gives NaN out in every mode, whatever the formula says.
          if (std::isnan(x)) std::fill(refs, refs + 3, x);
          const T got[3] = {y[i], dy[i], gx[i]};
          for (int m = 0; m < 3; ++m) {
            const long double err = UlpError<T>(got[m], refs[m]);
            const bool root_ok =
                m > 0 && NearRoot(d, x) &&
                std::fabs(got[m] - refs[m]) <= d.accuracy.abs_near_root;
            if (!root_ok) worst[m] = std::max(worst[m], err);
            if (err > tolerance && !root_ok) {
              ADD_FAILURE()
                  << d.name << " " << ModeName(Mode(m)) << " "
                  << (sizeof(T) == 4 ? "f32" : "f64")
                  << " x=" << static_cast<double>(x) << " alpha=" << p.alpha
                  << " beta=" << p.beta << " got=" << got[m]
                  << " ref=" << static_cast<double>(refs[m])
                  << " err=" << static_cast<double>(err) << " ulp";
              return;
            }
          }
        }
        std::printf(
            "[ measured ] %s %s %s: forward %.2f, derivative %.2f, "
            "backward %.2f ulp\n",
            std::string(d.name).c_str(), target, sizeof(T) == 4 ? "f32" : "f64",
            static_cast<double>(worst[0]), static_cast<double>(worst[1]),
            static_cast<double>(worst[2]));
      }
    });
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

std::string NameOf(const ::testing::TestParamInfo<const ActivationDef*>& info) {
  return std::string(info.param->name);
}

INSTANTIATE_TEST_SUITE_P(Registry, ElementwiseKernelTest,
                         ::testing::ValuesIn(ElementwiseActivations()), NameOf);
INSTANTIATE_TEST_SUITE_P(Registry, ParameterGradientTest,
                         ::testing::ValuesIn(LearnableActivations()), NameOf);

}  // namespace
}  // namespace actserve
