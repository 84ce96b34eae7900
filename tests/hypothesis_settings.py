"""The fuzz tests' one hypothesis profile: reproducible (derandomized), no per-example deadline
on a loaded CI host, and no health check for slow or large generated sources. Tests set their
own `max_examples` on top: `@settings(FUZZ, max_examples=N)`."""

from hypothesis import HealthCheck, settings

FUZZ = settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
