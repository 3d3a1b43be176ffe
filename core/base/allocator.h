#pragma once

#include <QtGlobal>

namespace SockJsProxy {

// The heap policy of a process that opens and closes many connections.
//
// Each connection allocates and frees about 60 KiB at the top of the heap
// (Qt's socket buffers among them). glibc gives the top back to the kernel
// once 128 KiB of it are free, so a stream of short sessions made the heap
// shrink and grow again: a brk() every eight connections and page faults
// on the pages it then took back (bench/RESULTS.md, new sessions). This
// keeps up to kHeapTopKeptBytes free at the top instead. Setting glibc's
// trim threshold ends its adaptive mmap threshold, so that one is set too,
// to the ceiling the trim threshold implies (glibc's own rule: half of
// it): blocks of up to kMmapThresholdBytes (large messages) come from the
// heap, as they would once glibc had adapted.
//
// Called once, early in main() (the CLI). Returns false when it changed
// nothing: not glibc, or glibc's own variables (MALLOC_TRIM_THRESHOLD_,
// MALLOC_MMAP_THRESHOLD_, GLIBC_TUNABLES) are set, and then they win.
bool tuneAllocatorForServer();

inline constexpr qsizetype kHeapTopKeptBytes = 8 * 1024 * 1024;
inline constexpr qsizetype kMmapThresholdBytes = kHeapTopKeptBytes / 2;

} // namespace SockJsProxy
