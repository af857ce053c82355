#include "client/chunk_assembler.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace actserve::client {
namespace {

using ::testing::HasSubstr;

v1::OutputChunk Chunk(int64_t offset, const std::string& data,
                      bool header = false) {
  v1::OutputChunk chunk;
  chunk.set_element_offset(offset);
  chunk.set_data(data);
  if (header) {
    chunk.mutable_header()->add_shape(2);
    chunk.mutable_header()->add_shape(3);
    chunk.mutable_header()->set_dtype(v1::DTYPE_FLOAT16);  // 12 bytes
  }
  return chunk;
}

TEST(ChunkAssemblerTest, AssemblesChunksInAnyOrder) {
  ChunkAssembler assembler;
  ASSERT_TRUE(assembler.Add(Chunk(2, "ccdd", /*header=*/true)).ok());
  EXPECT_EQ(assembler.expected_bytes(), 12);
  ASSERT_TRUE(assembler.Add(Chunk(0, "aabb")).ok());
  EXPECT_FALSE(assembler.Finish().ok());
  ASSERT_TRUE(assembler.Add(Chunk(4, "eeff")).ok());
  ASSERT_TRUE(assembler.Finish().ok());
  EXPECT_EQ(assembler.tensor().data(), "aabbccddeeff");
  EXPECT_EQ(assembler.tensor().shape_size(), 2);
  EXPECT_EQ(assembler.tensor().dtype(), v1::DTYPE_FLOAT16);
}

TEST(ChunkAssemblerTest, EmptyOutputNeedsOnlyTheHeader) {
  ChunkAssembler assembler;
  EXPECT_THAT(assembler.Finish().message(), HasSubstr("no output"));
  v1::OutputChunk chunk;
  chunk.mutable_header()->add_shape(0);
  chunk.mutable_header()->set_dtype(v1::DTYPE_FLOAT32);
  ASSERT_TRUE(assembler.Add(chunk).ok());
  EXPECT_TRUE(assembler.Finish().ok());
}

TEST(ChunkAssemblerTest, RejectsBrokenStreams) {
  {
    ChunkAssembler assembler;
    EXPECT_THAT(assembler.Add(Chunk(0, "aa")).message(),
                HasSubstr("before its header"));
  }
  {
    ChunkAssembler assembler;
    ASSERT_TRUE(assembler.Add(Chunk(0, "aabb", true)).ok());
    EXPECT_THAT(assembler.Add(Chunk(1, "xx", true)).message(),
                HasSubstr("second output header"));
    EXPECT_THAT(assembler.Add(Chunk(1, "xx")).message(), HasSubstr("twice"));
    EXPECT_THAT(assembler.Add(Chunk(5, "xxyy")).message(),
                HasSubstr("bytes at element 5"));
    EXPECT_THAT(assembler.Add(Chunk(2, "x")).message(), HasSubstr("1 bytes"));
    EXPECT_THAT(assembler.Add(Chunk(-1, "xx")).message(),
                HasSubstr("element -1"));
  }
  {
    // Overlapping the start of a later range.
    ChunkAssembler assembler;
    ASSERT_TRUE(assembler.Add(Chunk(3, "dd", true)).ok());
    EXPECT_THAT(assembler.Add(Chunk(2, "ccdd")).message(), HasSubstr("twice"));
  }
  {
    v1::OutputChunk no_dtype;
    no_dtype.mutable_header()->add_shape(1);
    ChunkAssembler assembler;
    EXPECT_THAT(assembler.Add(no_dtype).message(), HasSubstr("dtype"));
  }
}

TEST(ChunkAssemblerTest, WritesWhereTheAllocatorSays) {
  std::string buffer(12, '.');
  int64_t asked = -1;
  ChunkAssembler assembler([&](const v1::TensorHeader& header,
                               int64_t bytes) -> absl::StatusOr<char*> {
    EXPECT_EQ(header.dtype(), v1::DTYPE_FLOAT16);
    asked = bytes;
    return buffer.data();
  });
  ASSERT_TRUE(assembler.Add(Chunk(4, "eeff", /*header=*/true)).ok());
  EXPECT_EQ(asked, 12);
  ASSERT_TRUE(assembler.Add(Chunk(0, "aabbccdd")).ok());
  ASSERT_TRUE(assembler.Finish().ok());
  EXPECT_EQ(buffer, "aabbccddeeff");
  EXPECT_EQ(assembler.tensor().shape_size(), 2);
  EXPECT_TRUE(assembler.tensor().data().empty());
}

TEST(ChunkAssemblerTest, AllocatorFailuresStopTheAssembly) {
  ChunkAssembler assembler(
      [](const v1::TensorHeader&, int64_t) -> absl::StatusOr<char*> {
        return absl::ResourceExhaustedError("disk full");
      });
  EXPECT_THAT(assembler.Add(Chunk(0, "aabb", true)).message(),
              HasSubstr("disk full"));
}

}  // namespace
}  // namespace actserve::client
