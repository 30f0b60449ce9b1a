#include "conclave/core/elf_file.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "conclave/core/str_cat.h"

namespace conclave::core {
namespace {

std::string Hex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 15]);
  }
  return out;
}

// Walks the notes in [data, data+size) and returns the GNU build id, or empty.
std::string BuildIdFromNotes(const unsigned char* data, size_t size) {
  size_t offset = 0;
  while (offset + sizeof(Elf64_Nhdr) <= size) {
    Elf64_Nhdr note;
    std::memcpy(&note, data + offset, sizeof(note));
    size_t name_at = offset + sizeof(note);
    size_t desc_at = name_at + ((note.n_namesz + 3) & ~size_t{3});
    size_t next = desc_at + ((note.n_descsz + 3) & ~size_t{3});
    if (next > size) break;
    if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 &&
        std::memcmp(data + name_at, "GNU", 4) == 0) {
      return Hex(data + desc_at, note.n_descsz);
    }
    offset = next;
  }
  return {};
}

}  // namespace

absl::StatusOr<ElfInfo> ReadElfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return absl::NotFoundError(core::StrCat(path, ": cannot open: ", std::strerror(errno)));
  std::string bytes(static_cast<size_t>(in.tellg()), '\0');
  in.seekg(0);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!in) return absl::UnavailableError(core::StrCat(path, ": read failed (being rewritten?)"));
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t size = bytes.size();

  auto truncated = [&] {
    return absl::UnavailableError(
        core::StrCat(path, ": truncated ELF file (", size, " bytes; still being written?)"));
  };
  if (size < sizeof(Elf64_Ehdr)) {
    if (size >= 4 && std::memcmp(data, ELFMAG, SELFMAG) == 0) return truncated();
    if (size == 0) return truncated();
    return absl::InvalidArgumentError(core::StrCat(path, ": not an ELF file"));
  }
  Elf64_Ehdr header;
  std::memcpy(&header, data, sizeof(header));
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64) {
    return absl::InvalidArgumentError(core::StrCat(path, ": not a 64-bit ELF file"));
  }
  if (header.e_shentsize != sizeof(Elf64_Shdr) ||
      header.e_shoff + uint64_t{header.e_shnum} * sizeof(Elf64_Shdr) > size) {
    return truncated();
  }
  std::vector<Elf64_Shdr> sections(header.e_shnum);
  std::memcpy(sections.data(), data + header.e_shoff, header.e_shnum * sizeof(Elf64_Shdr));
  for (const auto& s : sections) {
    if (s.sh_type != SHT_NOBITS && s.sh_offset + s.sh_size > size) return truncated();
  }

  ElfInfo info;
  info.file_size = size;
  auto string_at = [&](const Elf64_Shdr& strtab, uint64_t offset) -> std::string {
    if (offset >= strtab.sh_size) return {};
    const char* start = reinterpret_cast<const char*>(data + strtab.sh_offset + offset);
    return std::string(start, strnlen(start, strtab.sh_size - offset));
  };
  for (const auto& s : sections) {
    if (s.sh_type == SHT_NOTE && info.build_id.empty()) {
      info.build_id = BuildIdFromNotes(data + s.sh_offset, s.sh_size);
    } else if (s.sh_type == SHT_DYNAMIC && s.sh_link < sections.size()) {
      const Elf64_Shdr& strtab = sections[s.sh_link];
      for (uint64_t off = 0; off + sizeof(Elf64_Dyn) <= s.sh_size; off += sizeof(Elf64_Dyn)) {
        Elf64_Dyn dyn;
        std::memcpy(&dyn, data + s.sh_offset + off, sizeof(dyn));
        if (dyn.d_tag == DT_NULL) break;
        if (dyn.d_tag == DT_NEEDED) info.needed.push_back(string_at(strtab, dyn.d_un.d_val));
        if (dyn.d_tag == DT_SONAME) info.soname = string_at(strtab, dyn.d_un.d_val);
      }
    } else if (s.sh_type == SHT_DYNSYM && s.sh_link < sections.size()) {
      const Elf64_Shdr& strtab = sections[s.sh_link];
      for (uint64_t off = 0; off + sizeof(Elf64_Sym) <= s.sh_size; off += sizeof(Elf64_Sym)) {
        Elf64_Sym sym;
        std::memcpy(&sym, data + s.sh_offset + off, sizeof(sym));
        if (ELF64_ST_BIND(sym.st_info) == STB_GNU_UNIQUE && sym.st_shndx != SHN_UNDEF) {
          info.unique_symbols.push_back(string_at(strtab, sym.st_name));
        }
      }
    }
  }
  return info;
}

namespace {
struct Lookup {
  const std::string* path = nullptr;  // by name
  const void* address = nullptr;      // or by address
  bool found = false;
  std::string name;
  std::string build_id;
};

int Visit(dl_phdr_info* info, size_t, void* arg) {
  auto* lookup = static_cast<Lookup*>(arg);
  const char* name = info->dlpi_name != nullptr ? info->dlpi_name : "";
  if (lookup->path != nullptr) {
    if (*lookup->path != name) return 0;
  } else {
    auto addr = reinterpret_cast<ElfW(Addr)>(lookup->address);
    bool inside = false;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
      const auto& ph = info->dlpi_phdr[i];
      if (ph.p_type != PT_LOAD) continue;
      ElfW(Addr) start = info->dlpi_addr + ph.p_vaddr;
      if (addr >= start && addr < start + ph.p_memsz) inside = true;
    }
    if (!inside) return 0;
  }
  lookup->found = true;
  lookup->name = name;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    lookup->build_id = BuildIdFromNotes(
        reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr), ph.p_memsz);
    if (!lookup->build_id.empty()) break;
  }
  return 1;
}
}  // namespace

absl::StatusOr<std::string> LoadedBuildId(const std::string& path) {
  Lookup lookup;
  lookup.path = &path;
  dl_iterate_phdr(&Visit, &lookup);
  if (!lookup.found) return absl::NotFoundError(core::StrCat(path, " is not loaded"));
  if (lookup.build_id.empty()) return absl::NotFoundError(core::StrCat(path, " has no build id"));
  return lookup.build_id;
}

absl::StatusOr<std::string> LoadedObjectPath(const void* address) {
  Lookup lookup;
  lookup.address = address;
  dl_iterate_phdr(&Visit, &lookup);
  if (!lookup.found) return absl::NotFoundError("address is in no loaded object");
  return lookup.name;
}

}  // namespace conclave::core
