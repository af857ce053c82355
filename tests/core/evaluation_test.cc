// The evaluator: request validation (the errors users will see), unit ranges,
// half types and thread-count independence, for every registered activation.
#include "core/evaluation.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace actserve {
namespace {

using ::testing::HasSubstr;

absl::Status CreateStatus(EvaluationRequest request,
                          EvaluationLimits limits = {}) {
  return Evaluation::Create(request, limits).status();
}

EvaluationRequest Request(std::string name, std::vector<int64_t> shape,
                          Mode mode = Mode::kForward) {
  EvaluationRequest r;
  r.activation = std::move(name);
  r.shape = std::move(shape);
  r.mode = mode;
  return r;
}

void ExpectInvalid(const absl::Status& status, const std::string& field) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(field));
}

TEST(EvaluationCreateTest, UnknownActivationListsValidNames) {
  const absl::Status s = CreateStatus(Request("swoosh", {3}));
  ExpectInvalid(s, "activation.name");
  EXPECT_THAT(std::string(s.message()), HasSubstr("swoosh"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("relu"));
}

TEST(EvaluationCreateTest, ParameterTheActivationDoesNotHave) {
  EvaluationRequest r = Request("relu", {3});
  r.params.beta = 2;
  ExpectInvalid(CreateStatus(r), "activation.beta");
}

TEST(EvaluationCreateTest, NegativeDimension) {
  ExpectInvalid(CreateStatus(Request("relu", {2, -1})), "shape[1]");
}

TEST(EvaluationCreateTest, ElementCountOverflow) {
  ExpectInvalid(
      CreateStatus(Request("relu", {int64_t{1} << 40, int64_t{1} << 40})),
      "overflows");
}

TEST(EvaluationCreateTest, ZeroDimensionMakesZeroElementsEvenIfOthersHuge) {
  absl::StatusOr<Evaluation> e =
      Evaluation::Create(Request("relu", {0, int64_t{1} << 62}));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->input_elements(), 0);
}

TEST(EvaluationCreateTest, TooManyElementsIsResourceExhausted) {
  EvaluationLimits limits;
  limits.max_elements = 100;
  const absl::Status s = CreateStatus(Request("relu", {101}), limits);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
}

TEST(EvaluationCreateTest, EveryParameterRejectsNaN) {
  for (const ActivationDef* def : AllActivations()) {
    for (const ParamDef& param : def->params) {
      if (IsIntegerParam(param.id) || param.id == ParamId::kChannelAlpha) {
        continue;
      }
      EvaluationRequest r = Request(std::string(def->name), {4});
      const double nan = std::nan("");
      switch (param.id) {
        case ParamId::kAlpha:
          r.params.alpha = nan;
          break;
        case ParamId::kBeta:
          r.params.beta = nan;
          break;
        case ParamId::kMin:
          r.params.min = nan;
          break;
        case ParamId::kMax:
          r.params.max = nan;
          break;
        case ParamId::kThreshold:
          r.params.threshold = nan;
          break;
        default:
          break;
      }
      SCOPED_TRACE(def->name);
      ExpectInvalid(CreateStatus(r),
                    "activation." + std::string(ParamName(param.id)));
    }
  }
}

TEST(EvaluationCreateTest, AxisOutOfRangeForEveryAxisActivation) {
  for (const ActivationDef* def : AllActivations()) {
    if (def->kind == ActivationKind::kElementwise) continue;
    EvaluationRequest r = Request(std::string(def->name), {2, 4});
    r.params.axis = 2;
    SCOPED_TRACE(def->name);
    ExpectInvalid(CreateStatus(r), "activation.axis");
    r.params.axis = -3;
    ExpectInvalid(CreateStatus(r), "activation.axis");
  }
}

TEST(EvaluationCreateTest, MaxoutLengthNotMultipleOfPieces) {
  EvaluationRequest r = Request("maxout", {2, 5});
  r.params.pieces = 2;
  ExpectInvalid(CreateStatus(r), "activation.pieces");
  r.params.pieces = 0;
  ExpectInvalid(CreateStatus(r), "activation.pieces");
}

