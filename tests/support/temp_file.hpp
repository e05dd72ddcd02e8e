// What the configuration's unit tests share: a temporary file with given contents and mode, removed when it goes out
// of scope, and a substring check.
#pragma once

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace testing {

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct TempFile {
  std::string path;
  explicit TempFile(const std::string& content, mode_t mode = 0600) {
    char tmpl[] = "/tmp/hcb_test_XXXXXX";
    const int fd = mkstemp(tmpl);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = tmpl;
    std::ofstream(path, std::ios::binary) << content;
    ::chmod(path.c_str(), mode);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() { std::remove(path.c_str()); }
};

}  // namespace testing
