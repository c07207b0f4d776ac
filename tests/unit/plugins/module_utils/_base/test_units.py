"""The units of the base layer: rates, times, losses, link settings, sizes and CPU (pure)."""
import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils._base import units as u


@pytest.mark.parametrize("text,bits", [
    ("10mbit", 10 ** 7), ("10Mbit", 10 ** 7), ("10000kbit", 10 ** 7), ("1.5gbit", 15 * 10 ** 8),
    ("125kbps", 10 ** 6), ("1mibit", 2 ** 20), (8000, 8000), ("8000", 8000), ("10mbit/s", 10 ** 7),
])
def test_rates(text, bits):
    assert u.parse_rate("rate", text) == bits


@pytest.mark.parametrize("text,us", [("5ms", 5000), ("250us", 250), ("1s", 10 ** 6), ("1.5ms", 1500),
                                     (100, 100), ("0.5 msec", 500)])
def test_times(text, us):
    assert u.parse_time("delay", text) == us


@pytest.mark.parametrize("fn,value,message", [
    (u.parse_rate, "10mbitz", "unknown rate unit 'mbitz'"),
    (u.parse_rate, "fast", "not a number with a unit"),
    (u.parse_rate, "100gbit", "at most"),
    (u.parse_rate, True, "a boolean"),
    (u.parse_time, "5 parsecs", "unknown time unit"),
    (u.parse_loss, "101%", "between 0% and 100%"),
    (u.parse_loss, "1ms", "a percentage"),
])
def test_bad_values_name_variable_and_value(fn, value, message):
    with pytest.raises(u.UnitError, match=message) as info:
        fn("vxlab_link_defaults.x", value)
    assert str(info.value).startswith("vxlab_link_defaults.x=%r" % (value,))


def test_normalise_equal_settings_compare_equal():
    a = u.normalise("a", {"rate": "10mbit", "delay": "5ms", "loss": "0.10%", "jitter": None})
    b = u.normalise("b", {"rate": "10000kbit", "delay": 5000, "loss": 0.1})
    assert a == b == {"rate": 10 ** 7, "delay": 5000, "loss": 0.1}
    assert u.normalise("c", {"rate": 0}) == {}
    with pytest.raises(u.UnitError, match="jitter needs a delay"):
        u.normalise("d", {"jitter": "1ms"})
    with pytest.raises(u.UnitError, match="unknown setting"):
        u.normalise("d", {"bandwidth": "1mbit"})


def test_sizes_cpu_and_cpusets():
    assert u.parse_size("memory", "512M") == 512 << 20 and u.parse_size("memory", "1g") == 1 << 30
    assert u.parse_size("memory", None) is None
    with pytest.raises(ValueError, match="^memory='1k': at least 4M"):
        u.parse_size("memory", "1k")
    assert u.parse_cpu("cpu", "0.25") == 0.25
    with pytest.raises(ValueError, match="^cpu=0.001"):
        u.parse_cpu("cpu", 0.001)
    assert u.parse_cpuset("cpuset", "0 - 1") == "0-1"
    with pytest.raises(ValueError, match="CPU list"):
        u.parse_cpuset("cpuset", "a")


def test_non_finite_numbers_are_refused():
    with pytest.raises(u.UnitError, match="not a finite number"):
        u.parse_rate("rate", float("inf"))
