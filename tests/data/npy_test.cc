// data/npy.h and data/npz.h against files NumPy writes and reads (python3 at test time).
#include "data/npy.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/npz.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/python_runner.h"
#include "tests/status_matchers.h"
#include "tests/temp_dir.h"

namespace perfgraph::data {
namespace {

using ::perfgraph::testing::HaveNumpy;
using ::perfgraph::testing::IsOk;
using ::perfgraph::testing::RunPython;
using ::perfgraph::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Dir() {
  auto dir = perfgraph::testing::ProcessTempDir() / "npy_test";
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

#define REQUIRE_NUMPY() \
  if (!HaveNumpy()) GTEST_SKIP() << "python3 with NumPy is not installed (scripts/setup.sh)"

TEST(NpyTest, ReadsEveryDtypeNumpyWrites) {
  REQUIRE_NUMPY();
  const std::string dir = Dir();
  auto r = RunPython(R"(
import sys, numpy as np
d = sys.argv[1]
np.save(d + '/f4.npy', np.array([[1.5, -2.0, 3.25], [0.0, 1e-3, 7.0]], dtype=np.float32))
np.save(d + '/f8.npy', np.array([0.1, -1e300], dtype=np.float64))
np.save(d + '/u1.npy', np.array([0, 7, 255], dtype=np.uint8))
np.save(d + '/i1.npy', np.array([-128, 5], dtype=np.int8))
np.save(d + '/i2.npy', np.array([-300, 300], dtype=np.int16))
np.save(d + '/i4.npy', np.array([-70000, 3], dtype=np.int32))
np.save(d + '/i8.npy', np.array([[-(2**40), 1], [2, 2**62]], dtype=np.int64))
np.save(d + '/u8.npy', np.array([2**63 - 1], dtype=np.uint64))
np.save(d + '/b1.npy', np.array([True, False, True]))
np.save(d + '/scalar.npy', np.float32(4.5))
np.save(d + '/empty.npy', np.zeros((0, 2), dtype=np.int64))
np.lib.format.write_array(open(d + '/v2.npy', 'wb'), np.arange(6, dtype=np.float32).reshape(3, 2), version=(2, 0))
)",
                     dir);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto parse = [&](const std::string& name) { return ParseNpy(ReadFile(dir + "/" + name), name); };

  absl::StatusOr<NpyArray> f4 = parse("f4.npy");
  ASSERT_THAT(f4.status(), IsOk());
  EXPECT_EQ(f4->dtype, NpyDtype::kFloat32);
  EXPECT_THAT(f4->shape, ElementsAre(2, 3));
  EXPECT_THAT(*f4->ToFloat32("f4"), ElementsAre(1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, 7.0f));
  // A float array is not an integer one: the error names the source and the dtype.
  EXPECT_THAT(f4->ToInt64("f4.npy:x").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("f4.npy:x: dtype <f4")));

  absl::StatusOr<NpyArray> f8 = parse("f8.npy");
  ASSERT_THAT(f8.status(), IsOk());
  EXPECT_THAT(f8->ToFloat64(), ElementsAre(0.1, -1e300));

