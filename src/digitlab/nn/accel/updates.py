"""The optimizers' fast updates: today's rules in place, split over the cores, or one CUDA kernel.

nn/optimizers.py writes each rule as its paper does, in plain NumPy: every operation makes a new
array. Here the same rule runs without allocating (each operation writes into the state arrays or
into one scratch array kept per parameter shape, ``work``), a large parameter in parts, one per core,
and on a GPU as one CUDA kernel. Only the class that wrote a rule gets the fast version of it: a
subclass that changes ``rule`` runs its own rule (see ``fast_update_for``).
"""

import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from digitlab.nn import ops
from digitlab.nn.accel import threads
from digitlab.nn.backend import elementwise_kernel
from digitlab.nn.optimizers import SGD, Adam, RMSprop

# Parameters at least this large (1 MB of float32, a core's L2 cache here) are updated in parts, one
# per core (see threads.py). A smaller one stays in the cache of the core that runs the layers:
# updating half of it on another core would move that half there, and the next forward pass would
# pay more to fetch it back than the split saved (a one-image step of the scratch-sgd recipe, with
# a 78,400-value kernel, took 345 microseconds instead of 184).
SPLIT_PARAMETER_SIZE = 1 << 18


@dataclass(frozen=True)
class FastUpdate:
    """One optimizer class's rule, fast. ``in_place(optimizer, param, grad, work, *state)`` updates
    param and state in place, element by element (so any matching slices of the arrays will do);
    ``work`` is scratch space. On a GPU every NumPy call is a kernel launch of its own, which costs
    more than the arithmetic of a parameter: there the update is one CUDA kernel, whose body
    ``cuda(optimizer)`` is the rule written in C for one element. It reads ``grad`` and the scalars
    of ``scalars(optimizer)`` (computed here in double precision, as ``in_place`` has them) and
    updates ``param`` and the state (named as the optimizer's slots) in place."""
    in_place: Callable[..., None]
    cuda: Callable[..., str]
    scalars: Callable[..., dict[str, float]]


FAST_UPDATES: dict[type, FastUpdate] = {}


def register(cls: type, fast: FastUpdate) -> None:
    """Give ``cls`` (and its subclasses that keep its rule) ``fast`` as the fast version of its rule."""
    FAST_UPDATES[cls] = fast


def fast_update_for(cls: type) -> FastUpdate | None:
    """The fast version of ``cls``'s rule: the first one registered up its classes, as long as no
    class before it changes ``rule`` (its fast version would silently skip the change). For SGD,
    RMSprop and Adam themselves that is one dictionary lookup a parameter."""
    for ancestor in cls.__mro__:
        if ancestor in FAST_UPDATES:
            return FAST_UPDATES[ancestor]
        if "rule" in vars(ancestor):
            return None
    return None


@ops.fast("update")
def update(optimizer, param, grad, state):
    fast = fast_update_for(type(optimizer))
    if fast is None:
        optimizer.rule(param, grad, *state)
    elif not isinstance(param, np.ndarray):
        _kernel_update(fast, optimizer, param, grad, state)
    else:
        _update_in_parts(fast, optimizer, param, grad, state)


def _update_in_parts(fast, optimizer, param, grad, state):
    """``fast.in_place`` on the whole parameter, or for a large one on parts, one per core."""
    arrays = [param, grad, _work_array(optimizer, param), *state]
    # Parts are slices of the flattened arrays; flattening a non-contiguous one would copy it,
    # and the update would be lost in the copy.
    contiguous = all(array.flags.c_contiguous for array in arrays)
    if param.size < SPLIT_PARAMETER_SIZE or not contiguous:
        fast.in_place(optimizer, *arrays)
        return
    flat = [array.reshape(-1) for array in arrays]
    pieces = threads.parts(param.size, param.size * 10 * threads.ELEMENT_NS, param)  # about ten passes
    threads.run(lambda piece: fast.in_place(optimizer, *(array[piece] for array in flat)), pieces)


