#include "client/npy.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace actserve::client {
namespace {

constexpr absl::string_view kMagic("\x93NUMPY", 6);
// numpy pads the preamble (magic, version, length, header) to a multiple of
// 64 bytes so that the data is aligned for memory mapping.
constexpr size_t kAlignment = 64;

// The header is the repr() of a Python dict such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// This reads exactly that subset: string keys, and values that are strings,
// booleans or tuples of integers.
class HeaderReader {
 public:
  explicit HeaderReader(absl::string_view text) : text_(text) {}

  absl::Status Read(std::string* descr, bool* fortran_order,
                    std::vector<int64_t>* shape) {
    bool has_descr = false, has_order = false, has_shape = false;
    if (!Consume('{')) return Error("expected '{'");
    while (!Consume('}')) {
      std::string key;
      if (!ReadString(&key)) return Error("expected a quoted key");
      if (!Consume(':')) return Error("expected ':'");
      if (key == "descr") {
        if (!ReadString(descr)) {
          return absl::InvalidArgumentError(
              "structured arrays (a list 'descr') are not supported");
        }
        has_descr = true;
      } else if (key == "fortran_order") {
        if (!ReadBool(fortran_order)) return Error("expected True or False");
        has_order = true;
      } else if (key == "shape") {
        if (!ReadShape(shape)) return Error("expected a tuple of integers");
        has_shape = true;
      } else {
        return Error(absl::StrCat("unexpected key '", key, "'"));
      }
      if (!Consume(',') && !Peek('}')) return Error("expected ',' or '}'");
    }
    if (!has_descr || !has_order || !has_shape) {
      return Error("needs 'descr', 'fortran_order' and 'shape'");
    }
    SkipSpace();
    if (pos_ != text_.size()) return Error("text after the dictionary");
    return absl::OkStatus();
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed .npy header (", what, " at offset ", pos_, "): ", text_));
  }

