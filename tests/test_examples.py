"""The examples run end to end in a quick mode and print what they promise.

The full runs (digits: >= 97% test accuracy on cpu in under two minutes) are measured by hand,
not here; a one-epoch digits run must still learn (>= 80%; seeds 0-2 give 85-94%)."""
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import ttorch

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run_example(name, *args, returncode=0, env=None):
    """Run examples/<name> with this checkout's ttorch; the completed process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    out = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=300)
    assert out.returncode == returncode, out.stdout + out.stderr[-3000:]
    return out


def load_example(name):
    sys.path.insert(0, str(EXAMPLES))                     # the text examples import _text
    try:
        spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(EXAMPLES))


def test_digits_cnn_one_epoch_learns_and_reloads():
    # one epoch, and a bar no run can clear: the run must still learn, reload, and then fail loudly
    out = run_example("digits_cnn.py", "--epochs", "1", "--min-accuracy", "100.01", returncode=1)
    assert "digits: 1437 train / 360 test images" in out.stdout
    accuracy = float(re.search(r"^test accuracy: (\d+\.\d\d)%$", out.stdout, re.M).group(1))
    reloaded = float(re.search(r"^reloaded test accuracy: (\d+\.\d\d)%$", out.stdout, re.M).group(1))
    assert 80.0 <= accuracy == reloaded
    assert f"error: test accuracy {accuracy:.2f}% is below 100.01%" in out.stderr
    assert re.search(r"epoch 1/1: +\d+%\|.*\| \d+/23 ", out.stderr)   # the tqdm bar (its refresh times vary)


def test_char_gpt_quick():
    out = run_example("char_gpt.py", "--steps", "3", "--eval-interval", "2", "--eval-iters", "1", "--batch-size", "4",
                      "--block-size", "16", "--n-layer", "1", "--n-embd", "32", "--sample-tokens", "20").stdout
    losses = [float(v) for v in re.findall(r"val loss (\d+\.\d+)", out)]
    assert re.search(r"^step    3: train loss", out, re.M) and len(losses) == 3
    assert abs(losses[0] - 4.6) < 0.3                     # starts near log(vocab ~ 100)
    sample = out.split("--- sample ---\n")[1].split("\n--------------")[0]
    assert len(sample) == 21                              # the "\n" prompt and 20 characters
    assert re.search(r"^final val loss: \d+\.\d+$", out, re.M)


def test_lstm_lm_quick():
    out = run_example("lstm_lm.py", "--steps", "4", "--eval-interval", "2", "--eval-iters", "1", "--batch-size", "4",
                      "--block-size", "8", "--hidden-size", "32", "--sample-tokens", "20").stdout
    assert len(re.findall(r"^step    [24]: train loss \d+\.\d+ \(ppl +\d+\.\d+\), val loss", out, re.M)) == 2
    sample = out.split("--- sample ---\n")[1].split("\n--------------")[0]
    assert sample.startswith("The ") and len(sample) == 24
    assert re.search(r"^final val loss: \d+\.\d+, perplexity \d+\.\d+$", out, re.M)


def test_example_models_on_device(device):
    """One training step and a short generation of each example's model, on cpu and on (simulated) cuda."""
    ttorch.manual_seed(0)
    F = ttorch.nn.functional
    digits = load_example("digits_cnn").DigitsNet(width=2).to(device)
    loss = F.cross_entropy(digits(ttorch.rand(3, 1, 8, 8, device=device)), ttorch.tensor([1, 2, 3], device=device))
    loss.backward()
    assert digits.features[0].weight.grad.shape == (2, 1, 3, 3)

    prompt = ttorch.tensor([[1, 2, 3]], device=device)
    gpt = load_example("char_gpt").GPT(vocab_size=7, block_size=3, n_layer=1, n_head=2, n_embd=8).to(device)
    _, loss = gpt(prompt, prompt)
    loss.backward()
    assert gpt.wte.weight.grad is not None and gpt.lm_head.weight is gpt.wte.weight
    out = gpt.generate(prompt, 2, temperature=0.8, top_k=3)        # runs past block_size: crops the context
    assert out.shape == (1, 5) and out[0, :3].tolist() == [1, 2, 3] and out.max().item() < 7

    lstm = load_example("lstm_lm").LSTMLanguageModel(vocab_size=7, embed_size=4, hidden_size=8).to(device)
    logits, (h, c) = lstm(prompt)
    assert logits.shape == (1, 3, 7) and h.shape == c.shape == (1, 1, 8)
    out = lstm.generate(prompt, 2, top_k=2)
    assert out.shape == (1, 5) and out.device.type == ttorch.device(device).type


def test_example_refuses_a_missing_device():
    # (the three examples check --device the same way; one is run here, an import of sklearn costs seconds)
    env = {"TRITON_INTERPRET": "0", "CUDA_VISIBLE_DEVICES": ""}      # no GPU, real or simulated
    out = run_example("digits_cnn.py", "--device", "cuda", returncode=2, env=env)
    assert "--device cuda: no CUDA device is available" in out.stderr
