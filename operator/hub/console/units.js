// Usage figures as `kubectl top` prints them: CPU in millicores ("250m"),
// memory in mebibytes ("512Mi"). The hub's /metrics sends cpuMilli and
// memoryBytes (docs/protocol.md, the REST API table).

export function formatCpuMilli(milli) {
  return Number.isFinite(milli) ? `${Math.round(milli)}m` : '';
}

export function formatMemoryBytes(bytes) {
  return Number.isFinite(bytes) ? `${Math.round(bytes / (1024 * 1024))}Mi` : '';
}
