#include "conclave/core/elf_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

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

// The demangled defined dynamic symbols of `path`, one a line, as binutils' nm lists them.
std::string DefinedSymbols(const std::string& path) {
  std::string out;
  FILE* nm = popen(("nm -DC --defined-only " + path + " 2>&1").c_str(), "r");
  if (nm == nullptr) return out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), nm)) > 0) out.append(buffer, n);
  pclose(nm);
  return out;
}

// fmt is compiled once, in core (src/core/fmt_impl.cc), which is never unloaded. A module with
// its own copy of fmt's formatting core (a source compiled with FMT_HEADER_ONLY, or calling
// fmt::format_to on a std::back_insert_iterator) pays its compile in every edit.
TEST(ElfFile, FmtFormattingCoreLivesInCoreOnly) {
  constexpr std::string_view kCore = "fmt::v9::detail::vformat_to<char>";
  EXPECT_NE(DefinedSymbols(CONCLAVE_LIB_DIR "/libconclave_core.so").find(kCore), std::string::npos);
  for (const char* module : {"database", "service", "api", "admin"}) {
    std::string symbols =
        DefinedSymbols(std::string(CONCLAVE_LIB_DIR) + "/libconclave_" + module + ".so");
    EXPECT_NE(symbols.find("conclave::"), std::string::npos)
        << module << ": nm failed: " << symbols;
    EXPECT_EQ(symbols.find("::detail::vformat_to"), std::string::npos) << module;
    EXPECT_EQ(symbols.find("::dragonbox::"), std::string::npos) << module;
  }
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
