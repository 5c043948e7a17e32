"""The KV pool (sequence ids, cell budget, prefix cache) on a fake KV memory."""

from __future__ import annotations

from atrium.engines.llamacpp.kv import KvPool, common_prefix


class FakeMemory:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    def clear_sequence(self, seq_id: int) -> None:
        self.calls.append(("clear", seq_id, -1))

    def truncate_sequence(self, seq_id: int, length: int) -> None:
        self.calls.append(("truncate", seq_id, length))

    def copy_prefix(self, source: int, target: int, length: int) -> None:
        self.calls.append(("copy", source, target))


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3, 4], [1, 2, 3, 4]) == 4
    assert common_prefix([1, 2, 3, 4], [1, 2, 9]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([5] * 1000 + [1], [5] * 1000 + [2]) == 1000


def test_lookup_finds_the_longest_prefix_and_keeps_one_token_to_decode() -> None:
    pool = KvPool(FakeMemory(), total_cells=1000, n_ids=4)
    first, second = pool.acquire_id(), pool.acquire_id()
    assert first is not None and second is not None
    pool.store(first, list(range(10)))
    pool.store(second, [*range(6), 99, 98])
    assert pool.lookup([*range(8), 7]) == (first, 8)
    assert pool.lookup(list(range(10))) == (first, 9)  # the last prompt token is decoded
    assert pool.lookup([7, 7, 7, 7, 7]) == (None, 0)
    assert pool.lookup([0, 1, 2]) == (None, 0)  # too short to be worth it


def test_entries_are_evicted_least_recently_used_when_ids_run_out() -> None:
    memory = FakeMemory()
    pool = KvPool(memory, total_cells=1000, n_ids=3)
    ids = [pool.acquire_id() for _ in range(3)]
    for n, seq_id in enumerate(ids):
        assert seq_id is not None
        pool.store(seq_id, [n] * 8)
    assert pool.entries == 3 and pool.cached_cells == 24
    assert pool.lookup([0] * 8)[0] == ids[0]  # touches entry 0: entry 1 is now the oldest
    taken = pool.acquire_id()
    assert taken == ids[1]
    assert ("clear", ids[1], -1) in memory.calls
    assert pool.entries == 2 and pool.cached_cells == 16
    assert pool.acquire_id(keep=ids[0]) == ids[2]
    assert pool.acquire_id(keep=ids[0]) is None  # only the kept entry is left


def test_cells_are_made_by_evicting_entries() -> None:
    pool = KvPool(FakeMemory(), total_cells=100, n_ids=8)
    for n in range(3):
        seq_id = pool.acquire_id()
        assert seq_id is not None
        pool.store(seq_id, [n] * 30)
    pool.reserve(20)
    assert pool.used_cells == 110 - 20 + 20
    assert pool.make_room(40)
    assert pool.entries == 1 and pool.used_cells == 50
    assert not pool.make_room(200)
    assert pool.entries == 0


def test_storing_supersedes_entries_that_hold_a_prefix() -> None:
    pool = KvPool(FakeMemory(), total_cells=100, n_ids=4)
    short, long, same = pool.acquire_id(), pool.acquire_id(), pool.acquire_id()
    assert short is not None and long is not None and same is not None
    pool.store(short, [1, 2, 3, 4, 5])
    pool.store(long, [1, 2, 3, 4, 5, 6, 7])
    assert pool.entries == 1 and pool.cached_cells == 7
    pool.store(same, [1, 2, 3, 4, 5, 6])  # already held by the longer entry: freed at once
    assert pool.entries == 1 and pool.available_ids() == 4


def test_take_over_and_clear() -> None:
    memory = FakeMemory()
    pool = KvPool(memory, total_cells=100, n_ids=2)
    seq_id = pool.acquire_id()
    assert seq_id is not None
    pool.store(seq_id, list(range(20)))
    pool.take_over(seq_id, 12)
    assert ("truncate", seq_id, 12) in memory.calls
    assert pool.entries == 0 and pool.cached_cells == 0 and pool.available_ids() == 1
    pool.store(seq_id, list(range(12)))
    pool.clear()
    assert pool.entries == 0 and pool.available_ids() == 2


def test_a_disabled_cache_keeps_nothing() -> None:
    pool = KvPool(FakeMemory(), total_cells=100, n_ids=2, cache_enabled=False)
    seq_id = pool.acquire_id()
    assert seq_id is not None
    pool.store(seq_id, [1, 2, 3, 4, 5])
    assert pool.entries == 0 and pool.available_ids() == 2


def test_running_sequences_get_the_lowest_free_ids() -> None:
    pool = KvPool(FakeMemory(), total_cells=1000, n_ids=6)
    first, second, third = pool.acquire_id(), pool.acquire_id(), pool.acquire_id()
    assert (first, second, third) == (0, 1, 2)
    pool.release_id(1)
    assert pool.acquire_id() == 1  # the gap is filled first, keeping ids consecutive


def test_with_kv_streams_entries_move_above_the_running_ids() -> None:
    """Running sequences keep ids 0..running_ids-1 (one run: one pass per decode step);
    a finished one's stream is copied to an entry id above them and its id freed."""
    memory = FakeMemory()
    pool = KvPool(memory, total_cells=1000, n_ids=4, running_ids=2)
    assert (pool.acquire_id(), pool.acquire_id(), pool.acquire_id()) == (0, 1, None)
    assert pool.available_ids() == 0
    pool.store(0, [1, 2, 3, 4, 5])
    assert memory.calls[-2:] == [("copy", 0, 2), ("clear", 0, -1)]
    assert pool.available_ids() == 1
    assert pool.acquire_id() == 0
    assert pool.lookup([1, 2, 3, 4, 5, 6]) == (2, 5)
    pool.store(1, [7, 8, 9, 10, 11])
    assert memory.calls[-2:] == [("copy", 1, 3), ("clear", 1, -1)]
    pool.store(0, [12, 13, 14, 15, 16])  # both entry ids taken: the older entry goes
    assert pool.lookup([1, 2, 3, 4, 5, 6]) == (None, 0)
    assert pool.lookup([12, 13, 14, 15, 16, 17]) == (2, 5)
    assert pool.entries == 2
