#ifndef ACTSERVE_SERVER_MESSAGE_BYTES_H_
#define ACTSERVE_SERVER_MESSAGE_BYTES_H_

#include <grpcpp/support/byte_buffer.h>

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message_lite.h"

// ActivationService takes requests and gives responses as the raw bytes gRPC
// carries, and converts them here. gRPC 1.51's callback handlers answer a
// request that does not parse with UNIMPLEMENTED and an empty message (as if
// the method did not exist), and a bidi reactor sees a message that does not
// parse as the end of the stream; parsing it ourselves turns both into a
// clear INVALID_ARGUMENT.
namespace actserve {

// Parses `bytes` (consumed) into `message`. InvalidArgument naming the
// message type, and `message` left empty, when the bytes are not a valid
// encoding of it: truncated, a malformed tag or length, or invalid UTF-8 in a
// string field.
absl::Status ParseRequest(grpc::ByteBuffer& bytes,
                          google::protobuf::MessageLite* message);

// The wire encoding of a response. Fails (Internal) only for a message over
// protobuf's 2 GiB limit, which --max_message_bytes keeps this server under.
absl::StatusOr<grpc::ByteBuffer> SerializeResponse(
    const google::protobuf::MessageLite& message);

// Appends the encodings of `responses` to `out`, up to the first failure.
template <typename Response>
absl::Status SerializeResponses(const std::vector<Response>& responses,
                                std::vector<grpc::ByteBuffer>* out) {
  for (const Response& response : responses) {
    absl::StatusOr<grpc::ByteBuffer> bytes = SerializeResponse(response);
    if (!bytes.ok()) return bytes.status();
    out->push_back(*std::move(bytes));
  }
  return absl::OkStatus();
}

}  // namespace actserve

#endif  // ACTSERVE_SERVER_MESSAGE_BYTES_H_
