// EvaluateStream over an in-process channel: results equal the core's for
// tensors split anywhere, and every protocol violation ends the call with a
// status naming the problem.
#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/server_test_support.h"

namespace actserve::testing {
namespace {

using ::testing::HasSubstr;

class EvaluateStreamTest : public SharedServerTest {};

struct StreamedTensor {
  v1::StreamHeader header;
  std::string x;
  std::string grad_output;
  Expected expected;
  int64_t input_elements;
  int64_t output_elements;
};

StreamedTensor MakeStreamedTensor(absl::string_view name, Mode mode,
                                  DType dtype, std::vector<int64_t> shape,
                                  int64_t chunk_bytes, uint32_t seed,
                                  const ActivationParams& params = {}) {
  const Evaluation evaluation =
      CreateEvaluation({std::string(name), params, mode, dtype, shape});
  StreamedTensor tensor;
  *tensor.header.mutable_activation() = MakeSpec(name, params);
  tensor.header.set_mode(static_cast<v1::Mode>(static_cast<int>(mode) + 1));
  tensor.header.mutable_shape()->Assign(shape.begin(), shape.end());
  tensor.header.set_dtype(static_cast<v1::DType>(static_cast<int>(dtype) + 1));
  tensor.header.set_chunk_bytes(chunk_bytes);
  tensor.x = RandomData(dtype, evaluation.input_elements(), seed);
  if (mode == Mode::kBackward) {
    tensor.grad_output =
        RandomData(dtype, evaluation.grad_elements(), seed + 1000);
  }
  tensor.expected = ComputeLocally(evaluation, tensor.x, tensor.grad_output);
  tensor.input_elements = evaluation.input_elements();
  tensor.output_elements = evaluation.output_elements();
  return tensor;
}

void ExpectStreamMatches(const StreamResult& result,
                         const std::vector<StreamedTensor>& tensors) {
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.outputs.size(), tensors.size());
  ASSERT_EQ(result.done.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_TRUE(result.outputs[i] == tensors[i].expected.output)
        << "tensor " << i << " differs from the core's bytes";
    const v1::StreamTensorDone& done = result.done[i];
    EXPECT_EQ(done.tensor_index(), static_cast<int32_t>(i));
    EXPECT_EQ(done.input_elements(), tensors[i].input_elements);
    EXPECT_EQ(done.output_elements(), tensors[i].output_elements);
    ASSERT_EQ(done.parameter_gradients_size(),
              static_cast<int>(tensors[i].expected.param_grads.size()));
    for (int j = 0; j < done.parameter_gradients_size(); ++j) {
      EXPECT_EQ(done.parameter_gradients(j).SerializeAsString(),
                tensors[i].expected.param_grads[j].SerializeAsString());
    }
  }
}

TEST_F(EvaluateStreamTest, BigTensorInManyUnevenPiecesMatchesCore) {
  for (const char* name : {"relu", "sigmoid"}) {
    for (Mode mode : {Mode::kForward, Mode::kDerivative, Mode::kBackward}) {
      SCOPED_TRACE(absl::StrCat(name, " ", ModeName(mode)));
      const StreamedTensor tensor = MakeStreamedTensor(
          name, mode, DType::kFloat32, {1 << 22}, 64 << 10, 7);
      // x and grad_output split at different, odd element counts.
      const StreamResult result = CallEvaluateStream(
          *stub_, StreamMessages(tensor.header, tensor.x, tensor.grad_output,
                                 99991, 65537));
      ExpectStreamMatches(result, {tensor});
    }
  }
}

TEST_F(EvaluateStreamTest, EveryActivationAndModeMatchesCore) {
  for (const ActivationDef* def : AllActivations()) {
    for (Mode mode : {Mode::kForward, Mode::kDerivative, Mode::kBackward}) {
      for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kFloat16}) {
        SCOPED_TRACE(absl::StrCat(def->name, " ", ModeName(mode), " ",
                                  DTypeName(dtype)));
        // Axis functions along the last axis: a unit is a slice of 60.
        const StreamedTensor tensor =
            MakeStreamedTensor(def->name, mode, dtype, {5, 4, 60}, 1024, 11);
        const StreamResult result = CallEvaluateStream(
            *stub_, StreamMessages(tensor.header, tensor.x, tensor.grad_output,
                                   37, 101));
        ExpectStreamMatches(result, {tensor});
      }
    }
  }
}

