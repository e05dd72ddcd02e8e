#include <catch2/catch.hpp>

#include <set>

#include "hc/guid.hpp"

using namespace hc;

TEST_CASE("new_guid yields distinct lower-case v4 GUIDs", "[guid]") {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string g = new_guid();
    INFO(g);
    REQUIRE(g.size() == 36);
    CHECK(is_guid(g));
    CHECK(g[14] == '4');                                                  // version nibble
    CHECK((g[19] == '8' || g[19] == '9' || g[19] == 'a' || g[19] == 'b'));  // RFC 4122 variant
    for (char c : g) CHECK_FALSE((c >= 'A' && c <= 'Z'));
    seen.insert(g);
  }
  CHECK(seen.size() == 200);
}

TEST_CASE("is_guid checks the 8-4-4-4-12 hex form", "[guid]") {
  CHECK(is_guid("6f9619ff-8b86-d011-b42d-00c04fc964ff"));
  CHECK(is_guid("6F9619FF-8B86-D011-B42D-00C04FC964FF"));
  CHECK_FALSE(is_guid(""));
  CHECK_FALSE(is_guid("6f9619ff8b86d011b42d00c04fc964ff"));
  CHECK_FALSE(is_guid("{6f9619ff-8b86-d011-b42d-00c04fc964ff}"));
  CHECK_FALSE(is_guid("6f9619ff-8b86-d011-b42d-00c04fc964fg"));
  CHECK_FALSE(is_guid("6f9619ff-8b86-d011-b42d-00c04fc964f"));
  CHECK_FALSE(is_guid("6f9619ff-8b86-d011-b42d-00c04fc964fff"));
  CHECK_FALSE(is_guid("6f9619ff+8b86-d011-b42d-00c04fc964ff"));
  CHECK_FALSE(is_guid("ca496b91-f5a3-4761-8eda-9a66dd9a2558_G17_G30"));
}
