from fastfuncs import distinct_count, fib, sort_words, split_words


def test_distinct_count():
    assert distinct_count([]) == 0
    assert distinct_count([3, 1, 3, 2, 1]) == 3
    assert distinct_count(["a", "b", "a"]) == 2


def test_fib():
    assert [fib(n) for n in range(8)] == [0, 1, 1, 2, 3, 5, 8, 13]


def test_sort_words():
    assert sort_words(["pear", "apple", "fig"]) == ["apple", "fig", "pear"]


def test_split_words():
    assert split_words("Hello, world! (again)") == ["hello", "world", "again"]