TEST_F(EvaluateStreamTest, ParameterGradientsOfLargeTensorsMatchCore) {
  int tested = 0;
  for (const ActivationDef* def : AllActivations()) {
    const bool learnable =
        std::any_of(def->params.begin(), def->params.end(),
                    [](const ParamDef& p) { return p.learnable; });
    if (!learnable) continue;
    SCOPED_TRACE(def->name);
    const StreamedTensor tensor = MakeStreamedTensor(
        def->name, Mode::kBackward, DType::kFloat32, {3, 4, 20011}, 1024, 3);
    const StreamResult result = CallEvaluateStream(
        *stub_, StreamMessages(tensor.header, tensor.x, tensor.grad_output,
                               9973, 7919));
    ExpectStreamMatches(result, {tensor});
    ++tested;
  }
  ASSERT_GT(tested, 0) << "no activation has learnable parameters";
}

TEST_F(EvaluateStreamTest, SeveralTensorsOnOneStream) {
  std::vector<StreamedTensor> tensors;
  tensors.push_back(MakeStreamedTensor("sigmoid", Mode::kBackward,
                                       DType::kFloat64, {300, 7}, 4096, 1));
  tensors.push_back(MakeStreamedTensor("relu", Mode::kForward, DType::kFloat32,
                                       {0, 8}, 0, 2));
  tensors.push_back(MakeStreamedTensor("identity", Mode::kDerivative,
                                       DType::kBFloat16, {}, 0, 3));
  tensors.push_back(MakeStreamedTensor("relu", Mode::kBackward, DType::kFloat16,
                                       {12345}, 2048, 4));
  std::vector<v1::EvaluateStreamRequest> messages;
  for (const StreamedTensor& tensor : tensors) {
    for (auto& m : StreamMessages(tensor.header, tensor.x, tensor.grad_output,
                                  1000, 777)) {
      messages.push_back(std::move(m));
    }
  }
  ExpectStreamMatches(CallEvaluateStream(*stub_, messages), tensors);
}

TEST_F(EvaluateStreamTest, StreamWithoutTensorsEndsOk) {
  const StreamResult result = CallEvaluateStream(*stub_, {});
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_TRUE(result.done.empty());
}

// ------------------------------------------------------ protocol errors --

struct ProtocolCase {
  std::string name;
  // Builds the messages from a valid 1000-element backward relu tensor.
  std::function<std::vector<v1::EvaluateStreamRequest>(
      std::vector<v1::EvaluateStreamRequest>)>
      mutate;
  grpc::StatusCode code;
  std::string message_part;
};

v1::EvaluateStreamRequest DataMessage(int64_t x_offset, std::string x) {
  v1::EvaluateStreamRequest m;
  m.mutable_data()->set_x_offset(x_offset);
  m.mutable_data()->set_x(std::move(x));
  return m;
}

