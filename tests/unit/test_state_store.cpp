// state_dir files: atomic, rate-limited, robust to garbage.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "daemon/state_store.h"

using cloudless::StateFile;
namespace fs = std::filesystem;

namespace {
fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("cloudless_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}
}  // namespace

TEST_CASE("save creates the directory, writes at once, then rate-limits until flush") {
  const fs::path dir = fresh_dir("rate");
  StateFile file(dir.string(), "plug", std::chrono::seconds(3600));
  CHECK(file.load().empty());
  file.save({{"n", 1}});
  CHECK(StateFile(dir.string(), "plug").load()["n"] == 1);
  file.save({{"n", 2}});  // within the interval: kept in memory
  CHECK(StateFile(dir.string(), "plug").load()["n"] == 1);
  file.save({{"n", 3}}, true);  // urgent
  CHECK(StateFile(dir.string(), "plug").load()["n"] == 3);
  file.save({{"n", 4}});
  file.flush();
  CHECK(StateFile(dir.string(), "plug").load()["n"] == 4);
  CHECK_FALSE(fs::exists(dir / "plug.json.tmp"));
  fs::remove_all(dir);
}

TEST_CASE("a corrupt state file loads as empty instead of failing") {
  const fs::path dir = fresh_dir("corrupt");
  fs::create_directories(dir);
  std::ofstream(dir / "plug.json") << "{\"n\": 1, trunc";
  CHECK(StateFile(dir.string(), "plug").load().empty());
  std::ofstream(dir / "plug.json") << "[1,2]";
  CHECK(StateFile(dir.string(), "plug").load().empty());
  fs::remove_all(dir);
}

TEST_CASE("write_file_atomically reports an unwritable directory") {
  CHECK_FALSE(cloudless::write_file_atomically("/nonexistent_dir_for_test/x.json", "{}").empty());
}
