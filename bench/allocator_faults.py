"""Page faults per 64 MiB "batch" with glibc as it comes and with nlptl.allocator's setting (machine-dependent:
transparent huge pages fault once per 2 MiB). Run: python bench/allocator_faults.py"""

import resource

import torch

from nlptl.allocator import keep_freed_memory


def faults_of_batches(count: int) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(count):
        activations = torch.empty(64 * 2**20 // 4, dtype=torch.float32).fill_(1.0)  # 64 MiB, as a layer output
        del activations
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


if __name__ == "__main__":
    faults_of_batches(4)
    fresh = faults_of_batches(4)
    kept = keep_freed_memory()
    faults_of_batches(4)  # the heap settles: torch's aligned allocations alternate between two slots
    reused = faults_of_batches(4)
    print(f"page faults per 4 batches: glibc default {fresh}; kept heap ({kept}) {reused}")