  EXPECT_THAT(*parse("u1.npy")->ToInt64("u1"), ElementsAre(0, 7, 255));
  EXPECT_THAT(*parse("i1.npy")->ToInt64("i1"), ElementsAre(-128, 5));
  EXPECT_THAT(*parse("i2.npy")->ToInt64("i2"), ElementsAre(-300, 300));
  EXPECT_THAT(*parse("i4.npy")->ToInt64("i4"), ElementsAre(-70000, 3));
  absl::StatusOr<NpyArray> i8 = parse("i8.npy");
  ASSERT_THAT(i8.status(), IsOk());
  EXPECT_THAT(i8->shape, ElementsAre(2, 2));
  EXPECT_THAT(*i8->ToInt64("i8"), ElementsAre(-(int64_t{1} << 40), 1, 2, int64_t{1} << 62));
  EXPECT_THAT(*parse("u8.npy")->ToInt64("u8"), ElementsAre(INT64_MAX));
  EXPECT_THAT(*parse("b1.npy")->ToInt64("b1"), ElementsAre(1, 0, 1));
  absl::StatusOr<NpyArray> scalar = parse("scalar.npy");
  ASSERT_THAT(scalar.status(), IsOk());
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_THAT(*scalar->ToFloat32("s"), ElementsAre(4.5f));
  absl::StatusOr<NpyArray> empty = parse("empty.npy");
  ASSERT_THAT(empty.status(), IsOk());
  EXPECT_THAT(empty->shape, ElementsAre(0, 2));
  EXPECT_EQ(empty->num_elements(), 0);
  absl::StatusOr<NpyArray> v2 = parse("v2.npy");
  ASSERT_THAT(v2.status(), IsOk());
  EXPECT_THAT(*v2->ToFloat32("v2"), ElementsAre(0, 1, 2, 3, 4, 5));
}

TEST(NpyTest, RejectsLayoutsAndDtypesItDoesNotSupportNamingTheSource) {
  REQUIRE_NUMPY();
  const std::string dir = Dir();
  auto r = RunPython(R"(
import sys, numpy as np
d = sys.argv[1]
np.save(d + '/fortran.npy', np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
np.save(d + '/big.npy', np.array([1, 2], dtype='>f4'))
np.save(d + '/struct.npy', np.zeros(2, dtype=[('a', '<f4'), ('b', '<i8')]))
np.save(d + '/unicode.npy', np.array(['ab', 'c']))
np.save(d + '/complex.npy', np.array([1 + 2j]))
)",
                     dir);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto parse = [&](const std::string& name) {
    return ParseNpy(ReadFile(dir + "/" + name), "x.npz:" + name).status();
  };
  EXPECT_THAT(parse("fortran.npy"), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("x.npz:fortran.npy: fortran_order True")));
  EXPECT_THAT(parse("big.npy"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unsupported dtype '>f4'")));
  EXPECT_THAT(parse("struct.npy"), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("structured dtypes are not supported")));
  EXPECT_THAT(parse("unicode.npy"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unsupported dtype '<U2'")));
  EXPECT_THAT(parse("complex.npy"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unsupported dtype '<c16'")));
}

TEST(NpyTest, TruncatedAndPaddedDataAreErrors) {
  const absl::StatusOr<std::string> bytes = SerializeNpy(MakeNpyFloat32({2, 2}, {1, 2, 3, 4}));
  ASSERT_THAT(bytes.status(), IsOk());
  EXPECT_EQ(bytes->size() % 64, 16u);  // header padded to 64 bytes, then 16 bytes of data
  EXPECT_THAT(ParseNpy(bytes->substr(0, bytes->size() - 1), "t").status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("t: truncated array")));
  EXPECT_THAT(ParseNpy(*bytes + "x", "t").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1 bytes after")));
  EXPECT_THAT(ParseNpy(bytes->substr(0, 9), "t").status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("truncated .npy header")));
  EXPECT_THAT(ParseNpy("PK\x03\x04 not npy", "t").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no \\x93NUMPY magic")));
  // A shape whose element count overflows is refused before any allocation.
  std::string huge = *bytes;
  const size_t at = huge.find("(2, 2)");
  ASSERT_NE(at, std::string::npos);
  huge.replace(at, 6, "(9999999999, 99999)");
  EXPECT_THAT(ParseNpy(huge, "t").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than")));
  // The writer refuses an array whose bytes disagree with its shape.
  EXPECT_THAT(SerializeNpy(MakeNpyFloat32({3}, {1, 2})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(NpzTest, ReadsSavezAndSavezCompressed) {
  REQUIRE_NUMPY();
  const std::string dir = Dir();
  auto r = RunPython(R"(
import sys, numpy as np
d = sys.argv[1]
a = np.arange(12, dtype=np.float32).reshape(3, 4)
b = np.array([3, 1, 2], dtype=np.uint8)
np.savez(d + '/stored.npz', a=a, b=b)
np.savez_compressed(d + '/deflated.npz', a=a, b=b)
)",
                     dir);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  for (const char* name : {"stored.npz", "deflated.npz"}) {
    SCOPED_TRACE(name);
    absl::StatusOr<std::map<std::string, NpyArray>> arrays = ReadNpz(dir + "/" + name);
    ASSERT_THAT(arrays.status(), IsOk());
    ASSERT_EQ(arrays->size(), 2u);
    EXPECT_THAT(arrays->at("a").shape, ElementsAre(3, 4));
    EXPECT_EQ(arrays->at("a").ToFloat32("a")->at(11), 11.0f);
    EXPECT_THAT(*arrays->at("b").ToInt64("b"), ElementsAre(3, 1, 2));
  }
}

TEST(NpzTest, NumpyReadsWhatWeWriteStoredAndDeflated) {
  REQUIRE_NUMPY();
  const std::string dir = Dir();
  std::map<std::string, NpyArray> arrays;
  arrays["f"] = MakeNpyFloat32({2, 3}, {0.5f, 1, 2, 3, 4, -5.25f});
  arrays["i"] = MakeNpyInt64({2, 2}, {-1, 2, int64_t{1} << 50, 4});
  arrays["u"] = MakeNpyUint8({4}, {0, 1, 120, 255});
  ASSERT_THAT(WriteNpz(dir + "/ours_stored.npz", arrays, NpzCompression::kStored), IsOk());
  ASSERT_THAT(WriteNpz(dir + "/ours_deflated.npz", arrays, NpzCompression::kDeflated), IsOk());
  auto r = RunPython(R"(
import sys, numpy as np
for name in ('ours_stored.npz', 'ours_deflated.npz'):
    z = np.load(sys.argv[1] + '/' + name)
    assert sorted(z.files) == ['f', 'i', 'u'], z.files
    assert z['f'].dtype == np.float32 and z['f'].shape == (2, 3)
    assert z['f'][1, 2] == -5.25 and z['f'][0, 0] == 0.5
    assert z['i'].dtype == np.int64 and z['i'][1, 0] == 2**50
    assert z['u'].dtype == np.uint8 and list(z['u']) == [0, 1, 120, 255]
    assert z['f'].flags['C_CONTIGUOUS']
print('ok')
)",
                     dir);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("ok"));
  // And we read our own files back.
  absl::StatusOr<std::map<std::string, NpyArray>> back = ReadNpz(dir + "/ours_deflated.npz");
  ASSERT_THAT(back.status(), IsOk());
  EXPECT_EQ(back->at("i").data, arrays["i"].data);
}

TEST(NpzTest, TruncatedMissingAndForeignArchivesAreClearErrors) {
  const std::string dir = Dir();
  std::map<std::string, NpyArray> arrays;
  arrays["a"] = MakeNpyFloat32({64}, std::vector<float>(64, 1.0f));
  ASSERT_THAT(WriteNpz(dir + "/whole.npz", arrays, NpzCompression::kStored), IsOk());
  const std::string whole = ReadFile(dir + "/whole.npz");
  std::ofstream(dir + "/cut.npz", std::ios::binary) << whole.substr(0, whole.size() / 2);
  EXPECT_THAT(ReadNpz(dir + "/cut.npz").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cut.npz' is not a readable .npz (zip) archive")));
  EXPECT_THAT(ReadNpz(dir + "/absent.npz").status(), StatusIs(absl::StatusCode::kNotFound));
  std::ofstream(dir + "/text.npz") << "just text, not a zip archive\n";
  EXPECT_THAT(ReadNpz(dir + "/text.npz").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Not a zip archive")));
  // A corrupted byte inside the (stored) member data fails the member's CRC.
  std::string flipped = whole;
  const size_t data_at = flipped.find("\x93NUMPY") + 128 + 40;  // inside the float data
  flipped[data_at] ^= 0x5a;
  std::ofstream(dir + "/flipped.npz", std::ios::binary) << flipped;
  EXPECT_THAT(ReadNpz(dir + "/flipped.npz").status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("flipped.npz:a")));
}

TEST(NpyTest, EveryTruncationAndByteFlipIsAStatusNeverACrash) {
  // Bad input must end in an error, never in undefined behaviour (the sanitizer build runs this).
  const absl::StatusOr<std::string> npy = SerializeNpy(MakeNpyInt64({3, 2}, {1, 2, 3, 4, 5, 6}));
  ASSERT_THAT(npy.status(), IsOk());
  int errors = 0;
  for (size_t cut = 0; cut < npy->size(); ++cut) {
    errors += !ParseNpy(npy->substr(0, cut), "cut").ok();
  }
  EXPECT_EQ(errors, static_cast<int>(npy->size()));  // every strict prefix is refused
  for (size_t at = 0; at < 128; ++at) {  // the whole header
    for (unsigned char value : {0x00, 0x20, 0x27, 0x28, 0x29, 0x2c, 0x39, 0x7b, 0x7d, 0xff}) {
      std::string bytes = *npy;
      bytes[at] = static_cast<char>(value);
      absl::StatusOr<NpyArray> parsed = ParseNpy(bytes, "flip");
      if (parsed.ok()) {
        EXPECT_EQ(parsed->data.size(), parsed->num_elements() * NpyItemBytes(parsed->dtype));
      }
    }
  }
  // The same for whole archives: every truncation of a small .npz.
  const std::string dir = Dir();
  std::map<std::string, NpyArray> arrays;
  arrays["a"] = MakeNpyFloat32({4}, {1, 2, 3, 4});
  arrays["b"] = MakeNpyUint8({3}, {7, 8, 9});
  ASSERT_THAT(WriteNpz(dir + "/small.npz", arrays, NpzCompression::kDeflated), IsOk());
  const std::string whole = ReadFile(dir + "/small.npz");
  for (size_t cut = 0; cut < whole.size(); cut += 7) {
    const std::string path = dir + "/cut_" + std::to_string(cut) + ".npz";
    std::ofstream(path, std::ios::binary) << whole.substr(0, cut);
    EXPECT_FALSE(ReadNpz(path).ok()) << "a " << cut << "-byte prefix read as a whole archive";
  }
}

}  // namespace
}  // namespace perfgraph::data
