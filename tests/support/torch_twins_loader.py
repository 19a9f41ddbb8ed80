"""tests/models/torch_twins.py for tests outside tests/models (whose folder pytest puts on
sys.path only for its own tests)."""
import importlib.util
import os


def load_torch_twins():
    path = os.path.join(os.path.dirname(__file__), "..", "models", "torch_twins.py")
    spec = importlib.util.spec_from_file_location("torch_twins", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
