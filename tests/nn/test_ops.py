"""The dispatch behind nn/ops.py: a call goes to the registered fast version, ``reference()`` to the
textbook one, and a fast version must take the textbook one's parameters."""

import numpy as np
import pytest

from digitlab.nn import ops


def test_every_op_has_a_fast_version_and_reference_runs_the_textbook_one(monkeypatch):
    assert set(ops._registered) == set(ops.REFERENCE)
    calls = []
    monkeypatch.setitem(ops._registered, "relu", lambda x: calls.append("fast") or ops.REFERENCE["relu"](x))
    x = np.array([-1.0, 2.0])
    np.testing.assert_array_equal(ops.relu(x), [0.0, 2.0])
    with ops.reference():
        with ops.reference():  # nests
            ops.relu(x)
        ops.relu(x)
    assert calls == ["fast"]
    ops.relu(x)
    assert calls == ["fast", "fast"]


def test_reference_is_left_after_an_error():
    with pytest.raises(RuntimeError), ops.reference():
        raise RuntimeError("a failing test")
    assert ops._active is ops._registered


def test_a_fast_version_must_take_the_textbook_parameters_and_name_an_op():
    with pytest.raises(TypeError, match=r"takes \(x, out\), the textbook one \(x\)"):
        ops.fast("relu")(lambda x, out: x)
    with pytest.raises(KeyError, match="no op named 'gelu'"):
        ops.fast("gelu")(lambda x: x)
