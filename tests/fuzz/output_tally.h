#ifndef ACTSERVE_TESTS_FUZZ_OUTPUT_TALLY_H_
#define ACTSERVE_TESTS_FUZZ_OUTPUT_TALLY_H_

#include <cstdint>
#include <vector>

#include "actserve/v1/actserve.pb.h"

namespace actserve::fuzzing {

// Collects one call's output chunks and checks the chunking contract as they
// arrive (aborting on a break): outputs in order, a header on each output's
// first chunk only, contiguous offsets, whole elements.
class OutputTally {
 public:
  void Add(const v1::OutputChunk& chunk);
  // Outputs begun so far.
  int outputs() const { return static_cast<int>(outputs_.size()); }
  // Aborts unless output `index` is complete: its bytes are what its header's
  // shape and dtype say, and `elements` when that is not negative.
  void CheckComplete(int index, int64_t elements = -1) const;

 private:
  struct Output {
    int64_t expected_elements;
    size_t item_size;
    int64_t received_elements = 0;
  };
  std::vector<Output> outputs_;
};

}  // namespace actserve::fuzzing

#endif  // ACTSERVE_TESTS_FUZZ_OUTPUT_TALLY_H_
