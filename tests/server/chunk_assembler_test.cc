#include "server/chunk_assembler.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace actserve {
namespace {

using ::testing::HasSubstr;

// Elements are 4 bytes; a unit here is 3 x elements and 2 grad elements.
std::string Bytes(int elements, char fill) {
  return std::string(static_cast<size_t>(elements) * 4, fill);
}

TEST(ChunkAssemblerTest, HandsOutOnlyUnitsWithAllTheirInputs) {
  ChunkAssembler assembler(/*units=*/4, 3, 2, 4,
                           /*max_buffered_bytes=*/1 << 20);
  ASSERT_TRUE(assembler.Append(0, Bytes(7, 'x'), 0, Bytes(1, 'g')).ok());
  EXPECT_EQ(assembler.ready_units(), 0);  // grad lacks a whole unit
  ASSERT_TRUE(assembler.Append(7, "", 1, Bytes(4, 'g')).ok());
  EXPECT_EQ(assembler.ready_units(), 2);  // x: 2 units (+1 element), grad: 2.5
  ChunkAssembler::Piece piece = assembler.Take(5);
  EXPECT_EQ(piece.first_unit, 0);
  EXPECT_EQ(piece.count, 2);
  EXPECT_EQ(piece.x[0], 'x');
  EXPECT_EQ(piece.grad_output[0], 'g');
  EXPECT_EQ(assembler.ready_units(), 0);
  EXPECT_EQ(assembler.buffered_bytes(), 4u + 4u);  // the partial units

  ASSERT_TRUE(assembler.Append(7, Bytes(5, 'y'), 5, Bytes(3, 'h')).ok());
  EXPECT_TRUE(assembler.all_received());
  piece = assembler.Take(1);
  EXPECT_EQ(piece.first_unit, 2);
  EXPECT_EQ(piece.count, 1);
  // The unit joins the element left from before with the new bytes.
  EXPECT_EQ(piece.x[0], 'x');
  EXPECT_EQ(piece.x[4], 'y');
  EXPECT_EQ(piece.grad_output[0], 'g');
  EXPECT_EQ(piece.grad_output[4], 'h');
  EXPECT_FALSE(assembler.all_taken());
  piece = assembler.Take(10);
  EXPECT_EQ(piece.first_unit, 3);
  EXPECT_EQ(piece.count, 1);
  EXPECT_TRUE(assembler.all_taken());
  EXPECT_EQ(assembler.buffered_bytes(), 0u);
}

TEST(ChunkAssemblerTest, RejectsGapsOverlapsExcessAndPartialElements) {
  ChunkAssembler assembler(/*units=*/4, 1, 0, 4,
                           /*max_buffered_bytes=*/1 << 20);
  ASSERT_TRUE(assembler.Append(0, Bytes(2, 'x'), 0, "").ok());
  EXPECT_THAT(assembler.Append(3, Bytes(1, 'x'), 0, "").message(),
              HasSubstr("data.x_offset: is 3 but the data so far ends at 2 "
                        "(pieces must not leave gaps)"));
  EXPECT_THAT(assembler.Append(1, Bytes(1, 'x'), 0, "").message(),
              HasSubstr("(pieces must not overlap)"));
  EXPECT_THAT(assembler.Append(2, Bytes(3, 'x'), 0, "").message(),
              HasSubstr("data.x: 3 more elements after 2 exceed the 4"));
  EXPECT_THAT(assembler.Append(2, "abc", 0, "").message(),
              HasSubstr("3 bytes is not a whole number of 4-byte elements"));
  EXPECT_THAT(assembler.Append(2, "", 0, Bytes(1, 'g')).message(),
              HasSubstr("data.grad_output: only MODE_BACKWARD"));
  // Rejected pieces change nothing.
  EXPECT_TRUE(assembler.Append(2, Bytes(2, 'x'), 0, "").ok());
  EXPECT_TRUE(assembler.all_received());
}

// A client sending x but never grad_output must not get the whole tensor
// buffered: past the limit it is refused.
TEST(ChunkAssemblerTest, OneInputFarAheadOfTheOtherIsResourceExhausted) {
  // Units of 1 x and 1 grad element, 4 bytes each.
  ChunkAssembler assembler(/*units=*/1000, 1, 1, 4, /*max_buffered_bytes=*/336);
  int64_t offset = 0;
  absl::Status status;
  for (int i = 0; i < 100 && status.ok(); ++i, offset += 10) {
    status = assembler.Append(offset, Bytes(10, 'x'), 0, "");
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(status.message(), HasSubstr("data.x: "));
  EXPECT_THAT(status.message(), HasSubstr("but data.grad_output only 0"));
  // Interleaved, the same amount passes.
  ChunkAssembler interleaved(/*units=*/1000, 1, 1, 4,
                             /*max_buffered_bytes=*/336);
  for (int64_t at = 0; at < 1000; at += 10) {
    ASSERT_TRUE(
        interleaved.Append(at, Bytes(10, 'x'), at, Bytes(10, 'g')).ok());
    interleaved.Take(10);
  }
}

}  // namespace
}  // namespace actserve
