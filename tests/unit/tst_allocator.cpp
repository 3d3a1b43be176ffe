// tuneAllocatorForServer(): glibc keeps the freed top of the heap instead of
// shrinking it, takes blocks below kMmapThresholdBytes from the heap, and
// leaves everything to glibc's own variables when they are set.

#include "base/allocator.h"

#include <QTest>

#include <cstdlib>
#include <cstring>
#include <vector>

#ifdef __GLIBC__
#include <malloc.h>
#include <unistd.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SOCKJSPROXY_OWN_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SOCKJSPROXY_OWN_MALLOC 1
#endif
#endif

using namespace SockJsProxy;

namespace {
// Where the blocks go, so that the compiler cannot drop a malloc() whose
// block nothing reads.
void *volatile g_sink = nullptr;

void *allocateAndWrite(size_t bytes)
{
    void *block = std::malloc(bytes);
    std::memset(block, 1, 4096);
    g_sink = block;
    return block;
}
} // namespace

class tst_Allocator : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void glibcVariablesWin();
    void keepsTheFreedTopOfTheHeap();
    void largeBlocksComeFromTheHeap();

private:
#ifdef __GLIBC__
    // Allocates 2 MiB in blocks of 64 KiB (below any mmap threshold),
    // writes them, frees them last first, and returns by how many bytes the
    // heap's end moved back.
    static qsizetype heapShrinkAfterBurst();
#endif
};

void tst_Allocator::initTestCase()
{
#ifndef __GLIBC__
    QSKIP("the heap policy is glibc's");
#elif defined(SOCKJSPROXY_OWN_MALLOC)
    QSKIP("AddressSanitizer replaces malloc");
#endif
}

void tst_Allocator::glibcVariablesWin()
{
    for (const char *variable : {"MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES"}) {
        qputenv(variable, "131072");
        QVERIFY2(!tuneAllocatorForServer(), variable);
        qunsetenv(variable);
    }
}

#ifdef __GLIBC__
qsizetype tst_Allocator::heapShrinkAfterBurst()
{
    constexpr size_t kBlock = 64 * 1024;
    std::vector<void *> blocks;
    for (int i = 0; i < 32; ++i)
        blocks.push_back(allocateAndWrite(kBlock));
    auto *end = static_cast<char *>(sbrk(0));
    for (auto it = blocks.rbegin(); it != blocks.rend(); ++it)
        std::free(*it);
    return end - static_cast<char *>(sbrk(0));
}
#endif

void tst_Allocator::keepsTheFreedTopOfTheHeap()
{
#ifdef __GLIBC__
    // glibc's default trim threshold: the freed 2 MiB go back at once.
    QCOMPARE(mallopt(M_TRIM_THRESHOLD, 128 * 1024), 1);
    QVERIFY2(heapShrinkAfterBurst() >= 1024 * 1024, "glibc's default no longer trims: the test shows nothing");

    QVERIFY(tuneAllocatorForServer());
    QCOMPARE(heapShrinkAfterBurst(), 0);
#endif
}

void tst_Allocator::largeBlocksComeFromTheHeap()
{
#ifdef __GLIBC__
    QVERIFY(tuneAllocatorForServer());
    const auto before = mallinfo2();
    void *block = allocateAndWrite(kMmapThresholdBytes / 2); // 2 MiB, a large message
    const auto during = mallinfo2();
    std::free(block);
    QCOMPARE(during.hblks, before.hblks); // not a block of its own from mmap()
    QVERIFY(during.uordblks >= before.uordblks + kMmapThresholdBytes / 2);

    void *huge = allocateAndWrite(kMmapThresholdBytes * 2);
    QCOMPARE(mallinfo2().hblks, before.hblks + 1); // above the threshold: mmap()
    std::free(huge);
#endif
}

QTEST_GUILESS_MAIN(tst_Allocator)
#include "tst_allocator.moc"