  void SkipSpace() {
    while (pos_ < text_.size() && absl::ascii_isspace(text_[pos_])) ++pos_;
  }
  bool Peek(char c) {
    SkipSpace();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  bool Consume(char c) {
    if (!Peek(c)) return false;
    ++pos_;
    return true;
  }
  bool ReadString(std::string* out) {
    SkipSpace();
    if (pos_ >= text_.size()) return false;
    const char quote = text_[pos_];
    if (quote != '\'' && quote != '"') return false;
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == absl::string_view::npos) return false;
    *out = std::string(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return true;
  }
  bool ReadWord(absl::string_view word) {
    SkipSpace();
    if (!absl::StartsWith(text_.substr(pos_), word)) return false;
    pos_ += word.size();
    return true;
  }
  bool ReadBool(bool* out) {
    if (ReadWord("True")) {
      *out = true;
      return true;
    }
    if (ReadWord("False")) {
      *out = false;
      return true;
    }
    return false;
  }
  bool ReadShape(std::vector<int64_t>* shape) {
    shape->clear();
    if (!Consume('(')) return false;
    while (!Consume(')')) {
      SkipSpace();
      const size_t start = pos_;
      while (pos_ < text_.size() && absl::ascii_isdigit(text_[pos_])) ++pos_;
      int64_t dim;
      // Python 2 era files may write dimensions as longs: (3L, 4L).
      const absl::string_view digits = text_.substr(start, pos_ - start);
      if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;
      if (!absl::SimpleAtoi(digits, &dim)) return false;
      shape->push_back(dim);
      if (!Consume(',') && !Peek(')')) return false;
    }
    return true;
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

absl::StatusOr<NpyType> TypeFromDescr(absl::string_view descr,
                                      bool uint16_as_bfloat16) {
  if (descr.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown .npy dtype '", descr, "'"));
  }
  const char order = descr[0];
  const absl::string_view kind = descr.substr(1);
  if (order == '>') {
    return absl::InvalidArgumentError(absl::StrCat(
        "big-endian arrays ('", descr,
        "') are not supported; convert with a.astype(a.dtype.newbyteorder("
        "'<'))"));
  }
  if (order != '<' && order != '|' && order != '=') {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown .npy byte order in '", descr, "'"));
  }
  if (kind == "f2") return NpyType::kFloat16;
  if (kind == "f4") return NpyType::kFloat32;
  if (kind == "f8") return NpyType::kFloat64;
  if (kind == "u2" && uint16_as_bfloat16) return NpyType::kBFloat16;
  if (kind == "u2") {
    return absl::InvalidArgumentError(
        "uint16 array: pass --bf16 if it holds bfloat16 bit patterns");
  }
  switch (kind[0]) {
    case 'O':
      return absl::InvalidArgumentError(
          "object arrays are not supported; save a float array");
    case 'i':
    case 'u':
    case 'b':
      return absl::InvalidArgumentError(absl::StrCat(
          "integer or boolean arrays ('", descr,
          "') are not supported; convert with a.astype(np.float32)"));
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "dtype '", descr,
          "' is not supported: use float16, float32, float64 or bfloat16"));
  }
}

absl::string_view Descr(NpyType type) {
  switch (type) {
    case NpyType::kFloat16:
      return "<f2";
    case NpyType::kFloat32:
      return "<f4";
    case NpyType::kFloat64:
      return "<f8";
    case NpyType::kBFloat16:
      return "<u2";
  }
  return "";
}

uint32_t ReadLittleEndian(absl::string_view bytes) {
  uint32_t value = 0;
  for (size_t i = bytes.size(); i-- > 0;) {
    value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return value;
}

void AppendLittleEndian(uint32_t value, size_t bytes, std::string* out) {
  for (size_t i = 0; i < bytes; ++i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

// Magic, version and the header's length field: enough to know where the
// data starts.
constexpr size_t kFixedPreambleBytes = kMagic.size() + 2 + 4;

// Where the header starts and ends (the data follows), from the file's first
// kFixedPreambleBytes (or fewer for a short file, reported as truncated).
struct PreambleExtent {
  size_t header_start;
  size_t end;
};
absl::StatusOr<PreambleExtent> FindPreamble(absl::string_view file) {
  if (!absl::StartsWith(file, kMagic)) {
    return absl::InvalidArgumentError("not a .npy file (bad magic string)");
  }
  if (file.size() < kMagic.size() + 2) {
    return absl::InvalidArgumentError("truncated .npy file (no version)");
  }
  const int major = static_cast<unsigned char>(file[6]);
  size_t length_bytes;
  switch (major) {
    case 1:
      length_bytes = 2;
      break;
    case 2:
    case 3:  // 3.0 only changes the header's encoding to UTF-8.
      length_bytes = 4;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unsupported .npy format version ", major));
  }
  const size_t header_start = kMagic.size() + 2 + length_bytes;
  if (file.size() < header_start) {
    return absl::InvalidArgumentError("truncated .npy file (header length)");
  }
  return PreambleExtent{header_start,
                        header_start + ReadLittleEndian(file.substr(
                                           kMagic.size() + 2, length_bytes))};
}

// What the preamble (magic, version, header) says about the data after it.
struct Preamble {
  size_t size = 0;  // bytes before the data
  std::string descr;
  NpyArray array;  // shape and type; no data yet
  uint64_t data_bytes = 0;
};

// Parses the preamble at the start of `file`, which may end anywhere after it.
absl::StatusOr<Preamble> ParsePreamble(absl::string_view file,
                                       bool uint16_as_bfloat16) {
  absl::StatusOr<PreambleExtent> extent = FindPreamble(file);
  if (!extent.ok()) return extent.status();
  if (file.size() < extent->end) {
    return absl::InvalidArgumentError("truncated .npy file (header)");
  }
  Preamble preamble;
  preamble.size = extent->end;
  bool fortran_order = false;
  NpyArray& array = preamble.array;
  absl::Status status =
      HeaderReader(
          file.substr(extent->header_start, extent->end - extent->header_start))
          .Read(&preamble.descr, &fortran_order, &array.shape);
  if (!status.ok()) return status;
  absl::StatusOr<NpyType> type =
      TypeFromDescr(preamble.descr, uint16_as_bfloat16);
  if (!type.ok()) return type.status();
  array.type = *type;
  if (fortran_order && array.shape.size() > 1) {
    return absl::InvalidArgumentError(
        "Fortran-order arrays are not supported; save "
        "np.ascontiguousarray(a)");
  }
  uint64_t expected = NpyItemSize(array.type);
  for (int64_t dim : array.shape) {
    if (dim != 0 && expected > std::numeric_limits<uint64_t>::max() /
                                   static_cast<uint64_t>(dim)) {
      return absl::InvalidArgumentError("the .npy shape is too large");
    }
    expected *= static_cast<uint64_t>(dim);
  }
  preamble.data_bytes = expected;
  return preamble;
}

absl::Status CheckDataSize(const Preamble& preamble, uint64_t data_bytes) {
  if (data_bytes == preamble.data_bytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      data_bytes < preamble.data_bytes ? "truncated" : "oversized",
      " .npy file: shape (", absl::StrJoin(preamble.array.shape, ", "), ") of ",
      preamble.descr, " needs ", preamble.data_bytes,
      " data bytes, the file has ", data_bytes));
}

// A regular file of `file_size` bytes: its size is checked against the
// header before anything is allocated, and the data is read once, straight
// into the array (a 256 MiB file otherwise costs seconds of copies and page
// faults).
absl::StatusOr<NpyArray> ReadRegularNpy(std::ifstream& in, uint64_t file_size,
                                        bool uint16_as_bfloat16) {
  std::string preamble_bytes(std::min<uint64_t>(file_size, kFixedPreambleBytes),
                             '\0');
  in.read(preamble_bytes.data(), preamble_bytes.size());
  absl::StatusOr<PreambleExtent> extent = FindPreamble(preamble_bytes);
  if (!extent.ok()) return extent.status();
  const size_t fixed = preamble_bytes.size();
  preamble_bytes.resize(std::min<uint64_t>(file_size, extent->end));
  if (preamble_bytes.size() > fixed) {
    in.read(preamble_bytes.data() + fixed, preamble_bytes.size() - fixed);
  }
  absl::StatusOr<Preamble> preamble =
      ParsePreamble(preamble_bytes, uint16_as_bfloat16);
  if (!preamble.ok()) return preamble.status();
  absl::Status status = CheckDataSize(*preamble, file_size - preamble->size);
  if (!status.ok()) return status;
  NpyArray array = std::move(preamble->array);
  array.data.resize(preamble->data_bytes);
  in.seekg(static_cast<std::streamoff>(preamble->size));
  in.read(array.data.data(), static_cast<std::streamsize>(array.data.size()));
  if (!in) return absl::DataLossError("the file changed while it was read");
  return array;
}

}  // namespace

size_t NpyItemSize(NpyType type) {
  switch (type) {
    case NpyType::kFloat16:
    case NpyType::kBFloat16:
      return 2;
    case NpyType::kFloat32:
      return 4;
    case NpyType::kFloat64:
      return 8;
  }
  return 0;
}

int64_t NpyArray::ElementCount() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

absl::StatusOr<NpyView> ParseNpyView(absl::string_view file,
                                     bool uint16_as_bfloat16) {
  absl::StatusOr<Preamble> preamble = ParsePreamble(file, uint16_as_bfloat16);
  if (!preamble.ok()) return preamble.status();
  const absl::string_view data = file.substr(preamble->size);
  absl::Status status = CheckDataSize(*preamble, data.size());
  if (!status.ok()) return status;
  return NpyView{std::move(preamble->array.shape), preamble->array.type, data};
}

absl::StatusOr<NpyArray> ParseNpy(absl::string_view file,
                                  bool uint16_as_bfloat16) {
  absl::StatusOr<NpyView> view = ParseNpyView(file, uint16_as_bfloat16);
  if (!view.ok()) return view.status();
  NpyArray array;
  array.shape = std::move(view->shape);
  array.type = view->type;
  array.data = std::string(view->data);
  return array;
}

std::string SerializeNpyHeader(const NpyArray& array) {
  // A 1-tuple needs its trailing comma: (5,).
  std::string shape = absl::StrJoin(array.shape, ", ");
  if (array.shape.size() == 1) shape += ",";
  std::string header =
      absl::StrCat("{'descr': '", Descr(array.type),
                   "', 'fortran_order': False, 'shape': (", shape, "), }");
  size_t length_bytes = 2;
  int major = 1;
  auto padded_length = [&] {
    const size_t unpadded =
        kMagic.size() + 2 + length_bytes + header.size() + 1;
    return (unpadded + kAlignment - 1) / kAlignment * kAlignment;
  };
  if (padded_length() - kMagic.size() - 2 - length_bytes > 0xffff) {
    length_bytes = 4;
    major = 2;
  }
  const size_t total = padded_length();
  header.append(total - (kMagic.size() + 2 + length_bytes + header.size()) - 1,
                ' ');
  header.push_back('\n');

  std::string out(kMagic);
  out.push_back(static_cast<char>(major));
  out.push_back(0);
  AppendLittleEndian(static_cast<uint32_t>(header.size()), length_bytes, &out);
  out += header;
  return out;
}

std::string SerializeNpy(const NpyArray& array) {
  return SerializeNpyHeader(array) + array.data;
}

absl::StatusOr<NpyArray> ReadNpyFile(const std::string& path,
                                     bool uint16_as_bfloat16) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::error_code not_regular;
  const uint64_t file_size = std::filesystem::file_size(path, not_regular);
  absl::StatusOr<NpyArray> array;
  if (not_regular) {
    // A pipe (--in=/dev/stdin): its size is only known at its end.
    std::string bytes((std::istreambuf_iterator<char>(in)),
                      std::istreambuf_iterator<char>());
    if (in.bad()) {
      return absl::DataLossError(absl::StrCat("cannot read ", path));
    }
    array = ParseNpy(bytes, uint16_as_bfloat16);
  } else {
    array = ReadRegularNpy(in, file_size, uint16_as_bfloat16);
  }
  if (!array.ok()) {
    return absl::Status(array.status().code(),
                        absl::StrCat(path, ": ", array.status().message()));
  }
  return array;
}

absl::Status WriteNpyFile(const std::string& path, const NpyArray& array) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    return absl::PermissionDeniedError(absl::StrCat("cannot create ", path));
  }
  // Header and data written apart: no second copy of a large array.
  const std::string header = SerializeNpyHeader(array);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(array.data.data(), static_cast<std::streamsize>(array.data.size()));
  out.close();
  if (!out) return absl::DataLossError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace actserve::client
