"""fastconv keeps other libraries' idle threads from spinning against its own."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def _env_after_import(code, extra_env=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT", "GOMP_SPINCOUNT")}
    env.update(extra_env or {})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=HERE, check=True).stdout.split()
    return out


def test_idle_threads_sleep_when_fastconv_comes_first():
    code = ("import os, fastconv; print(os.environ['OMP_WAIT_POLICY'], "
            "os.environ.get('OPENBLAS_THREAD_TIMEOUT', '-'))")
    assert _env_after_import(code) == ["PASSIVE", "4"]


def test_numpy_loaded_first_is_left_alone():
    code = ("import numpy, os, fastconv; print(os.environ['OMP_WAIT_POLICY'], "
            "os.environ.get('OPENBLAS_THREAD_TIMEOUT', '-'))")
    assert _env_after_import(code) == ["PASSIVE", "-"]


def test_user_settings_win():
    code = "import os, fastconv; print(os.environ['OMP_WAIT_POLICY'])"
    assert _env_after_import(code, {"OMP_WAIT_POLICY": "ACTIVE"}) == ["ACTIVE"]


def test_pool_spins_briefly_before_sleeping():
    code = "import os, fastconv; print(os.environ['GOMP_SPINCOUNT'])"
    assert _env_after_import(code) == ["30000"]
    assert _env_after_import(code, {"GOMP_SPINCOUNT": "0"}) == ["0"]
