#!/usr/bin/env python3
"""Reads `perf script -F comm,ip,sym` (call-graph samples) on stdin and
prints, per thread, the share of all samples spent under each system call
(the frame do_syscall_64 called), the kernel's
scheduler switch (finish_task_switch) among them, and the rest (user space).
bench/profile appends it to its report."""

import collections
import re
import sys

PREFIX = re.compile(r"^(?:__x64_sys_|__do_sys_|__se_sys_|ksys_|__sys_)")


def samples(lines):
    comm, frames = None, []
    for line in lines:
        if not line.strip():
            if comm is not None:
                yield comm, frames
            comm, frames = None, []
        elif not line.startswith((" ", "\t")):
            comm = line.split()[0]
        else:
            parts = line.split(None, 1)
            frames.append(parts[1].strip() if len(parts) > 1 else "")
    if comm is not None:
        yield comm, frames


def main():
    by_thread = collections.defaultdict(collections.Counter)
    total = 0
    for comm, frames in samples(sys.stdin):
        total += 1
        name = "user space"
        # Frames run innermost first; the one called by do_syscall_64 is
        # the system call (whatever the kernel inlined below it).
        if "do_syscall_64" in frames:
            i = frames.index("do_syscall_64")
            name = PREFIX.sub("", frames[i - 1]) if i > 0 else "entry and exit"
            # Samples in the entry path itself (this VM's pvm_irq_enable, the
            # return to user space) are the cost of making any system call.
            if name.startswith(("__raw_callee_save", "pvm_", "exit_to_user", "syscall_exit")):
                name = "entry and exit of any system call"
        if name == "user space" and any(f.startswith(("asm_", "irq", "__irq")) for f in frames):
            name = "interrupts"
        by_thread[comm][name] += 1
    if not total:
        return
    print("## by thread and system call (share of all samples)")
    for comm, counts in sorted(by_thread.items(), key=lambda kv: -sum(kv[1].values())):
        print(f"{comm}: {sum(counts.values()) * 100 / total:.1f}%")
        for name, n in counts.most_common():
            if n * 100 / total >= 0.3:
                print(f"    {n * 100 / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
