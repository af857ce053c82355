#ifndef ACTSERVE_SERVER_TERMINATION_SIGNAL_H_
#define ACTSERVE_SERVER_TERMINATION_SIGNAL_H_

namespace actserve {

// SIGTERM and SIGINT are taken with sigwait on one thread rather than in a
// handler: a gRPC server must not be shut down from a signal handler (it
// aborts on the potential deadlock), and as PID 1 in a container nothing else
// would stop it.

// Blocks both signals in the calling thread and in every thread it starts
// afterwards. Call it first in main(), before gRPC or the pool start threads.
void BlockTerminationSignals();

// Waits until SIGTERM or SIGINT arrives and returns its number.
int WaitForTerminationSignal();

}  // namespace actserve

#endif  // ACTSERVE_SERVER_TERMINATION_SIGNAL_H_
