// state_dir files: atomic, rate-limited, robust to garbage.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "daemon/devices/state_store.h"

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
  CHECK(file.due());  // never written
  file.save({{"n", 1}});
  CHECK(StateFile(dir.string(), "plug").load()["n"] == 1);
  CHECK_FALSE(file.due());
  file.save({{"n", 2}});  // within the interval: kept in memory
  CHECK(StateFile(dir.string(), "plug").load()["n"] == 1);
  CHECK_FALSE(file.due());
  file.save({{"n", 3}}, true);  // urgent
  CHECK(StateFile(dir.string(), "plug").load()["n"] == 3);
  file.save({{"n", 4}});
  file.flush();
  CHECK(StateFile(dir.string(), "plug").load()["n"] == 4);
  CHECK_FALSE(fs::exists(dir / "plug.json.tmp"));
  fs::remove_all(dir);
}

TEST_CASE("a state file is due again once its interval has passed") {
  const fs::path dir = fresh_dir("due");
  StateFile file(dir.string(), "plug", std::chrono::seconds(0));
  file.save({{"n", 1}});
  CHECK(file.due());
  file.save({{"n", 2}});  // due: written at once
  CHECK(StateFile(dir.string(), "plug").load()["n"] == 2);
  fs::remove_all(dir);
}

TEST_CASE("write phases stay inside the interval, keep to their name and spread names out") {
  using std::chrono::milliseconds;
  const milliseconds interval(30000);
  std::set<milliseconds::rep> slots;  // one-second slots, as a plug writes on its 1 s polls
  for (int i = 0; i < 50; ++i) {
    const std::string name = "miio_plug" + std::to_string(i);
    const milliseconds phase = cloudless::write_phase(name, interval);
    CHECK(phase >= milliseconds(0));
    CHECK(phase < interval);
    CHECK(cloudless::write_phase(name, interval) == phase);
    slots.insert(phase.count() / 1000);
  }
  CHECK(slots.size() >= 15);  // 50 names in 30 slots: about 25 expected, and never all in one
  CHECK(cloudless::write_phase("plug", milliseconds(0)) == milliseconds(0));
  // A file's phase is that of its name in its own interval (a plug times its writes by it).
  CHECK(StateFile("/nonexistent", "miio_plug7", std::chrono::seconds(30)).phase() ==
        cloudless::write_phase("miio_plug7", interval));
  CHECK(StateFile("/nonexistent", "miio_plug7", std::chrono::seconds(300)).phase() ==
        cloudless::write_phase("miio_plug7", milliseconds(300000)));
}

TEST_CASE("a periodic write is due on the file's own slot, never later than a whole interval") {
  using std::chrono::milliseconds;
  using Clock = std::chrono::steady_clock;
  const milliseconds interval(30000);
  const milliseconds phase(12345);
  const Clock::time_point base(milliseconds(1000 * 30000));  // a multiple of the interval since the epoch
  const auto on_slot = [&](Clock::time_point t) {
    return (std::chrono::duration_cast<milliseconds>(t.time_since_epoch()) - phase) % interval == milliseconds(0);
  };
  for (const milliseconds written : {milliseconds(0), milliseconds(1), milliseconds(12344), milliseconds(12345),
                                     milliseconds(12346), milliseconds(29999), milliseconds(30000), milliseconds(45000)}) {
    const Clock::time_point next = cloudless::next_write_slot(base + written, phase, interval);
    CHECK(next <= base + written + interval);  // no later than a plain interval
    CHECK(next > base + written);              // and after the write
    CHECK(on_slot(next));
  }
  // Written at different moments of one interval, due at the same slot: urgent writes do not move it.
  CHECK(cloudless::next_write_slot(base + milliseconds(13000), phase, interval) ==
        cloudless::next_write_slot(base + milliseconds(40000), phase, interval));
  // No interval: due at once, as before.
  CHECK(cloudless::next_write_slot(base, milliseconds(0), milliseconds(0)) == base);
}

std::vector<fs::path> set_aside(const fs::path& dir, const std::string& file) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().rfind(file + ".corrupt-", 0) == 0) out.push_back(entry.path());
  return out;
}

