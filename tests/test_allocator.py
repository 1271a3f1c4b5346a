import subprocess
import sys

import pytest

from nlptl.allocator import on_glibc

# Run in a child process: the setting is process-wide and cannot be undone by the test.
FAULTS_PER_REFILL = """
import resource, torch
from nlptl.allocator import keep_freed_memory

def faults_of_one_batch() -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    activations = torch.empty(8 * 2**20 // 4, dtype=torch.float32).fill_(1.0)  # 8 MiB, as a layer output
    del activations
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

faults_of_one_batch(); fresh = faults_of_one_batch()
kept = keep_freed_memory()
faults_of_one_batch(); reused = faults_of_one_batch()
print(fresh, kept, reused, keep_freed_memory())
"""


@pytest.mark.skipif(not on_glibc(), reason="glibc only")
def test_freed_tensor_memory_is_reused_without_page_faults():
    result = subprocess.run([sys.executable, "-c", FAULTS_PER_REFILL], capture_output=True, text=True, check=True)
    fresh, kept, reused, again = result.stdout.split()
    assert int(fresh) > 1000  # glibc as it comes: 8 MiB mapped anew, ~2,048 pages faulted in per batch
    assert kept == "True" and again == "True"
    assert int(reused) < 50  # the freed pages are reused
