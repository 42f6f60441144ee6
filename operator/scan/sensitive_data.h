// The patterns of Polaris' sensitiveContainerEnvVar and
// sensitiveConfigmapContent checks, on their own so that the leader's
// projection (stream/projection.h) can reduce a value to the verdict these
// checks need — "a literal value", "holds a private key" — and drop the
// value itself.
#pragma once

#include <string_view>

namespace srexpert::scan {

// Names Polaris disallows for literal values: AWS_SECRET_ACCESS_KEY,
// GOOGLE_APPLICATION_CREDENTIALS, OCI_CLI_KEY_CONTENT (ignoring case),
// AZURE_*KEY, and anything containing password, token, bearer or secret.
bool SensitiveName(std::string_view name);

// (?i)\s*-BEGIN\s+.*PRIVATE KEY-\s* — "-BEGIN", whitespace (newlines too),
// then "PRIVATE KEY-" later on the same line.
bool HoldsPrivateKey(std::string_view value);

}  // namespace srexpert::scan
