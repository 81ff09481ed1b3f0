"""The README's tour must run as written (cuda simulated by Triton's interpreter here)."""
import contextlib
import io
import pathlib
import re

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks():
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def test_readme_has_a_tour():
    blocks = _python_blocks()
    assert blocks and "import ttorch" in blocks[0]


def test_readme_tour_runs():
    for code in _python_blocks():
        out = io.StringIO()
        namespace = {"__name__": "__readme__"}
        with contextlib.redirect_stdout(out):
            exec(compile(code, str(README), "exec"), namespace)
        printed = out.getvalue()
        # every print() in the tour produced a line, and tensors print as PyTorch prints them
        assert printed.count("\n") >= code.count("print(")
        if "print(x.grad)" in code:
            assert printed.startswith("tensor([[") and namespace["x"].grad is not None
