"""Second derivatives through backward rules that read their saved output (exp, tanh, ...) and
through composite families, checked against central differences of the first derivative."""
import numpy as np
import pytest

import ttorch

FNS = {
    "exp": lambda x: x.exp(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "sqrt": lambda x: (x * x + 1).sqrt(),
    "softmax": lambda x: x.softmax(dim=-1) * ttorch.tensor([1.0, 2.0, 3.0], dtype=ttorch.float64),
    "log_softmax": lambda x: x.log_softmax(dim=-1) * ttorch.tensor([1.0, -2.0, 0.5], dtype=ttorch.float64),
    "matmul": lambda x: (x.reshape(1, 3) @ x.reshape(3, 1)) * x.sum(),
}


def _first_grad(fn, a):
    x = ttorch.tensor(a, dtype=ttorch.float64, requires_grad=True)
    g, = ttorch.autograd.grad(fn(x).sum(), x)
    return g.numpy()


@pytest.mark.parametrize("name", sorted(FNS))
def test_second_derivative_matches_differences(name):
    fn = FNS[name]
    a = np.array([0.3, -0.7, 1.1])
    x = ttorch.tensor(a, dtype=ttorch.float64, requires_grad=True)
    g, = ttorch.autograd.grad(fn(x).sum(), x, create_graph=True)
    w = np.array([0.5, -1.0, 2.0])
    gg, = ttorch.autograd.grad((g * ttorch.tensor(w)).sum(), x)
    eps = 1e-6
    num = np.zeros(3)
    for i in range(3):
        ap, am = a.copy(), a.copy()
        ap[i] += eps
        am[i] -= eps
        num[i] = ((_first_grad(fn, ap) - _first_grad(fn, am)) @ w) / (2 * eps)
    np.testing.assert_allclose(gg.numpy(), num, rtol=1e-5, atol=1e-7)



def test_norms_of_a_1d_input_twice_differentiable():
    # the weight's gradient of an input of the normalized shape alone has no leading dims to sum
    r = np.random.default_rng(0)
    x, w, b = (ttorch.tensor(r.standard_normal(7), requires_grad=True) for _ in range(3))
    F = ttorch.nn.functional
    assert ttorch.autograd.gradgradcheck(lambda a, c, d: F.layer_norm(a, (7,), c, d), (x, w, b))
    assert ttorch.autograd.gradgradcheck(lambda a, c: F.rms_norm(a, (7,), c), (x, w))
