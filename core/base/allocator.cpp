#include "allocator.h"

#include <cstdlib>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace SockJsProxy {

bool tuneAllocatorForServer()
{
#ifdef __GLIBC__
    for (const char *variable : {"MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES"}) {
        if (std::getenv(variable))
            return false;
    }
    return mallopt(M_TRIM_THRESHOLD, int(kHeapTopKeptBytes)) == 1
        && mallopt(M_MMAP_THRESHOLD, int(kMmapThresholdBytes)) == 1;
#else
    return false;
#endif
}

} // namespace SockJsProxy
