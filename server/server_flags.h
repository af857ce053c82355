#ifndef ACTSERVE_SERVER_SERVER_FLAGS_H_
#define ACTSERVE_SERVER_SERVER_FLAGS_H_

#include "absl/status/statusor.h"
#include "server/logging.h"
#include "server/server_config.h"

namespace actserve {

// Parses the command line into a validated config. A flag not given on the
// command line takes ACTSERVE_<FLAG NAME> from the environment when set (e.g.
// ACTSERVE_LISTEN, ACTSERVE_THREADS), which is how containers configure the
// server. --help prints every flag with its default and its variable, and
// exits 0; malformed flags exit 1, as absl does.
absl::StatusOr<ServerConfig> ConfigFromCommandLine(int argc, char** argv);

// --log_level (after ConfigFromCommandLine).
LogLevel LogLevelFromFlags();

}  // namespace actserve

#endif  // ACTSERVE_SERVER_SERVER_FLAGS_H_
