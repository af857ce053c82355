#include "server/message_bytes.h"

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include "absl/strings/str_cat.h"

namespace actserve {

absl::Status ParseRequest(grpc::ByteBuffer& bytes,
                          google::protobuf::MessageLite* message) {
  message->Clear();
  // A zero-length message arrives as no buffer at all.
  if (!bytes.Valid()) return absl::OkStatus();
  bool parsed;
  {
    grpc::ProtoBufferReader reader(&bytes);
    parsed = reader.status().ok() && message->ParseFromZeroCopyStream(&reader);
  }
  bytes.Clear();
  if (parsed) return absl::OkStatus();
  // Not half a message: what a failed parse got to may look like a request.
  message->Clear();
  return absl::InvalidArgumentError(absl::StrCat(
      "the request could not be parsed as ", message->GetTypeName(),
      ": it is not valid protobuf (truncated, a malformed field, or a string "
      "that is not UTF-8)"));
}

absl::StatusOr<grpc::ByteBuffer> SerializeResponse(
    const google::protobuf::MessageLite& message) {
  grpc::ByteBuffer bytes;
  bool own_buffer;
  const grpc::Status status =
      grpc::SerializationTraits<google::protobuf::MessageLite>::Serialize(
          message, &bytes, &own_buffer);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("cannot serialize ",
                                            message.GetTypeName(), ": ",
                                            status.error_message()));
  }
  return bytes;
}

}  // namespace actserve
