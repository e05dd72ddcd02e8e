// Random GUIDs for sb-hc-id and connection ids.
#pragma once

#include <string>
#include <string_view>

namespace hc {

// Random version-4 GUID, lower-case 8-4-4-4-12 form.
std::string new_guid();
// True for the 8-4-4-4-12 hex form (either case, any version); no braces.
bool is_guid(std::string_view text);

}  // namespace hc
