// The EvaluateStream state machine fed any sequence of header and data
// messages. The input is a list of records, each a 2-byte little-endian
// length and that many bytes of one EvaluateStreamRequest. Whatever the
// sequence, the call ends with an answer, and a stream that ends OK has
// answered every tensor it was sent, whole.
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "actserve/v1/actserve.pb.h"
#include "tests/fuzz/fuzz_server.h"
#include "tests/fuzz/output_tally.h"
#include "tests/server/server_test_support.h"

namespace actserve::fuzzing {
namespace {

// Enough for several tensors, each split into pieces, while every
// iteration stays fast.
constexpr size_t kMaxMessages = 64;

// Splits the records into `messages`; false, with the first record that is
// not an EvaluateStreamRequest in `unparsable`, when one does not parse.
bool SplitMessages(const uint8_t* data, size_t size,
                   std::vector<v1::EvaluateStreamRequest>* messages,
                   std::string* unparsable) {
  while (size >= 2 && messages->size() < kMaxMessages) {
    size_t length = data[0] | (size_t{data[1]} << 8);
    data += 2;
    size -= 2;
    if (length > size) length = size;
    if (!messages->emplace_back().ParseFromArray(data,
                                                 static_cast<int>(length))) {
      unparsable->assign(reinterpret_cast<const char*>(data), length);
      return false;
    }
    data += length;
    size -= length;
  }
  return true;
}

void StreamOnce(const uint8_t* data, size_t size) {
  v1::ActivationService::Stub& stub = FuzzStub();
  std::vector<v1::EvaluateStreamRequest> messages;
  std::string unparsable;
  if (!SplitMessages(data, size, &messages, &unparsable)) {
    // Sent alone, raw: a message the server cannot parse must fail the
    // stream, never read as a half-close that ends it OK. (Alone because
    // RawCall reads only once it has written everything, and the in-process
    // transport completes a write only when the other side reads it: the
    // results of earlier messages would block both sides.
    // tests/server/wire_errors_test.cc has corrupt messages mid-stream.)
    const testing::RawCallResult raw = testing::RawCall(
        FuzzChannel(), "/actserve.v1.ActivationService/EvaluateStream",
        {unparsable});
    Require(raw.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
                raw.responses.empty(),
            "a stream message that does not parse gets INVALID_ARGUMENT");
    return;
  }
  int headers = 0;
  for (const v1::EvaluateStreamRequest& message : messages) {
    headers += message.has_header();
  }

  grpc::ClientContext context;
  auto stream = stub.EvaluateStream(&context);
  // Read while writing, as a real client must: the server stops reading
  // when results wait to be sent.
  OutputTally tally;
  std::vector<v1::StreamTensorDone> done;
  std::thread reader([&] {
    v1::EvaluateStreamResponse response;
    while (stream->Read(&response)) {
      if (response.has_chunk()) {
        tally.Add(response.chunk());
      } else {
        Require(response.has_done(), "every response has a payload");
        done.push_back(response.done());
      }
    }
  });
  for (const v1::EvaluateStreamRequest& message : messages) {
    if (!stream->Write(message)) break;
  }
  stream->WritesDone();
  reader.join();
  const grpc::Status status = stream->Finish();
  CheckStatusIsAnAnswer(status);
  if (!status.ok()) return;
  Require(static_cast<int>(done.size()) == headers,
          "an OK stream answered every tensor");
  for (int i = 0; i < headers; ++i) {
    Require(done[static_cast<size_t>(i)].tensor_index() == i,
            "tensors are answered in order");
    tally.CheckComplete(i, done[static_cast<size_t>(i)].output_elements());
  }
}

}  // namespace
}  // namespace actserve::fuzzing

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  actserve::fuzzing::StreamOnce(data, size);
  return 0;
}
