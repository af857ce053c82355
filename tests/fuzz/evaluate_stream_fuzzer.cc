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

// The records' bytes, and whether every one of them parses as an
// EvaluateStreamRequest (into `messages`).
bool SplitMessages(const uint8_t* data, size_t size,
                   std::vector<std::string>* records,
                   std::vector<v1::EvaluateStreamRequest>* messages) {
  bool parsed = true;
  while (size >= 2 && records->size() < kMaxMessages) {
    size_t length = data[0] | (size_t{data[1]} << 8);
    data += 2;
    size -= 2;
    if (length > size) length = size;
    records->emplace_back(reinterpret_cast<const char*>(data), length);
    parsed = parsed && messages->emplace_back().ParseFromArray(
                           data, static_cast<int>(length));
    data += length;
    size -= length;
  }
  return parsed;
}

void StreamOnce(const uint8_t* data, size_t size) {
  v1::ActivationService::Stub& stub = FuzzStub();
  std::vector<std::string> records;
  std::vector<v1::EvaluateStreamRequest> messages;
  if (!SplitMessages(data, size, &records, &messages)) {
    // A message the server cannot parse was not processed: the stream must
    // not end OK (never read as a half-close).
    const testing::RawCallResult raw = testing::RawCall(
        FuzzChannel(), "/actserve.v1.ActivationService/EvaluateStream",
        records);
    CheckStatusIsAnAnswer(raw.status);
    Require(!raw.status.ok(), "a stream with an unparsable message fails");
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
