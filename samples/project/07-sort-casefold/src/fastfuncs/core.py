"""Small helpers on lists of items and words."""

import functools

__all__ = ["distinct_count", "fib", "sort_words", "split_words"]


def distinct_count(items):
    """Return how many distinct values ``items`` holds (the items must be hashable)."""
    return len(set(items))


def fib(n):
    """Return the n-th Fibonacci number (fib(0) == 0, fib(1) == 1)."""
    previous, current = 0, 1
    for _ in range(n):
        previous, current = current, previous + current
    return previous


def _compare_casefolded(left, right):
    left, right = left.casefold(), right.casefold()
    return (left > right) - (left < right)


def sort_words(words):
    """Return ``words`` in ascending order, ignoring case."""
    return sorted(words, key=functools.cmp_to_key(_compare_casefolded))


def _iter_tokens(text):
    for raw in text.split():
        word = raw.strip(".,;:!?\"'()").lower()
        if word:
            yield word


def split_words(text):
    """Split ``text`` into lower-case words, dropping punctuation."""
    return list(_iter_tokens(text))