TEST(EvaluationCreateTest, PreluChannelCountMismatch) {
  EvaluationRequest r = Request("prelu", {2, 3, 4});
  r.params.channel_alpha = {0.1, 0.2};
  ExpectInvalid(CreateStatus(r), "activation.channel_alpha");
  r.params.channel_alpha = {0.1, 0.2, std::nan("")};
  ExpectInvalid(CreateStatus(r), "activation.channel_alpha[2]");
}

TEST(EvaluationCreateTest, JacobianAboveLimit) {
  EvaluationLimits limits;
  limits.max_jacobian_elements = 1000;
  ExpectInvalid(
      CreateStatus(Request("softmax", {4, 100}, Mode::kDerivative), limits),
      "mode");
  absl::StatusOr<Evaluation> ok = Evaluation::Create(
      Request("softmax", {4, 10}, Mode::kDerivative), limits);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->output_shape(), (std::vector<int64_t>{4, 10, 10}));
}

TEST(EvaluationRunTest, RejectsUnitRangeOutsideTensor) {
  absl::StatusOr<Evaluation> e = Evaluation::Create(Request("relu", {8}));
  ASSERT_TRUE(e.ok());
  std::vector<float> x(8), y(8);
  EXPECT_EQ(e->Run(4, 5, x.data(), nullptr, y.data(), nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(e->Run(-1, 1, x.data(), nullptr, y.data(), nullptr).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(EvaluationRunTest, BackwardWithoutGradOutput) {
  absl::StatusOr<Evaluation> e =
      Evaluation::Create(Request("relu", {8}, Mode::kBackward));
  ASSERT_TRUE(e.ok());
  std::vector<float> x(8), y(8);
  ExpectInvalid(e->RunAll(x.data(), nullptr, y.data(), nullptr), "grad_output");
}

// Odd sizes cross block and vector edges, and are above the size from which
// work is shared between threads; maxout's axis (18) is even.
EvaluationRequest RequestFor(const ActivationDef& def, Mode mode, DType dtype) {
  EvaluationRequest r;
  r.activation = std::string(def.name);
  r.mode = mode;
  r.dtype = dtype;
  r.shape = def.kind == ActivationKind::kElementwise
                ? std::vector<int64_t>{5, 7, 9001}
                : std::vector<int64_t>{1801, 9, 18};
  if (def.name == "prelu")
    r.params.channel_alpha = {0.1, -0.2, 0.3, 0.5, 0.0, 1.5, 0.25};
  return r;
}

std::vector<uint8_t> RandomBytes(DType dtype, int64_t elements, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0, 4);
  std::vector<float> f(elements);
  for (float& v : f) v = dist(rng);
  std::vector<uint8_t> bytes(elements * ItemSize(dtype));
  switch (dtype) {
    case DType::kFloat32:
      std::memcpy(bytes.data(), f.data(), bytes.size());
      break;
    case DType::kFloat64: {
      std::vector<double> d(f.begin(), f.end());
      std::memcpy(bytes.data(), d.data(), bytes.size());
      break;
    }
    default:
      NarrowFromFloat32(dtype, f.data(), bytes.data(), elements);
  }
  return bytes;
}

struct Outcome {
  std::vector<uint8_t> out;
  std::vector<ParameterGradient> grads;
};

Outcome RunWhole(const Evaluation& e, const std::vector<uint8_t>& x,
                 const std::vector<uint8_t>& g, ThreadPool& pool) {
  Outcome o;
  o.out.resize(e.output_elements() * ItemSize(e.dtype()));
  o.grads = e.NewParameterGradients();
  const absl::Status s = e.RunAll(x.data(), g.empty() ? nullptr : g.data(),
                                  o.out.data(), &o.grads, pool);
  EXPECT_TRUE(s.ok()) << s;
  return o;
}

class EveryActivationTest
    : public ::testing::TestWithParam<const ActivationDef*> {};

// Same bytes with 1 and 2 threads, and when fed in uneven unit ranges as a
// stream would feed it.
TEST_P(EveryActivationTest, BitwiseIdenticalAcrossThreadsAndRanges) {
  const ActivationDef& def = *GetParam();
  ThreadPool one(0), two(1);  // 1 and 2 threads with the caller
  for (DType dtype :
       {DType::kFloat32, DType::kFloat64, DType::kBFloat16, DType::kFloat16}) {
    for (Mode mode : {Mode::kForward, Mode::kDerivative, Mode::kBackward}) {
      SCOPED_TRACE(std::string(DTypeName(dtype)) + " " +
                   std::string(ModeName(mode)));
      absl::StatusOr<Evaluation> e =
          Evaluation::Create(RequestFor(def, mode, dtype));
      ASSERT_TRUE(e.ok()) << e.status();
      const auto x = RandomBytes(dtype, e->input_elements(), 1);
      const auto g = mode == Mode::kBackward
                         ? RandomBytes(dtype, e->grad_elements(), 2)
                         : std::vector<uint8_t>{};
      const Outcome a = RunWhole(*e, x, g, one);
      const Outcome b = RunWhole(*e, x, g, two);
      EXPECT_EQ(a.out, b.out);
      ASSERT_EQ(a.grads.size(), b.grads.size());
      for (size_t i = 0; i < a.grads.size(); ++i) {
        EXPECT_EQ(a.grads[i].values, b.grads[i].values);
      }
      // Uneven ranges: the output bytes must not depend on the split.
      const size_t item = ItemSize(dtype);
      std::vector<uint8_t> pieces(a.out.size());
      std::vector<ParameterGradient> grads = e->NewParameterGradients();
      int64_t unit = 0;
      for (int64_t step = 1; unit < e->units(); step = step * 3 + 1) {
        const int64_t count = std::min(step, e->units() - unit);
        ASSERT_TRUE(
            e->Run(
                 unit, count, x.data() + unit * e->input_unit() * item,
                 g.empty() ? nullptr : g.data() + unit * e->grad_unit() * item,
                 pieces.data() + unit * e->output_unit() * item, &grads, two)
                .ok());
        unit += count;
      }
      EXPECT_EQ(pieces, a.out);
      // Split on block boundaries, parameter gradients keep their bits too.
      std::vector<ParameterGradient> aligned = e->NewParameterGradients();
      std::vector<uint8_t> scratch(a.out.size());
      for (int64_t u = 0; u < e->units(); u += 2 * e->block_units()) {
        const int64_t count = std::min(2 * e->block_units(), e->units() - u);
        ASSERT_TRUE(
            e->Run(u, count, x.data() + u * e->input_unit() * item,
                   g.empty() ? nullptr : g.data() + u * e->grad_unit() * item,
                   scratch.data() + u * e->output_unit() * item, &aligned, one)
                .ok());
      }
      for (size_t i = 0; i < aligned.size(); ++i) {
        EXPECT_EQ(aligned[i].values, a.grads[i].values);
      }
      for (size_t i = 0; i < grads.size(); ++i) {
        for (size_t j = 0; j < grads[i].values.size(); ++j) {
          EXPECT_NEAR(grads[i].values[j], a.grads[i].values[j],
                      1e-9 * (1 + std::fabs(a.grads[i].values[j])));
        }
      }
    }
  }
}

// Runs large enough to stream their output (non-temporal stores after a
// padded head that reaches vector alignment) give the bits of cached runs,
// into an output that is not vector aligned.
TEST_P(EveryActivationTest, StreamedOutputMatchesCachedRuns) {
  const ActivationDef& def = *GetParam();
  const bool elementwise = def.kind == ActivationKind::kElementwise;
  ThreadPool pool(1);
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (Mode mode : {Mode::kForward, Mode::kDerivative, Mode::kBackward}) {
      // Jacobians along an axis are no streaming case.
      if (mode == Mode::kDerivative && !elementwise) continue;
      SCOPED_TRACE(std::string(DTypeName(dtype)) + " " +
                   std::string(ModeName(mode)));
      const int64_t item = ItemSize(dtype);
      EvaluationRequest r = RequestFor(def, mode, dtype);
      // Rows of 1000 along the axis: not a whole number of vectors.
      const int64_t row = 1000;
      const int64_t elements = Evaluation::kStreamOutputBytes / item + 3;
      r.shape = elementwise ? std::vector<int64_t>{elements}
                            : std::vector<int64_t>{elements / row + 1, row};
      r.params.channel_alpha.clear();
      absl::StatusOr<Evaluation> e = Evaluation::Create(r);
      ASSERT_TRUE(e.ok()) << e.status();
      const int64_t n = e->units();
      const auto x = RandomBytes(dtype, e->input_elements(), 5);
      const auto g = mode == Mode::kBackward
                         ? RandomBytes(dtype, e->grad_elements(), 6)
                         : std::vector<uint8_t>{};
      const int64_t out_bytes = e->output_elements() * item;
      // One element past a vector-aligned start.
      std::vector<uint8_t> buffer(out_bytes + item + 64);
      uint8_t* streamed =
          buffer.data() +
          (64 - reinterpret_cast<uintptr_t>(buffer.data()) % 64) + item;
      std::vector<ParameterGradient> whole = e->NewParameterGradients();
      ASSERT_TRUE(e->RunAll(x.data(), g.empty() ? nullptr : g.data(), streamed,
                            &whole, pool)
                      .ok());
      std::vector<uint8_t> cached(out_bytes);
      std::vector<ParameterGradient> split = e->NewParameterGradients();
      const int64_t step = 4 * e->block_units();
      ASSERT_LT(step * e->output_unit() * item, Evaluation::kStreamOutputBytes);
      for (int64_t u = 0; u < n; u += step) {
        const int64_t count = std::min(step, n - u);
        ASSERT_TRUE(
            e->Run(u, count, x.data() + u * e->input_unit() * item,
                   g.empty() ? nullptr : g.data() + u * e->grad_unit() * item,
                   cached.data() + u * e->output_unit() * item, &split, pool)
                .ok());
      }
      EXPECT_EQ(std::memcmp(streamed, cached.data(), cached.size()), 0);
      for (size_t i = 0; i < whole.size(); ++i) {
        EXPECT_EQ(whole[i].values, split[i].values);
      }
    }
  }
}

// Half types compute in float32 and round back once.
TEST_P(EveryActivationTest, HalfTypesMatchFloat32RoundedOnce) {
  const ActivationDef& def = *GetParam();
  for (DType half : {DType::kBFloat16, DType::kFloat16}) {
    for (Mode mode : {Mode::kForward, Mode::kDerivative, Mode::kBackward}) {
      absl::StatusOr<Evaluation> eh =
          Evaluation::Create(RequestFor(def, mode, half));
      absl::StatusOr<Evaluation> ef =
          Evaluation::Create(RequestFor(def, mode, DType::kFloat32));
      ASSERT_TRUE(eh.ok() && ef.ok());
      const auto xh = RandomBytes(half, eh->input_elements(), 3);
      const auto gh = mode == Mode::kBackward
                          ? RandomBytes(half, eh->grad_elements(), 4)
                          : std::vector<uint8_t>{};
      std::vector<float> xf(eh->input_elements()), gf(eh->grad_elements());
      WidenToFloat32(half, xh.data(), xf.data(), xf.size());
      if (!gh.empty()) WidenToFloat32(half, gh.data(), gf.data(), gf.size());
      std::vector<uint8_t> xfb(xf.size() * 4), gfb(gf.size() * 4);
      std::memcpy(xfb.data(), xf.data(), xfb.size());
      std::memcpy(gfb.data(), gf.data(), gfb.size());
      ThreadPool pool(2);
      const Outcome oh = RunWhole(*eh, xh, gh, pool);
      const Outcome of =
          RunWhole(*ef, xfb, gh.empty() ? std::vector<uint8_t>{} : gfb, pool);
      std::vector<uint8_t> rounded(oh.out.size());
      NarrowFromFloat32(half, reinterpret_cast<const float*>(of.out.data()),
                        rounded.data(), ef->output_elements());
      EXPECT_EQ(oh.out, rounded)
          << def.name << " " << DTypeName(half) << " " << ModeName(mode);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Registry, EveryActivationTest, ::testing::ValuesIn(AllActivations()),
    [](const ::testing::TestParamInfo<const ActivationDef*>& info) {
      return std::string(info.param->name);
    });

}  // namespace
}  // namespace actserve
