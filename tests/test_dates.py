import pytest

from newscrawl.dates import iso_datetime


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2026-11-20T09:15:00+05:00", "2026-11-20T09:15:00+05:00"),
        ("2026-11-20T09:15:00Z", "2026-11-20T09:15:00+00:00"),
        ("2026-11-20", "2026-11-20"),
        ("Fri, 20 Nov 2026 09:15:00 +0500", "2026-11-20T09:15:00+05:00"),
        ("20.11.2026 09:15", "2026-11-20T09:15:00"),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_iso_datetime(raw, iso):
    assert iso_datetime(raw) == iso
