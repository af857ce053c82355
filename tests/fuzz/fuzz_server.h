#ifndef ACTSERVE_TESTS_FUZZ_FUZZ_SERVER_H_
#define ACTSERVE_TESTS_FUZZ_FUZZ_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>

#include "actserve/v1/actserve.grpc.pb.h"

// The server the request fuzzers talk to: one in-process ActivationServer for
// the whole run, with limits small enough that no input makes an iteration
// slow (a few thousand elements per tensor) and the normal validation path
// otherwise.
namespace actserve::fuzzing {

inline constexpr int64_t kMaxElements = 4096;

// The channel to that server, and a stub on it.
const std::shared_ptr<grpc::Channel>& FuzzChannel();
v1::ActivationService::Stub& FuzzStub();

// Aborts (a crash libFuzzer records) when `status` is one a client must never
// get for a request it could serialize: the server's faults, or a code that
// misnames the problem.
void CheckStatusIsAnAnswer(const grpc::Status& status);

// Aborts with `what` unless `condition` holds.
void Require(bool condition, const char* what);

}  // namespace actserve::fuzzing

#endif  // ACTSERVE_TESTS_FUZZ_FUZZ_SERVER_H_
