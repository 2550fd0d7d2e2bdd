"""fastfuncs: small pure-Python helpers on items and words."""

from fastfuncs.core import distinct_count, fib, sort_words, split_words

__all__ = ["distinct_count", "fib", "sort_words", "split_words"]
__version__ = "0.1.0"
