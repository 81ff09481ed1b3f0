"""Creation ops beyond the generated tests."""
import ttorch


def test_float64_fill_keeps_full_precision_on_each_device(device):
    t = ttorch.full((3,), 0.1, dtype=ttorch.float64, device=device)
    assert t.tolist() == [0.1, 0.1, 0.1]
    z = ttorch.zeros(2, 3, dtype=ttorch.int64, device=device)
    assert z.tolist() == [[0, 0, 0], [0, 0, 0]]