std::vector<ProtocolCase> ProtocolCases() {
  using Messages = std::vector<v1::EvaluateStreamRequest>;
  const auto invalid = grpc::INVALID_ARGUMENT;
  const auto precondition = grpc::FAILED_PRECONDITION;
  // The valid stream: header, then 4 data messages of 250 elements each.
  return {
      {"DataBeforeHeader",
       [](Messages m) { return Messages(m.begin() + 1, m.end()); },
       precondition, "data: no tensor in progress"},
      {"OffsetSkipsAhead",
       [](Messages m) {
         m[2].mutable_data()->set_x_offset(260);
         return m;
       },
       invalid, "data.x_offset: is 260 but the data so far ends at 250"},
      {"OffsetOverlaps",
       [](Messages m) {
         m[2].mutable_data()->set_grad_offset(200);
         return m;
       },
       invalid, "data.grad_offset: is 200 but the data so far ends at 250"},
      {"MoreDataThanDeclaredInOneMessage",
       [](Messages m) {
         m[4].mutable_data()->mutable_x()->append(8, '\0');
         return m;
       },
       invalid, "data.x: 252 more elements after 750 exceed the 1000"},
      {"MoreDataAfterTheTensorIsComplete",
       [](Messages m) {
         m.push_back(DataMessage(1000, std::string(16, '\0')));
         return m;
       },
       invalid, "data: tensor 0 already has all the elements"},
      {"PartialElement",
       [](Messages m) {
         m[1].mutable_data()->mutable_x()->pop_back();
         return m;
       },
       invalid, "data.x: 999 bytes is not a whole number of 4-byte elements"},
      {"HeaderWhileTensorIncomplete",
       [](Messages m) {
         m.insert(m.begin() + 2, m[0]);
         return m;
       },
       precondition, "header: tensor 0 has not received all its data"},
      {"StreamEndsMidTensor",
       [](Messages m) {
         m.pop_back();
         return m;
       },
       precondition, "the stream ended in the middle of tensor 0"},
      {"GradOutputInForward",
       [](Messages m) {
         m[0].mutable_header()->set_mode(v1::MODE_FORWARD);
         return m;
       },
       invalid, "data.grad_output: only MODE_BACKWARD"},
      {"EmptyMessage",
       [](Messages m) {
         m.insert(m.begin() + 1, v1::EvaluateStreamRequest());
         return m;
       },
       invalid, "payload: set neither header nor data"},
      {"HeaderDTypeUnset",
       [](Messages m) {
         m[0].mutable_header()->set_dtype(v1::DTYPE_UNSPECIFIED);
         return m;
       },
       invalid, "header: dtype: unset"},
      {"HeaderNegativeDimension",
       [](Messages m) {
         m[0].mutable_header()->set_shape(0, -1000);
         return m;
       },
       invalid, "header: shape[0]: dimension -1000 is negative"},
      {"HeaderUnknownActivation",
       [](Messages m) {
         m[0].mutable_header()->mutable_activation()->set_name("nope");
         return m;
       },
       invalid, "header"},
      {"HeaderChunkBytesOutOfRange",
       [](Messages m) {
         m[0].mutable_header()->set_chunk_bytes(3);
         return m;
       },
       invalid, "header: chunk_bytes: 3 is outside"},
      {"HeaderUnknownMode",
       [](Messages m) {
         m[0].mutable_header()->set_mode(static_cast<v1::Mode>(-4));
         return m;
       },
       invalid, "header: mode: unknown value -4"},
  };
}

class StreamProtocolTest : public EvaluateStreamTest,
                           public ::testing::WithParamInterface<ProtocolCase> {
};

TEST_P(StreamProtocolTest, ClearStatusAndServerKeepsServing) {
  const ProtocolCase& error = GetParam();
  const StreamedTensor tensor = MakeStreamedTensor(
      "relu", Mode::kBackward, DType::kFloat32, {1000}, 0, 5);
  const auto valid =
      StreamMessages(tensor.header, tensor.x, tensor.grad_output, 250, 250);
  ASSERT_EQ(valid.size(), 5u);
  ExpectStreamMatches(CallEvaluateStream(*stub_, valid), {tensor});

  const StreamResult result = CallEvaluateStream(*stub_, error.mutate(valid));
  EXPECT_EQ(result.status.error_code(), error.code)
      << result.status.error_message();
  EXPECT_THAT(result.status.error_message(), HasSubstr(error.message_part));

  ExpectStreamMatches(CallEvaluateStream(*stub_, valid), {tensor});
}

INSTANTIATE_TEST_SUITE_P(
    Cases, StreamProtocolTest, ::testing::ValuesIn(ProtocolCases()),
    [](const ::testing::TestParamInfo<ProtocolCase>& info) {
      return info.param.name;
    });

}  // namespace
}  // namespace actserve::testing
