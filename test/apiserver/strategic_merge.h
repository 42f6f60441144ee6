// Strategic merge patch (application/strategic-merge-patch+json) for the
// built-in kinds, as k8s.io/apimachinery/pkg/util/strategicpatch applies it:
// maps merge like a JSON merge patch (null deletes), lists with a
// patchMergeKey in the Go types merge item by item (containers, env,
// volumes, ... by name; volumeMounts by mountPath; container ports by
// containerPort; Service ports by port; ownerReferences by uid; conditions
// by type), metadata.finalizers merge as a set, every other list is
// replaced. Directives: `$patch: delete` (a list item or map), `$patch:
// replace` (a map, or a list when it is an item of it),
// `$deleteFromPrimitiveList/<list>`; `$setElementOrder/<list>` and
// `$retainKeys` are dropped. Order of a merged list: the patch's items (new
// or changed) come first unless they already stood after a kept item, as
// kube-apiserver orders them (a new container is put first).
#pragma once

#include "common/json.h"

namespace srexpert::testing {

// Applies `patch` to `target` (an object of built-in kind `kind`) in place.
void StrategicMergePatch(json::Value& target, const json::Value& patch, const std::string& kind,
                         json::Allocator& a);

}  // namespace srexpert::testing