def _kernel_update(fast, optimizer, param, grad, state):
    scalars = fast.scalars(optimizer)
    inputs = ", ".join(["T grad"] + [f"T {name}" for name in scalars])
    outputs = ", ".join(["T param"] + [f"T {name}" for name in optimizer.slots])
    kernel = elementwise_kernel(inputs, outputs, fast.cuda(optimizer), f"digitlab_{type(optimizer).__name__.lower()}")
    # Python floats, not NumPy's: a scalar then takes the arrays' type, T.
    kernel(grad, *map(float, scalars.values()), param, *state)


_scratch: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()


def _work_array(optimizer, like):
    """A scratch array shaped like ``like``, one per optimizer and shape, reused across steps so
    updates allocate nothing (each optimizer its own: two may train in two threads at once)."""
    arrays = _scratch.setdefault(optimizer, {})
    key = (like.shape, like.dtype)
    if key not in arrays:
        arrays[key] = np.empty_like(like)
    return arrays[key]


# SGD: w -= lr * g; with momentum, v = momentum * v - lr * g and w += v (Nesterov: look ahead).

def sgd_in_place(optimizer, param, grad, step, velocity=None):
    np.multiply(grad, optimizer.learning_rate, out=step)
    if velocity is None:
        param -= step
        return
    velocity *= optimizer.momentum
    velocity -= step
    if optimizer.nesterov:  # w += momentum * v - lr * g
        param += np.subtract(optimizer.momentum * velocity, step, out=step)
    else:
        param += velocity


def sgd_cuda(optimizer):
    if not optimizer.momentum:
        return "param -= learning_rate * grad;"
    return """velocity = momentum * velocity - learning_rate * grad;
              param += nesterov != 0 ? momentum * velocity - learning_rate * grad : velocity;"""


def sgd_scalars(optimizer):
    return {"learning_rate": optimizer.learning_rate, "momentum": optimizer.momentum,
            "nesterov": float(optimizer.nesterov)}


# RMSprop: s = rho * s + (1 - rho) * g^2;  w -= lr * g / (sqrt(s) + epsilon).

def rmsprop_in_place(optimizer, param, grad, step, mean_square):
    np.multiply(grad, grad, out=step)
    step *= 1 - optimizer.rho
    mean_square *= optimizer.rho
    mean_square += step
    np.sqrt(mean_square, out=step)
    step += optimizer.epsilon
    np.divide(grad, step, out=step)
    step *= optimizer.learning_rate
    param -= step


def rmsprop_cuda(optimizer):
    return """mean_square = rho * mean_square + one_minus_rho * grad * grad;
              param -= learning_rate * grad / (sqrt(mean_square) + epsilon);"""


def rmsprop_scalars(optimizer):
    return {"learning_rate": optimizer.learning_rate, "rho": optimizer.rho, "one_minus_rho": 1 - optimizer.rho,
            "epsilon": optimizer.epsilon}


# Adam: m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  w -= lr_t * m / (sqrt(v) + epsilon).

def adam_in_place(optimizer, param, grad, step, mean, mean_square):
    np.multiply(grad, 1 - optimizer.beta_1, out=step)
    mean *= optimizer.beta_1
    mean += step
    np.multiply(grad, grad, out=step)
    step *= 1 - optimizer.beta_2
    mean_square *= optimizer.beta_2
    mean_square += step
    np.sqrt(mean_square, out=step)
    step += optimizer.epsilon
    np.divide(mean, step, out=step)
    step *= float(optimizer.step_size)
    param -= step


def adam_cuda(optimizer):
    return """mean = beta_1 * mean + one_minus_beta_1 * grad;
              mean_square = beta_2 * mean_square + one_minus_beta_2 * grad * grad;
              param -= step_size * mean / (sqrt(mean_square) + epsilon);"""


def adam_scalars(optimizer):
    return {"step_size": optimizer.step_size, "beta_1": optimizer.beta_1, "one_minus_beta_1": 1 - optimizer.beta_1,
            "beta_2": optimizer.beta_2, "one_minus_beta_2": 1 - optimizer.beta_2, "epsilon": optimizer.epsilon}


register(SGD, FastUpdate(sgd_in_place, sgd_cuda, sgd_scalars))
register(RMSprop, FastUpdate(rmsprop_in_place, rmsprop_cuda, rmsprop_scalars))
register(Adam, FastUpdate(adam_in_place, adam_cuda, adam_scalars))
