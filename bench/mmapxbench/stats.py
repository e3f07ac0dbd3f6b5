"""Medians, ratios and the way figures are printed: one definition for every script."""

import statistics


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def cv(values):
    """Coefficient of variation (standard deviation / mean), or None for fewer than two values."""
    values = [v for v in values if v is not None]
    if len(values) < 2 or statistics.mean(values) == 0:
        return None
    return statistics.stdev(values) / statistics.mean(values)


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def fmt(x, digits=2):
    return "n/a" if x is None else f"{x:.{digits}f}"


def fmt_time(seconds):
    if seconds is None:
        return "n/a"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_rate(bytes_per_second):
    return "n/a" if bytes_per_second is None else f"{bytes_per_second / 2**30:.3g} GiB/s"


def fmt_size(n):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def parse_size(text):
    """'4K', '64M', '4G' or a plain number of bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip()
    if text[-1:].upper() in units:
        return int(text[:-1]) * units[text[-1:].upper()]
    return int(text)


def noise(*cvs):
    """The larger coefficient of variation, as a percentage."""
    values = [c for c in cvs if c is not None]
    return "n/a" if not values else f"{100 * max(values):.1f} %"


def verdict(value, limit, lower_is_better=True):
    """'yes', '**no**' or 'n/a' for a target `value <= limit` (or >= when higher is better)."""
    if value is None:
        return "n/a"
    met = value <= limit if lower_is_better else value >= limit
    return "yes" if met else "**no**"
