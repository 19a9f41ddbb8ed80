"""ml_dtypes (about a second to import) loads only when bfloat16 is asked for, and a
bfloat16 array made after `import fastconv` is still taken as bfloat16."""
import subprocess
import sys

import pytest

pytest.importorskip("ml_dtypes")

SCRIPT = """
import sys
import numpy as np
import fastconv
from fastconv.functional import lowp
assert "ml_dtypes" not in sys.modules, "import fastconv imported ml_dtypes"
assert lowp.kind_of(np.dtype(np.float16)) == "float16"
assert lowp.kind_of(np.dtype(np.int16)) is None
assert "ml_dtypes" not in sys.modules
import ml_dtypes
x = np.array([[-1.5, 2.0]], dtype=ml_dtypes.bfloat16)
y = fastconv.functional.relu(x)
assert y.dtype == np.dtype(ml_dtypes.bfloat16), y.dtype
assert y.astype(np.float32).tolist() == [[0.0, 2.0]]
assert lowp.BFLOAT16 == np.dtype(ml_dtypes.bfloat16)
assert lowp.dtype_of("bfloat16") == lowp.BFLOAT16
print("ok")
"""


def test_ml_dtypes_loads_only_when_bfloat16_is_used():
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_dtype_of_bfloat16_by_name_imports_it():
    r = subprocess.run([sys.executable, "-c",
                        "from fastconv.functional import lowp; import numpy as np, sys; "
                        "d = lowp.dtype_of('bf16'); assert 'ml_dtypes' in sys.modules; "
                        "assert d.name == 'bfloat16' and lowp.kind_of(d) == 'bfloat16'"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
