#include "client/npy.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/mapped_npy_file.h"
#include "client/npy_input_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace actserve::client {
namespace {

using ::testing::HasSubstr;

// A .npy file as numpy writes it, from a header dict and raw data; version
// 1 has a 2-byte header length, versions 2 and 3 a 4-byte one.
std::string NpyFile(const std::string& dict, const std::string& data,
                    int major = 1) {
  std::string header = dict;
  const size_t length_bytes = major == 1 ? 2 : 4;
  while ((6 + 2 + length_bytes + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string file("\x93NUMPY", 6);
  file += static_cast<char>(major);
  file += '\0';
  for (size_t i = 0; i < length_bytes; ++i) {
    file += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  }
  return file + header + data;
}

std::string FloatBytes(std::initializer_list<float> values) {
  std::string out(values.size() * sizeof(float), '\0');
  std::memcpy(out.data(), values.begin(), out.size());
  return out;
}

TEST(NpyTest, ParsesFloat32Matrix) {
  const std::string data = FloatBytes({1, 2, 3, 4, 5, 6});
  absl::StatusOr<NpyArray> array = ParseNpy(
      NpyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
              data),
      false);
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->type, NpyType::kFloat32);
  EXPECT_THAT(array->shape, ::testing::ElementsAre(2, 3));
  EXPECT_EQ(array->data, data);
}

TEST(NpyTest, ParsesVersions2And3AndDoubleQuotes) {
  for (int major : {2, 3}) {
    absl::StatusOr<NpyArray> array = ParseNpy(
        NpyFile(R"({"descr": "<f8", "fortran_order": False, "shape": (1,)})",
                std::string(8, '\0'), major),
        false);
    ASSERT_TRUE(array.ok()) << major << ": " << array.status();
    EXPECT_EQ(array->type, NpyType::kFloat64);
    EXPECT_THAT(array->shape, ::testing::ElementsAre(1));
  }
}

TEST(NpyTest, ParsesScalarAndEmptyArrays) {
  absl::StatusOr<NpyArray> scalar = ParseNpy(
      NpyFile("{'descr': '<f2', 'fortran_order': False, 'shape': (), }",
              std::string(2, '\0')),
      false);
  ASSERT_TRUE(scalar.ok()) << scalar.status();
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(scalar->ElementCount(), 1);
  absl::StatusOr<NpyArray> empty = ParseNpy(
      NpyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 7), }",
              ""),
      false);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->ElementCount(), 0);
}

TEST(NpyTest, Uint16IsBfloat16OnlyWhenAsked) {
  const std::string file =
      NpyFile("{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }",
              std::string(4, '\0'));
  absl::StatusOr<NpyArray> plain = ParseNpy(file, false);
  EXPECT_THAT(plain.status().message(), HasSubstr("--bf16"));
  absl::StatusOr<NpyArray> bf16 = ParseNpy(file, true);
  ASSERT_TRUE(bf16.ok()) << bf16.status();
  EXPECT_EQ(bf16->type, NpyType::kBFloat16);
}

TEST(NpyTest, OneDimensionalFortranOrderIsTheSameAsCOrder) {
  absl::StatusOr<NpyArray> array = ParseNpy(
      NpyFile("{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }",
              FloatBytes({1, 2, 3})),
      false);
  EXPECT_TRUE(array.ok()) << array.status();
}

struct RejectCase {
  std::string name;
  std::string file;
  std::string message;
};

TEST(NpyTest, RejectsWhatItCannotRepresentWithAReason) {
  const std::string f4x2 = FloatBytes({1, 2});
  const RejectCase cases[] = {
      {"fortran",
       NpyFile("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }",
               f4x2),
       "Fortran"},
      {"big endian",
       NpyFile("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
               f4x2),
       "big-endian"},
      {"int32",
       NpyFile("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
               f4x2),
       "integer"},
      {"object",
       NpyFile("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
               std::string(16, '\0')),
       "object"},
      {"complex",
       NpyFile("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
               f4x2),
       "not supported"},
      {"structured",
       NpyFile("{'descr': [('a', '<f4')], 'fortran_order': False, "
               "'shape': (2,), }",
               f4x2),
       "structured"},
      {"truncated data",
       NpyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
               f4x2),
       "truncated"},
      {"extra data",
       NpyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
               f4x2),
       "oversized"},
      {"truncated header",
       NpyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "")
           .substr(0, 20),
       "truncated"},
      {"bad magic", "PK\x03\x04 a zip file", "magic"},
      {"unknown version",
       NpyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
               f4x2, 4),
       "version 4"},
      {"missing shape",
       NpyFile("{'descr': '<f4', 'fortran_order': False, }", f4x2), "needs"},
  };
  // ReadNpyFile reads regular files its own way (header first, then the
  // data straight into place), so both paths see every case.
  const std::string path = ::testing::TempDir() + "/npy_reject_test.npy";
  for (const RejectCase& c : cases) {
    absl::StatusOr<NpyArray> array = ParseNpy(c.file, true);
    EXPECT_FALSE(array.ok()) << c.name;
    EXPECT_THAT(array.status().message(), HasSubstr(c.message)) << c.name;
    std::ofstream(path, std::ios::binary) << c.file;
    absl::StatusOr<NpyArray> from_file = ReadNpyFile(path, true);
    EXPECT_FALSE(from_file.ok()) << c.name;
    EXPECT_EQ(from_file.status().message(),
              absl::StrCat(path, ": ", array.status().message()))
        << c.name;
  }
}