std::string content(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_CASE("a corrupt state file loads as empty and is moved aside, never overwritten") {
  const fs::path dir = fresh_dir("corrupt");
  fs::create_directories(dir);
  std::ofstream(dir / "plug.json") << "{\"n\": 1, trunc";
  StateFile file(dir.string(), "plug");
  CHECK(file.load().empty());
  auto moved = set_aside(dir, "plug.json");
  REQUIRE(moved.size() == 1);
  CHECK(content(moved[0]) == "{\"n\": 1, trunc");
  CHECK_FALSE(fs::exists(dir / "plug.json"));
  file.save({{"n", 2}}, true);
  CHECK(StateFile(dir.string(), "plug").load()["n"] == 2);
  CHECK(content(moved[0]) == "{\"n\": 1, trunc");

  std::ofstream(dir / "plug.json") << "[1,2]";  // JSON, but not an object
  CHECK(StateFile(dir.string(), "plug").load().empty());
  CHECK(set_aside(dir, "plug.json").size() == 2);
  fs::remove_all(dir);
}

TEST_CASE("the state directory is 0750 whatever the umask; files are 0600") {
  const fs::path dir = fresh_dir("mode") / "nested" / "state";
  const mode_t old = ::umask(0);
  StateFile file(dir.string(), "plug");
  file.save({{"n", 1}}, true);
  ::umask(old);
  CHECK((fs::status(dir).permissions() & fs::perms::all) ==
        (fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec));
  CHECK((fs::status(dir / "plug.json").permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
  // An existing directory of ours that others may enter is tightened.
  fs::permissions(dir, fs::perms::all);
  CHECK(cloudless::ensure_state_dir(dir.string()).empty());
  CHECK((fs::status(dir).permissions() & fs::perms::all) ==
        (fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec));
  CHECK_FALSE(cloudless::ensure_state_dir((dir / "plug.json").string()).empty());  // a file, not a directory
  fs::remove_all(dir.parent_path().parent_path());
}

TEST_CASE("a FIFO where a state file belongs is moved aside at once, not waited on") {
  const fs::path dir = fresh_dir("fifo");
  fs::create_directories(dir);
  REQUIRE(::mkfifo((dir / "plug.json").c_str(), 0600) == 0);
  CHECK(StateFile(dir.string(), "plug").load().empty());  // a plain open would block here for ever
  const auto moved = set_aside(dir, "plug.json");
  REQUIRE(moved.size() == 1);
  CHECK(fs::is_fifo(fs::symlink_status(moved[0])));
  fs::remove_all(dir);
}

TEST_CASE("an oversized state file is moved aside without being read") {
  const fs::path dir = fresh_dir("big");
  fs::create_directories(dir);
  std::string big = "{\"n\": \"" + std::string(cloudless::kMaxStateFileSize, 'x') + "\"}";
  std::ofstream(dir / "plug.json") << big;
  const auto text = cloudless::read_state_file((dir / "plug.json").string());
  CHECK(text.status == cloudless::StateFileText::Status::set_aside);
  CHECK(text.problem.find("more than a state file ever holds") != std::string::npos);
  REQUIRE(set_aside(dir, "plug.json").size() == 1);
  CHECK(content(set_aside(dir, "plug.json")[0]) == big);
  fs::remove_all(dir);
}

TEST_CASE("symbolic links are never followed, neither the state file nor its temp file") {
  const fs::path dir = fresh_dir("links");
  fs::create_directories(dir);
  const fs::path outside = dir / "outside.json";
  std::ofstream(outside) << "{\"secret\": 1}";
  fs::create_symlink(outside, dir / "plug.json");
  fs::create_symlink(dir / "planted", dir / "plug.json.tmp");
  StateFile file(dir.string(), "plug");
  CHECK(file.load().empty());  // not the link's target
  file.save({{"n", 1}}, true);
  CHECK(content(outside) == "{\"secret\": 1}");
  CHECK_FALSE(fs::exists(dir / "planted"));
  CHECK(fs::is_regular_file(fs::symlink_status(dir / "plug.json")));
  CHECK(StateFile(dir.string(), "plug").load()["n"] == 1);
  const auto moved = set_aside(dir, "plug.json");
  REQUIRE(moved.size() == 1);
  CHECK(fs::is_symlink(fs::symlink_status(moved[0])));
  fs::remove_all(dir);
}

TEST_CASE("write_file_atomically reports an unwritable directory") {
  CHECK_FALSE(cloudless::write_file_atomically("/nonexistent_dir_for_test/x.json", "{}").empty());
}
