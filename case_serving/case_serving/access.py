"""Who may do what, and how often: a caller's token, its roles, and a rate per principal.

:class:`Gate` is what a route asks: it turns the ``Authorization`` header into a
:class:`~case_serving.tokens.Principal` (401 when it cannot), checks that one of the principal's
roles may make the call (403), and takes one request from the principal's bucket (429 with
``Retry-After`` when it is empty). The HTTP and gRPC front ends (``case_serving.access_http``,
``case_serving.access_grpc``) only translate its three refusals.

Limits are per principal, at the rate of its most generous role, so one agent's loop empties only
that agent's bucket and never the CRM's.
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping

from case_serving.tokens import Principal, TokenRefused, TokenVerifier

__all__ = ["Forbidden", "Gate", "RateLimited", "RateLimiter", "TokenRefused", "parse_rates"]


class Forbidden(Exception):
    """Authenticated, but none of the caller's roles may make this call (403)."""


class RateLimited(Exception):
    """The caller's bucket is empty (429); ``retry_after`` whole seconds until it holds a request."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests from this caller; retry after {retry_after} s")
        self.retry_after = retry_after


def parse_rates(items: Collection[str]) -> dict[str, float]:
    """``("crm=500", "agent=5")`` -> ``{"crm": 500.0, "agent": 5.0}`` (requests per second).

    Raises:
        ValueError: an item that is not ``role=rate`` with a positive rate.
    """
    rates = {}
    for item in items:
        role, _, rate = item.partition("=")
        try:
            value = float(rate)
        except ValueError:
            value = -1.0
        if not role.strip() or not value > 0:
            raise ValueError(f"a rate is role=requests-per-second with a positive number, not {item!r}")
        rates[role.strip()] = value
    return rates


class RateLimiter:
    """A token bucket per principal: ``rate`` requests per second, bursts of ``burst_seconds`` of it.

    A principal none of whose roles has a rate is not limited here (its calls are refused by role
    anyway). Buckets of principals not seen for a while are forgotten, oldest first, beyond
    ``max_principals``: a full bucket is what a new one would be, so forgetting it changes nothing.
    """

    def __init__(
        self,
        rates: Mapping[str, float],
        burst_seconds: float = 2.0,
        max_principals: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rates = dict(rates)
        self.burst_seconds = burst_seconds
        self.max_principals = max_principals
        self.clock = clock
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def rate_of(self, principal: Principal) -> float | None:
        """Requests per second allowed to ``principal``: its most generous role's, None if unlimited."""
        rates = [self.rates[role] for role in principal.roles if role in self.rates]
        return max(rates) if rates else None

    def take(self, principal: Principal) -> None:
        """Take one request from the principal's bucket.

        Raises:
            RateLimited: the bucket is empty.
        """
        rate = self.rate_of(principal)
        if rate is None:
            return
        capacity = max(1.0, rate * self.burst_seconds)
        key = (principal.issuer, principal.subject)
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                raise RateLimited(max(1, math.ceil((1.0 - tokens) / rate)))
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > self.max_principals:
                self._buckets.popitem(last=False)


#: The caller when authentication is off (a test bench only): every role, no limits.
UNCHECKED = Principal("unauthenticated", frozenset({"*"}), "", math.inf)


class Gate:
    """Authentication, roles and limits for one service.

    Args:
        verifier: Checks tokens; None turns authentication off (a bench only: every call passes
            as :data:`UNCHECKED`).
        limiter: Rates per principal.
    """

    def __init__(self, verifier: TokenVerifier | None, limiter: RateLimiter) -> None:
        self.verifier = verifier
        self.limiter = limiter
        #: A credential that lives only in this process's memory: the service's own loopback
        #: warm-up requests present it (they have no token, and must take the real route).
        self.internal_credential = "Bearer " + secrets.token_urlsafe(32)
        self._internal = Principal("internal-warmup", frozenset({"*"}), "", math.inf)

    @property
    def enabled(self) -> bool:
        """Whether tokens are checked."""
        return self.verifier is not None

    def _known(self, header: str | None) -> Principal | None:
        if self.verifier is None:
            return UNCHECKED
        if header is not None and hmac.compare_digest(header.encode(), self.internal_credential.encode()):
            return self._internal
        return self.verifier.cached(header)

    def _permit(self, principal: Principal, roles: Collection[str]) -> Principal:
        if "*" not in principal.roles and principal.roles.isdisjoint(roles):
            raise Forbidden("the caller's roles do not allow this call")
        self.limiter.take(principal)
        return principal

    async def admit(self, header: str | None, roles: Collection[str]) -> Principal:
        """The principal behind ``header`` if one of ``roles`` is its and its bucket holds a request.

        Raises:
            TokenRefused: 401.
            Forbidden: 403.
            RateLimited: 429.
        """
        principal = self._known(header)
        if principal is None:
            assert self.verifier is not None
            principal = await self.verifier.verify_async(header)
        return self._permit(principal, roles)

    def admit_blocking(self, header: str | None, roles: Collection[str]) -> Principal:
        """As :meth:`admit`, for code outside an event loop."""
        principal = self._known(header)
        if principal is None:
            assert self.verifier is not None
            principal = self.verifier.verify(header)
        return self._permit(principal, roles)
