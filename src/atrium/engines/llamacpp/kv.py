"""Sequence ids, the KV-cell budget and the prefix cache of one llama context.

The context has one unified KV cache of ``total_cells`` cells and ``n_ids`` sequence ids.
A sequence id is free, held by a running sequence, or held by a *prefix-cache entry*: the
KV of a finished sequence, kept so that a later prompt sharing its first tokens copies them
(``llama_memory_seq_cp``: in a unified cache the copy shares the cells, it computes and
stores nothing) instead of computing them again. Entries are evicted least recently used
whenever an id or cells are needed.

With one KV *stream* per sequence id (``kv_streams``), llama.cpp splits a batch into one
micro-batch per run of consecutive sequence ids, each a full pass over the weights. The
pool then keeps running sequences on the lowest ids (``running_ids``) and moves a finished
sequence's stream to an id above them (a whole-stream copy) when it becomes an entry, so
that the running sequences form one run and a decode step stays one pass.

Cell accounting is an upper bound, so a decode never runs out of cells: a running request
*reserves* its whole prompt plus the tokens it may generate (up to a per-sequence cap; past
it, it grows one cell at a time) when it is admitted, even when part of the prompt is
shared with an entry, and each entry counts all its tokens. Shared cells are thus counted
more than once, which costs some cache room but never over-commits the cache.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

MIN_PREFIX = 4
"""Shorter shared prefixes are not worth a lookup hit."""


class KvMemory(Protocol):
    def clear_sequence(self, seq_id: int) -> None: ...

    def truncate_sequence(self, seq_id: int, length: int) -> None: ...

    def copy_prefix(self, source: int, target: int, length: int) -> None: ...


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """The length of the longest common prefix (binary search over C-speed slice compares)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


class KvPool:
    """Hands out sequence ids and KV cells; keeps and looks up the prefix cache."""

    def __init__(
        self,
        memory: KvMemory,
        *,
        total_cells: int,
        n_ids: int,
        cache_enabled: bool = True,
        running_ids: int | None = None,
    ) -> None:
        self._memory = memory
        self.total_cells = total_cells
        self.cache_enabled = cache_enabled
        self.running_ids = running_ids
        """When set: ids below it are for running sequences only, entries live above it."""
        self._free_ids = list(range(n_ids - 1, -1, -1))
        self._entries: OrderedDict[int, list[int]] = OrderedDict()  # oldest first
        self.cached_cells = 0
        self.reserved_cells = 0
        self.evictions = 0

    # -- state ---------------------------------------------------------------------------

    @property
    def entries(self) -> int:
        return len(self._entries)

    @property
    def used_cells(self) -> int:
        """The cells counted as used (an upper bound of the real number)."""
        return self.reserved_cells + self.cached_cells

    def has_entry(self, seq_id: int | None) -> bool:
        return seq_id is not None and seq_id in self._entries

    def available_ids(self) -> int:
        """Ids a running sequence can get: free, or freed by evicting entries."""
        if self.running_ids is not None:
            return sum(1 for seq_id in self._free_ids if seq_id < self.running_ids)
        return len(self._free_ids) + len(self._entries)

    # -- the prefix cache ----------------------------------------------------------------

    def lookup(self, prompt: Sequence[int]) -> tuple[int | None, int]:
        """The entry sharing the longest prefix with ``prompt``, and how many of its tokens
        can be reused (at most ``len(prompt) - 1``: the last prompt token must be decoded to
        get logits). ``(None, 0)`` when nothing worth it matches."""
        best, best_length = None, 0
        for seq_id, tokens in self._entries.items():  # later (more recent) wins ties
            length = common_prefix(tokens, prompt)
            if length >= best_length:
                best, best_length = seq_id, length
        best_length = min(best_length, len(prompt) - 1)
        if best is None or best_length < MIN_PREFIX:
            return None, 0
        self._entries.move_to_end(best)
        return best, best_length

    def store(self, seq_id: int, tokens: list[int]) -> None:
        """Keep the KV of a finished sequence as an entry (or free it: cache disabled, or an
        entry already holds these tokens). Entries holding a prefix of them are dropped."""
        if not self.cache_enabled or not tokens:
            self.release_id(seq_id)
            return
        for other, cached in list(self._entries.items()):
            shared = common_prefix(cached, tokens)
            if shared == len(tokens):  # nothing new: keep the entry that has it all
                self._entries.move_to_end(other)
                self.release_id(seq_id)
                return
            if shared == len(cached):
                self._evict(other)
        if self.running_ids is not None and seq_id < self.running_ids:
            moved = self._move_to_entry_id(seq_id, len(tokens))
            if moved is None:
                return
            seq_id = moved
        self._entries[seq_id] = tokens
        self.cached_cells += len(tokens)

    def _move_to_entry_id(self, seq_id: int, length: int) -> int | None:
        """Copy the KV of running id ``seq_id`` to a free entry id (evicting the least
        recently used entry if needed) and free ``seq_id``; None when there is no entry id."""
        assert self.running_ids is not None
        free = [i for i in self._free_ids if i >= self.running_ids]
        if not free and self.evict_oldest():
            free = [i for i in self._free_ids if i >= self.running_ids]
        if not free:
            self.release_id(seq_id)
            return None
        target = min(free)
        self._free_ids.remove(target)
        self._memory.copy_prefix(seq_id, target, length)
        self.release_id(seq_id)
        return target

    def evict_oldest(self, keep: int | None = None) -> bool:
        """Evict the least recently used entry other than ``keep``; False when none."""
        for seq_id in self._entries:
            if seq_id != keep:
                self._evict(seq_id)
                return True
        return False

    def clear(self) -> None:
        for seq_id in list(self._entries):
            self._evict(seq_id)

    def _evict(self, seq_id: int) -> None:
        tokens = self._entries.pop(seq_id)
        self.cached_cells -= len(tokens)
        self.evictions += 1
        self.release_id(seq_id)

    def take_over(self, seq_id: int, length: int) -> None:
        """Turn entry ``seq_id`` into a running sequence holding its first ``length`` tokens
        (the id stays taken)."""
        tokens = self._entries.pop(seq_id)
        self.cached_cells -= len(tokens)
        self._memory.truncate_sequence(seq_id, length)

    # -- ids and cells -------------------------------------------------------------------

    def acquire_id(self, keep: int | None = None) -> int | None:
        """The lowest free id for a running sequence, evicting an entry (never ``keep``) if
        needed (never with ``running_ids``: entries do not hold those ids)."""
        if self.running_ids is not None:
            free = [i for i in self._free_ids if i < self.running_ids]
        else:
            if not self._free_ids and not self.evict_oldest(keep):
                return None
            free = self._free_ids
        if not free:
            return None
        seq_id = min(free)
        self._free_ids.remove(seq_id)
        return seq_id

    def release_id(self, seq_id: int) -> None:
        """Drop the KV of ``seq_id`` and make the id free."""
        self._memory.clear_sequence(seq_id)
        self._free_ids.append(seq_id)

    def make_room(self, cells: int, keep: int | None = None) -> bool:
        """Evict entries (never ``keep``) until ``cells`` more fit; whether they do."""
        while self.used_cells + cells > self.total_cells:
            if not self.evict_oldest(keep):
                return False
        return True

    def reserve(self, cells: int) -> None:
        self.reserved_cells += cells

    def unreserve(self, cells: int) -> None:
        self.reserved_cells -= cells

    def copy_prefix(self, source: int, target: int, length: int) -> None:
        self._memory.copy_prefix(source, target, length)
