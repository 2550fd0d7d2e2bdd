"""asv benchmarks for fastfuncs.

Inputs come from a fixed generator, so every commit sees the same data.
"""

from fastfuncs import distinct_count, fib, sort_words, split_words


def _pseudo_random(count, seed=12345):
    # A fixed linear congruential generator: the same numbers on any Python or platform.
    state = seed
    for _ in range(count):
        state = (state * 1103515245 + 12345) % 2**31
        yield state >> 8


def _words(count):
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [
        "".join(letters[(value >> (5 * i)) % 26] for i in range(3 + value % 6))
        for value in _pseudo_random(count)
    ]


WORDS = _words(2000)
TEXT = " ".join(
    f"{word.capitalize()}," if i % 7 == 0 else word for i, word in enumerate(WORDS)
)


class DistinctCount:
    params = ([200, 2000], ["ints", "strs"])
    param_names = ["n", "kind"]

    def setup(self, n, kind):
        values = [value % (n // 2) for value in _pseudo_random(n)]
        self.items = values if kind == "ints" else [f"item-{value}" for value in values]

    def time_distinct_count(self, n, kind):
        distinct_count(self.items)


def time_fib(n):
    fib(n)


time_fib.params = [15, 20]
time_fib.param_names = ["n"]


def time_sort_words():
    sort_words(WORDS)


def time_split_words():
    split_words(TEXT)


def track_distinct_words():
    return distinct_count(WORDS)


track_distinct_words.unit = "items"


def peakmem_split_words():
    split_words(TEXT * 20)
