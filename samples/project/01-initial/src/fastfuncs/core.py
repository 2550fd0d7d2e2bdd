"""Small helpers on lists of items and words."""

__all__ = ["distinct_count", "fib", "sort_words", "split_words"]


def distinct_count(items):
    """Return how many distinct values ``items`` holds."""
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return len(seen)


def fib(n):
    """Return the n-th Fibonacci number (fib(0) == 0, fib(1) == 1)."""
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def sort_words(words):
    """Return ``words`` in ascending order."""
    return sorted(words)


def _tokens(text):
    for raw in text.split():
        word = raw.strip(".,;:!?\"'()").lower()
        if word:
            yield word


def split_words(text):
    """Split ``text`` into lower-case words, dropping punctuation."""
    return list(_tokens(text))
