// Evaluate over an in-process channel: every activation, mode and dtype gives
// the bytes the core computes locally, chunked as the API promises.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/registry.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/server/server_test_support.h"

namespace actserve::testing {
namespace {

using ::google::protobuf::util::MessageDifferencer;

constexpr DType kDTypes[] = {DType::kFloat32, DType::kFloat64, DType::kFloat16,
                             DType::kBFloat16};
constexpr Mode kModes[] = {Mode::kForward, Mode::kDerivative, Mode::kBackward};

class EvaluateTest : public SharedServerTest {};

// Sends `inputs` of one activation and mode in one request and compares
// every output and parameter gradient with the core's RunAll.
void ExpectMatchesCore(
    v1::ActivationService::Stub& stub, absl::string_view name,
    const ActivationParams& params, Mode mode,
    const std::vector<std::pair<DType, std::vector<int64_t>>>& inputs,
    int64_t chunk_bytes) {
  v1::EvaluateRequest request;
  *request.mutable_activation() = MakeSpec(name, params);
  request.set_mode(static_cast<v1::Mode>(static_cast<int>(mode) + 1));
  request.set_chunk_bytes(chunk_bytes);
  std::vector<Expected> expected;
  uint32_t seed = 1;
  for (const auto& [dtype, shape] : inputs) {
    const Evaluation evaluation =
        CreateEvaluation({std::string(name), params, mode, dtype, shape});
    v1::Tensor* x = request.add_inputs();
    *x = MakeTensor(dtype, shape, seed++);
    std::string grad;
    if (mode == Mode::kBackward) {
      v1::Tensor* g = request.add_grad_outputs();
      *g = MakeTensor(dtype, evaluation.grad_shape(), seed++);
      grad = g->data();
    }
    expected.push_back(ComputeLocally(evaluation, x->data(), grad));
  }

  const EvaluateResult result =
      CallEvaluate(stub, request, chunk_bytes == 0 ? 1 << 20 : chunk_bytes);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.outputs.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    // EXPECT_TRUE, not EXPECT_EQ: a failure should not print megabytes.
    EXPECT_TRUE(result.outputs[i] == expected[i].output)
        << "output " << i << " differs from the core's bytes";
  }
  if (mode == Mode::kBackward) {
    ASSERT_EQ(result.param_grads.size(), inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      ASSERT_EQ(result.param_grads[i].size(), expected[i].param_grads.size());
      for (size_t j = 0; j < expected[i].param_grads.size(); ++j) {
        EXPECT_TRUE(MessageDifferencer::Equals(result.param_grads[i][j],
                                               expected[i].param_grads[j]))
            << result.param_grads[i][j].ShortDebugString() << " vs "
            << expected[i].param_grads[j].ShortDebugString();
      }
    }
  } else {
    EXPECT_TRUE(result.param_grads.empty());
  }
  ASSERT_TRUE(result.summary.has_value());
  EXPECT_EQ(result.summary->inputs(), static_cast<int64_t>(inputs.size()));
}

// A shape every activation accepts at its parameters: the channel axis (1)
// as long as channel_alpha, the last axis divisible by any maxout group.
std::vector<int64_t> ShapeFor(const ActivationParams& params) {
  const int64_t channels =
      params.channel_alpha.empty()
          ? 4
          : static_cast<int64_t>(params.channel_alpha.size());
  return {3, channels, 60};
}

class EveryActivationTest
    : public EvaluateTest,
      public ::testing::WithParamInterface<const ActivationDef*> {};

TEST_P(EveryActivationTest, EveryModeAndDTypeMatchesCoreBitwise) {
  const ActivationDef& def = *GetParam();
  std::vector<ActivationParams> param_sets = {ActivationParams{}};
  param_sets.insert(param_sets.end(), def.test_params.begin(),
                    def.test_params.end());
  for (const ActivationParams& params : param_sets) {
    for (Mode mode : kModes) {
      for (DType dtype : kDTypes) {
        SCOPED_TRACE(absl::StrCat(ModeName(mode), " ", DTypeName(dtype)));
        // A small chunk size, so every output spans many chunks.
        ExpectMatchesCore(*stub_, def.name, params, mode,
                          {{dtype, ShapeFor(params)}}, /*chunk_bytes=*/1024);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllActivations, EveryActivationTest, ::testing::ValuesIn(AllActivations()),
    [](const ::testing::TestParamInfo<const ActivationDef*>& info) {
      return std::string(info.param->name);
    });

// Gradients of learnable parameters are sums over the whole tensor; a
// tensor of many core blocks, in small chunks, still sums to RunAll's bits.
TEST_F(EvaluateTest, ParameterGradientsOfLargeTensorsMatchCoreBitwise) {
  int tested = 0;
  for (const ActivationDef* def : AllActivations()) {
    const bool learnable =
        std::any_of(def->params.begin(), def->params.end(),
                    [](const ParamDef& p) { return p.learnable; });
    if (!learnable) continue;
    for (DType dtype : kDTypes) {
      SCOPED_TRACE(absl::StrCat(def->name, " ", DTypeName(dtype)));
      ExpectMatchesCore(*stub_, def->name, {}, Mode::kBackward,
                        {{dtype, {3, 4, 20011}}, {dtype, {2, 4, 99}}},
                        /*chunk_bytes=*/1024);
      ++tested;
    }
  }
  ASSERT_GT(tested, 0) << "no activation has learnable parameters";
}

// The same for prelu's per-channel slopes: one gradient per channel.
TEST_F(EvaluateTest, PerChannelGradientsOfLargeTensorsMatchCoreBitwise) {
  ActivationParams params;
  params.channel_alpha = {0.1, 0.2, 0.3, 0.4};
  for (DType dtype : kDTypes) {
    SCOPED_TRACE(DTypeName(dtype));
    ExpectMatchesCore(*stub_, "prelu", params, Mode::kBackward,
                      {{dtype, {8, 4, 20011}}}, /*chunk_bytes=*/0);
  }
}

TEST_F(EvaluateTest, BatchOfShapesIncludingScalarAndEmpty) {
  for (Mode mode : kModes) {
    SCOPED_TRACE(ModeName(mode));
    ExpectMatchesCore(*stub_, "sigmoid", {}, mode,
                      {{DType::kFloat32, {1000}},
                       {DType::kFloat64, {}},
                       {DType::kFloat32, {4, 0, 3}},
                       {DType::kBFloat16, {2, 3, 5, 7}}},
                      /*chunk_bytes=*/0);
  }
}

TEST_F(EvaluateTest, LargeTensorInDefaultChunks) {
  ExpectMatchesCore(*stub_, "relu", {}, Mode::kBackward,
                    {{DType::kFloat32, {3, 1000, 1000}}},
                    /*chunk_bytes=*/0);
}

TEST_F(EvaluateTest, EmptyOutputIsAnnouncedByItsHeader) {
  v1::EvaluateRequest request;
  request.mutable_activation()->set_name("identity");
  *request.add_inputs() = MakeTensor(DType::kFloat32, {5, 0}, 1);
  const EvaluateResult result = CallEvaluate(*stub_, request, 1 << 20);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.headers.size(), 1u);
  EXPECT_EQ(result.chunks, 1);
  EXPECT_EQ(result.headers[0].shape_size(), 2);
  EXPECT_TRUE(result.outputs[0].empty());
}

TEST_F(EvaluateTest, ChunksHoldAtMostChunkBytesOfWholeElements) {
  v1::EvaluateRequest request;
  request.mutable_activation()->set_name("identity");
  *request.add_inputs() = MakeTensor(DType::kFloat64, {10000}, 1);
  // 2004 bytes hold 250 float64s (and 4 bytes that no element fits in): 40
  // full chunks.
  request.set_chunk_bytes(2004);
  const EvaluateResult result = CallEvaluate(*stub_, request, 2000);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.chunks, 40);
  EXPECT_TRUE(result.outputs[0] == request.inputs(0).data());
}

TEST_F(EvaluateTest, SummaryCountsElements) {
  v1::EvaluateRequest request;
  request.mutable_activation()->set_name("relu");
  *request.add_inputs() = MakeTensor(DType::kFloat32, {7, 11}, 1);
  *request.add_inputs() = MakeTensor(DType::kFloat16, {13}, 2);
  const EvaluateResult result = CallEvaluate(*stub_, request, 1 << 20);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_TRUE(result.summary.has_value());
  EXPECT_EQ(result.summary->inputs(), 2);
  EXPECT_EQ(result.summary->input_elements(), 7 * 11 + 13);
  EXPECT_EQ(result.summary->output_elements(), 7 * 11 + 13);
  EXPECT_GE(result.summary->compute_micros(), 0);
}

}  // namespace
}  // namespace actserve::testing
