#include "conclave/core/elf_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace conclave::core {
namespace {

// Every module the dev build produces must be unloadable: glibc never unloads a library with an
// STB_GNU_UNIQUE symbol.
TEST(ElfFile, NoModuleHasUniqueSymbols) {
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(CONCLAVE_LIB_DIR)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("libconclave_", 0) != 0 || entry.path().extension() != ".so") continue;
    auto elf = ReadElfFile(entry.path().string());
    ASSERT_TRUE(elf.ok()) << elf.status();
    EXPECT_TRUE(elf->unique_symbols.empty())
        << name << " has UNIQUE symbols, e.g. " << elf->unique_symbols.front();
    EXPECT_EQ(elf->build_id.size(), 40u) << name << " has no sha1 build id";
    EXPECT_EQ(elf->soname, name);
    ++checked;
  }
  EXPECT_GE(checked, 5);  // core, database, service, api, admin
}

// The checker itself finds them (the test module variant built with -fgnu-unique).
TEST(ElfFile, FindsUniqueSymbolsAndNeeded) {
  auto unique = ReadElfFile(CONCLAVE_TEST_MODULE_DIR "/unique/libconclave_tmod.so");
  ASSERT_TRUE(unique.ok()) << unique.status();
  EXPECT_FALSE(unique->unique_symbols.empty());
  auto dep = ReadElfFile(CONCLAVE_TEST_MODULE_DIR "/dep/libconclave_tdep.so");
  ASSERT_TRUE(dep.ok());
  EXPECT_THAT(dep->needed, ::testing::Contains("libconclave_tmod.so"));
}

TEST(ElfFile, TruncatedFileIsUnavailable) {
  std::string source = CONCLAVE_TEST_MODULE_DIR "/good/libconclave_tmod.so";
  std::string half = ::testing::TempDir() + "/half.so";
  {
    std::ifstream in(source, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream out(half, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  EXPECT_EQ(ReadElfFile(half).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ReadElfFile("/nonexistent.so").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadElfFile(CONCLAVE_SOURCE_DIR "/CMakeLists.txt").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace conclave::core
