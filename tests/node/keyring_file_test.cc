// node/keyring_file and --encrypt: the keyring file's format (serf's -keyring-file), how
// an agent's starting keyring comes from the file and the flag, and the errors that keep
// an agent with a bad key or keyring from starting.
#include <catch2/catch.hpp>

#include <CLI/CLI.hpp>
#include <fstream>

#include "node/agent_config.h"
#include "node/keyring_file.h"
#include "tests/support/process.h"

using namespace shoal;
using namespace shoal::node;

namespace {

const std::string kKey = "T9jncgl9mbLus+baTTa7q7nPSUrXwbDi2dhbtqir37s=";
const std::string kOther = "fmaDCjN790MWO83xTeraBAvFGmJpN6pmjc82Uc5Vt/c=";

Bytes key(const std::string& b64) { return gossip::key_from_base64(b64).value(); }

void write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::trunc);
  f << text;
}

Result<AgentConfig> parse(std::vector<std::string> args) {
  CLI::App app;
  AgentFlags flags;
  add_agent_flags(app, flags);
  std::reverse(args.begin(), args.end());
  app.parse(args);
  AgentEnvironment env;
  env.hostname = "box1";
  return resolve_agent_config(flags, env);
}

TEST_CASE("the --encrypt flag takes a base64 32-byte key and names a bad one", "[node][keyring]") {
  auto ok = parse({"--encrypt", kKey});
  REQUIRE(ok.ok());
  CHECK(ok->encrypt_key == key(kKey));
  CHECK_FALSE(parse({}).value().encrypt_key.has_value());

  auto short_key = parse({"--encrypt", "AAAAAAAAAAAAAAAAAAAAAA=="});
  REQUIRE_FALSE(short_key.ok());
  CHECK_THAT(short_key.status().message(), Catch::StartsWith("--encrypt: key is 16 bytes"));
  auto odd = parse({"--encrypt", "AAAA"});
  REQUIRE_FALSE(odd.ok());
  CHECK_THAT(odd.status().message(), Catch::Contains("key is 3 bytes; an encryption key must be 32"));
  auto junk = parse({"--encrypt", "not*base64"});
  REQUIRE_FALSE(junk.ok());
  CHECK(junk.status().message() == "--encrypt: key is not valid base64");

  auto toml = parse_config_toml("encrypt = \"" + kKey + "\"\n", "agent.toml");
  REQUIRE(toml.ok());
  CHECK(toml->encrypt == kKey);
}

TEST_CASE("keyring file: serf's JSON format, primary first", "[node][keyring]") {
  const auto ring = gossip::Keyring::create({key(kKey), key(kOther)}).value();
  const std::string json = keyring_to_json(ring);
  CHECK(json == "[\"" + kKey + "\",\"" + kOther + "\"]\n");
  auto back = keyring_from_json(json);
  REQUIRE(back.ok());
  CHECK(back->keys() == ring.keys());

  CHECK(keyring_from_json("[").status().message() == "not valid JSON");
  CHECK(keyring_from_json("{}").status().message() == "not a JSON array of base64 keys");
  CHECK(keyring_from_json("[]").status().message() == "the keyring holds no keys");
  CHECK(keyring_from_json("[1]").status().message() == "entry 1 is not a string");
  CHECK_THAT(keyring_from_json("[\"" + kKey + "\", \"c2hvcnQ=\"]").status().message(),
             Catch::StartsWith("key 2: key is 5 bytes"));
}

TEST_CASE("startup keyring: written from --encrypt once, then the file wins",
          "[node][keyring]") {
  const auto dir = test::make_temp_dir("shoal-keyring");
  const auto file = dir / std::string(kKeyringFileName);

  auto none = startup_keyring(dir, std::nullopt);
  REQUIRE(none.ok());
  CHECK_FALSE(none->enabled());
  CHECK_FALSE(std::filesystem::exists(file));

  auto first = startup_keyring(dir, key(kKey));
  REQUIRE(first.ok());
  CHECK(first->keys() == std::vector<Bytes>{key(kKey)});
  CHECK(test::read_file(file) == "[\"" + kKey + "\"]\n");
  CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::others_read) ==
        std::filesystem::perms::none);

  // A rotation rewrote the file; the old --encrypt on the command line no longer matters.
  REQUIRE(save_keyring_file(file, gossip::Keyring::create({key(kOther)}).value()).ok());
  auto later = startup_keyring(dir, key(kKey));
  REQUIRE(later.ok());
  CHECK(later->keys() == std::vector<Bytes>{key(kOther)});
  auto no_flag = startup_keyring(dir, std::nullopt);
  REQUIRE(no_flag.ok());
  CHECK(no_flag->keys() == std::vector<Bytes>{key(kOther)});

  SECTION("a malformed file refuses, naming it and the problem") {
    write(file, "[\"" + kKey + "\"");
    auto bad = startup_keyring(dir, key(kKey));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().message() == "keyring file '" + file.string() + "' is malformed: not valid JSON");
  }
  SECTION("an unreadable file refuses") {
    std::filesystem::remove(file);
    std::filesystem::create_directory(file);  // a directory cannot be read as a file
    auto bad = startup_keyring(dir, std::nullopt);
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.status().message(), Catch::Contains(file.string()));
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
