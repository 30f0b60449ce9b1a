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
  // Reads only the header, the section headers and the few sections used: a debug build of
  // core is tens of MB, and a reload reads every module.
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return absl::NotFoundError(core::StrCat(path, ": cannot open: ", std::strerror(errno)));
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  auto read_at = [&](uint64_t offset, uint64_t length, void* out) {
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(static_cast<char*>(out), static_cast<std::streamsize>(length));
    return static_cast<bool>(in);
  };
  auto truncated = [&] {
    return absl::UnavailableError(
        core::StrCat(path, ": truncated ELF file (", size, " bytes; still being written?)"));
  };
  unsigned char ident[SELFMAG];
  if (size < SELFMAG || !read_at(0, SELFMAG, ident)) return truncated();
  if (std::memcmp(ident, ELFMAG, SELFMAG) != 0) {
    return absl::InvalidArgumentError(core::StrCat(path, ": not an ELF file"));
  }
  Elf64_Ehdr header;
  if (size < sizeof(header) || !read_at(0, sizeof(header), &header)) return truncated();
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_shentsize != sizeof(Elf64_Shdr)) {
    return absl::InvalidArgumentError(core::StrCat(path, ": not a 64-bit ELF file"));
  }
  // ld writes the section header table last: if it is not all there, neither is the file.
  if (header.e_shoff + uint64_t{header.e_shnum} * sizeof(Elf64_Shdr) > size) return truncated();
  std::vector<Elf64_Shdr> sections(header.e_shnum);
  if (!read_at(header.e_shoff, header.e_shnum * sizeof(Elf64_Shdr), sections.data())) {
    return truncated();
  }
  for (const auto& s : sections) {
    if (s.sh_type != SHT_NOBITS && s.sh_offset + s.sh_size > size) return truncated();
  }
  auto section_bytes = [&](const Elf64_Shdr& s) {
    std::string bytes(s.sh_size, '\0');
    if (!read_at(s.sh_offset, s.sh_size, bytes.data())) bytes.clear();
    return bytes;
  };
  auto string_at = [](const std::string& strtab, uint64_t offset) -> std::string {
    if (offset >= strtab.size()) return {};
    return std::string(strtab.c_str() + offset);
  };

  ElfInfo info;
  info.file_size = size;
  for (const auto& s : sections) {
    if (s.sh_type == SHT_NOTE && info.build_id.empty()) {
      std::string notes = section_bytes(s);
      info.build_id = BuildIdFromNotes(reinterpret_cast<const unsigned char*>(notes.data()),
                                       notes.size());
    } else if (s.sh_type == SHT_DYNAMIC && s.sh_link < sections.size()) {
      std::string dynamic = section_bytes(s), strtab = section_bytes(sections[s.sh_link]);
      for (uint64_t off = 0; off + sizeof(Elf64_Dyn) <= dynamic.size(); off += sizeof(Elf64_Dyn)) {
        Elf64_Dyn dyn;
        std::memcpy(&dyn, dynamic.data() + off, sizeof(dyn));
        if (dyn.d_tag == DT_NULL) break;
        if (dyn.d_tag == DT_NEEDED) info.needed.push_back(string_at(strtab, dyn.d_un.d_val));
        if (dyn.d_tag == DT_SONAME) info.soname = string_at(strtab, dyn.d_un.d_val);
      }
    } else if (s.sh_type == SHT_DYNSYM && s.sh_link < sections.size()) {
      std::string symbols = section_bytes(s), strtab = section_bytes(sections[s.sh_link]);
      for (uint64_t off = 0; off + sizeof(Elf64_Sym) <= symbols.size(); off += sizeof(Elf64_Sym)) {
        Elf64_Sym sym;
        std::memcpy(&sym, symbols.data() + off, sizeof(sym));
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
