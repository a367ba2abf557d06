"""Shards: split the specs among N runners of a GitHub Actions matrix by a stable hash of
the spec's name, so a spec's runs always go to the same shard whatever else changes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass

from runner.errors import UsageError

MAX_MATRIX_JOBS = 256  # GitHub's cap on the jobs one matrix may generate
SPECS_PER_SHARD = 10  # the default --shards aims at about this much work per runner


def shard_of(name: str, count: int) -> int:
    """The shard (1..count) that owns name: sha256, not hash(), so every process agrees."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as written on the command line: 1/6 … 6/6
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """'K/N' with 1 ≤ K ≤ N ≤ 256."""
        index, sep, count = text.partition("/")
        if not (sep and index.strip().isdigit() and count.strip().isdigit()):
            raise UsageError(f"--shard must look like K/N, such as 2/6 (got {text!r})")
        shard = cls(int(index), int(count))
        if not 1 <= shard.index <= shard.count <= MAX_MATRIX_JOBS:
            raise UsageError(
                f"--shard {text}: need 1 ≤ K ≤ N ≤ {MAX_MATRIX_JOBS} (a matrix holds at most "
                f"{MAX_MATRIX_JOBS} jobs)"
            )
        return shard

    def owns(self, name: str) -> bool:
        return shard_of(name, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def default_shards(work: int) -> int:
    """Enough runners for about SPECS_PER_SHARD specs with work each, within the matrix cap."""
    return max(1, min(MAX_MATRIX_JOBS, math.ceil(work / SPECS_PER_SHARD)))


def matrix(names_with_work: Iterable[str], count: int) -> dict[str, object]:
    """A `strategy.matrix` for `fromJSON`: one entry per shard that has work, with its specs.

    Shards with nothing to do are left out (an idle runner still costs a minute of
    start-up); an empty `include` means the apply jobs can be skipped."""
    if not 1 <= count <= MAX_MATRIX_JOBS:
        raise UsageError(f"--shards must be between 1 and {MAX_MATRIX_JOBS} (got {count})")
    owned: dict[int, list[str]] = {}
    for name in sorted(set(names_with_work)):
        owned.setdefault(shard_of(name, count), []).append(name)
    include = [
        {"shard": f"{k}/{count}", "specs": " ".join(names)} for k, names in sorted(owned.items())
    ]
    return {"include": include}
