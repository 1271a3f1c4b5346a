"""nlptl.allocator: with the setting, large tensors come from the heap (not mapped anew per batch) and freed
memory stays in the process. Checked with glibc's own accounting (mallinfo2), not page-fault counts, which
depend on the machine (transparent huge pages, kernel); `bench/allocator_faults.py` measures the faults."""

import subprocess
import sys

import pytest

from nlptl.allocator import on_glibc

# In a child process: the setting is process-wide and cannot be undone by the test. 64 MiB is above glibc's
# largest dynamic mmap threshold (32 MiB), so as glibc comes such a tensor is always a mapping of its own.
MAPPED_BYTES = """
import ctypes, torch
from nlptl.allocator import keep_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                      "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2

def while_a_batch_lives():
    activations = torch.empty(64 * 2**20 // 4, dtype=torch.float32).fill_(1.0)  # 64 MiB, as a layer output
    info = libc.mallinfo2()
    del activations
    return info.hblkhd  # bytes in allocations mapped on their own

fresh = while_a_batch_lives()
kept = keep_freed_memory()
reused = [while_a_batch_lives() for _ in range(3)]
print(fresh, kept, *reused, libc.mallinfo2().arena, keep_freed_memory())
"""


@pytest.mark.skipif(not on_glibc(), reason="glibc only")
def test_large_tensors_come_from_a_heap_that_is_kept():
    result = subprocess.run([sys.executable, "-c", MAPPED_BYTES], capture_output=True, text=True)
    if "mallinfo2" in result.stderr:
        pytest.skip("glibc older than 2.33 (no mallinfo2)")
    assert result.returncode == 0, result.stderr
    fresh, kept, *reused, arena, again = result.stdout.split()
    assert int(fresh) >= 64 * 2**20  # glibc as it comes: the tensor is a mapping of its own
    assert kept == "True" and again == "True"
    assert all(int(mapped) < int(fresh) - 64 * 2**20 + 2**20 for mapped in reused)  # now none is mapped anew
    assert int(arena) >= 64 * 2**20  # and the freed 64 MiB stay in the heap for the next batch
