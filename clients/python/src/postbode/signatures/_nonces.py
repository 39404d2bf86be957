"""Remembers the nonces of accepted calls for as long as a call stays acceptable."""

from __future__ import annotations

import collections
import threading
from typing import Deque, Dict, Tuple


class NonceCache:
    """In memory, shared by the threads of one process, bounded twice: entries older than
    the window go, and past ``max_entries`` the oldest go first.

    Several processes behind one URL need a shared store instead: anything with this
    ``check_and_insert`` method (e.g. over Redis ``SET NX EX``) can be passed as
    ``nonce_cache``.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self._max_entries = max(1, max_entries)
        self._seen: Dict[str, int] = {}
        self._order: Deque[Tuple[int, str]] = collections.deque()
        self._lock = threading.Lock()

    def check_and_insert(self, nonce: str, now: int, window_seconds: int) -> bool:
        """Records ``nonce``; ``False`` when it was seen within the window."""
        with self._lock:
            while self._order and self._order[0][0] <= now - window_seconds:
                _, old = self._order.popleft()
                self._seen.pop(old, None)
            if nonce in self._seen:
                return False
            while len(self._order) >= self._max_entries:
                _, old = self._order.popleft()
                self._seen.pop(old, None)
            self._seen[nonce] = now
            self._order.append((now, nonce))
            return True