TEST(NpyTest, SerializedFilesParseBackAndAreAligned) {
  for (NpyType type : {NpyType::kFloat16, NpyType::kFloat32, NpyType::kFloat64,
                       NpyType::kBFloat16}) {
    NpyArray array;
    array.type = type;
    array.shape = {3, 1, 2};
    for (int i = 0; i < 6 * static_cast<int>(NpyItemSize(type)); ++i) {
      array.data += static_cast<char>(i * 7);
    }
    const std::string file = SerializeNpy(array);
    EXPECT_EQ((file.size() - array.data.size()) % 64, 0u);
    absl::StatusOr<NpyArray> back = ParseNpy(file, true);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->type, type);
    EXPECT_EQ(back->shape, array.shape);
    EXPECT_EQ(back->data, array.data);
  }
}

TEST(NpyTest, SerializesOneDimensionalShapeAsATuple) {
  NpyArray array;
  array.shape = {4};
  array.data = FloatBytes({1, 2, 3, 4});
  EXPECT_THAT(SerializeNpy(array), HasSubstr("'shape': (4,)"));
}

TEST(NpyTest, FilesRoundTripAndMissingFileIsNotFound) {
  const std::string path = ::testing::TempDir() + "/npy_test.npy";
  NpyArray array;
  array.type = NpyType::kFloat64;
  array.shape = {2};
  array.data = std::string(16, '\x3f');
  ASSERT_TRUE(WriteNpyFile(path, array).ok());
  absl::StatusOr<NpyArray> back = ReadNpyFile(path, false);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->data, array.data);
  EXPECT_EQ(back->shape, array.shape);
  // Not a regular file: read to its end, then parsed as a whole.
  std::ifstream pipe_source(path, std::ios::binary);
  const std::string fifo = ::testing::TempDir() + "/npy_test.fifo";
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer(
      [&] { std::ofstream(fifo, std::ios::binary) << pipe_source.rdbuf(); });
  absl::StatusOr<NpyArray> piped = ReadNpyFile(fifo, false);
  writer.join();
  ASSERT_TRUE(piped.ok()) << piped.status();
  EXPECT_EQ(piped->data, array.data);
  EXPECT_EQ(ReadNpyFile(path + ".missing", false).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(MappedNpyFileTest, WritesAFileThatReadsBack) {
  const std::string path = ::testing::TempDir() + "/mapped_test.npy";
  NpyArray layout;
  layout.type = NpyType::kFloat32;
  layout.shape = {2, 2};
  const std::string data = FloatBytes({1, 2, 3, 4});
  {
    absl::StatusOr<std::unique_ptr<MappedNpyFile>> file =
        MappedNpyFile::Create(path, layout, data.size());
    ASSERT_TRUE(file.ok()) << file.status();
    std::memcpy((*file)->data(), data.data(), data.size());
  }
  absl::StatusOr<NpyArray> back = ReadNpyFile(path, false);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->shape, layout.shape);
  EXPECT_EQ(back->data, data);
  EXPECT_EQ(MappedNpyFile::Create(::testing::TempDir() + "/no/such/dir.npy",
                                  layout, data.size())
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(NpyInputFileTest, MapsRegularFilesAndReadsPipes) {
  const std::string path = ::testing::TempDir() + "/input_test.npy";
  const std::string data = FloatBytes({1, 2, 3});
  std::ofstream(path, std::ios::binary) << NpyFile(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", data);
  absl::StatusOr<std::unique_ptr<NpyInputFile>> mapped =
      NpyInputFile::Open(path, false);
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_EQ((*mapped)->array().data, data);
  EXPECT_EQ((*mapped)->array().shape, std::vector<int64_t>{3});

  const std::string fifo = ::testing::TempDir() + "/input_test.fifo";
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] {
    std::ifstream source(path, std::ios::binary);
    std::ofstream(fifo, std::ios::binary) << source.rdbuf();
  });
  absl::StatusOr<std::unique_ptr<NpyInputFile>> piped =
      NpyInputFile::Open(fifo, false);
  writer.join();
  ASSERT_TRUE(piped.ok()) << piped.status();
  EXPECT_EQ((*piped)->array().data, data);

  std::ofstream(path, std::ios::binary) << NpyFile(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", data);
  EXPECT_THAT(NpyInputFile::Open(path, false).status().message(),
              HasSubstr(path + ": truncated"));
  EXPECT_EQ(NpyInputFile::Open(path + ".missing", false).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace actserve::client
