"""The optimizers' fast updates: the rule's numbers, in place, and only for the class that wrote the rule."""

import re

import numpy as np
import pytest

from digitlab.nn import ops, optimizers
from digitlab.nn.accel import updates
from digitlab.nn.accel.updates import FastUpdate, fast_update_for
from digitlab.nn.optimizers import SGD, Adam, RMSprop


class Stub:
    """The little an optimizer needs of a layer: a name, params and grads."""

    def __init__(self, name, **params):
        self.name = name
        self.params = {key: np.array(value, np.float64) for key, value in params.items()}
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}


class ClippedAdam(Adam):  # changes the update: Adam's fast version would silently skip the change
    def rule(self, param, grad, mean, mean_square):
        super().rule(param, np.clip(grad, -1, 1), mean, mean_square)


class QuietAdam(Adam):  # changes nothing of the rule
    pass


def test_the_fast_update_is_used_only_by_the_class_whose_rule_it_writes(monkeypatch):
    class AdamWithKernel(ClippedAdam):
        pass

    own = FastUpdate(updates.sgd_in_place, lambda optimizer: "param -= learning_rate * grad;", updates.sgd_scalars)
    monkeypatch.setitem(updates.FAST_UPDATES, AdamWithKernel, own)
    assert all(fast_update_for(cls) is updates.FAST_UPDATES[cls] for cls in (SGD, RMSprop, Adam))
    assert fast_update_for(QuietAdam) is updates.FAST_UPDATES[Adam]
    assert fast_update_for(ClippedAdam) is None
    assert fast_update_for(AdamWithKernel) is own
    assert fast_update_for(optimizers.Optimizer) is None


def test_a_subclass_that_changes_the_rule_runs_its_own_rule():
    layer = Stub("dense", kernel=[0.0, 0.0])
    layer.grads["kernel"][...] = [10.0, -10.0]
    clipped = ClippedAdam(learning_rate=0.5)
    clipped.step([layer])
    with ops.reference():
        reference = Stub("dense", kernel=[0.0, 0.0])
        reference.grads["kernel"][...] = [10.0, -10.0]
        ClippedAdam(learning_rate=0.5).step([reference])
    np.testing.assert_array_equal(layer.params["kernel"], reference.params["kernel"])


def _gpu_rule_as_python(body):
    """An optimizer's CUDA kernel body as Python statements: its C is all assignments, sqrt and,
    for Nesterov, one ``flag != 0 ? a : b``."""
    body = re.sub(r"(\w+ != 0) \? (.+?) : (\w+);", r"(\2) if \1 else \3;", body)
    return "\n".join(line.strip() for line in body.replace("sqrt(", "np.sqrt(").split(";") if line.strip())


@pytest.mark.parametrize("make", [lambda: SGD(0.1), lambda: SGD(0.1, momentum=0.9),
                                  lambda: SGD(0.1, momentum=0.9, nesterov=True), RMSprop, Adam])
def test_the_gpu_kernel_body_makes_the_update_rule_makes(make):
    """Checked here on the CPU, read as Python (float64); the GPU tests run the kernels themselves."""
    rng = np.random.default_rng(9)
    gradients = [rng.standard_normal(6) for _ in range(3)]
    by_rule, by_kernel = make(), make()
    fast = fast_update_for(type(by_kernel))
    layer = Stub("dense", kernel=rng.standard_normal(6))
    param, state = layer.params["kernel"].copy(), {name: np.zeros(6) for name in by_kernel.slots}
    for grad in gradients:
        layer.grads["kernel"][...] = grad
        by_rule.step([layer])
        by_kernel.iterations += 1
        names = {"np": np, "grad": grad, "param": param, **state, **fast.scalars(by_kernel)}
        exec(_gpu_rule_as_python(fast.cuda(by_kernel)), names)
        param, state = names["param"], {name: names[name] for name in by_kernel.slots}
    np.testing.assert_allclose(param, layer.params["kernel"], rtol=1e-12)


def test_each_optimizer_keeps_scratch_of_its_own():
    """Two optimizers training in two threads at once must not share a work array."""
    first, second = RMSprop(), RMSprop()
    like = np.zeros(5, np.float32)
    assert updates._work_array(first, like) is updates._work_array(first, like)
    assert updates._work_array(first, like) is not updates._work_array(second, like)


@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9, nesterov=True), RMSprop, Adam])
def test_the_gpu_update_hands_the_kernel_its_arrays_and_scalars_in_its_order(monkeypatch, make):
    """The kernel's plumbing, on the CPU: a stand-in for CuPy's ElementwiseKernel runs the body as
    Python on the arguments in the order the signature names them."""
    def elementwise_kernel(inputs, outputs, body, name):
        names = [part.split()[1] for part in (inputs + ", " + outputs).split(", ")]

        def kernel(*arguments):
            values = {"np": np, **dict(zip(names, arguments, strict=True))}
            exec(_gpu_rule_as_python(body), values)
            for output in outputs.split(", "):
                arguments[names.index(output.split()[1])][...] = values[output.split()[1]]
        return kernel

    monkeypatch.setattr(updates, "elementwise_kernel", elementwise_kernel)
    rng = np.random.default_rng(2)
    by_kernel, in_place = make(), make()
    param, grad = rng.standard_normal(5), rng.standard_normal(5)
    state = [np.full(5, 0.5) for _ in by_kernel.slots]
    expected, expected_state = param.copy(), [array.copy() for array in state]
    for optimizer in (by_kernel, in_place):
        optimizer.iterations = 1
    fast = fast_update_for(type(by_kernel))
    updates._kernel_update(fast, by_kernel, param, grad, state)
    fast.in_place(in_place, expected, grad, np.empty(5), *expected_state)
    np.testing.assert_allclose(param, expected, rtol=1e-12)
    for got, want in zip(state, expected_state, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)
