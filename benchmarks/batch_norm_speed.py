"""BatchNorm2d speed on a ResNet-18-sized tensor (16, 64, 56, 56): fastconv's C kernels
vs torch (CPU, same threads) vs the NumPy code of fastconv.nn.BatchNorm2d (and ReLU)
that they replace. Medians of alternating runs.

    PYTHONPATH=. python benchmarks/batch_norm_speed.py
"""
import fastconv  # first: OMP_WAIT_POLICY=PASSIVE before torch loads its OpenMP
import time, statistics, numpy as np, torch
from fastconv import nn
torch.set_num_threads(fastconv.get_num_threads())
shape = (16, 64, 56, 56); C = shape[1]
rng = np.random.default_rng(0)
x = rng.standard_normal(shape).astype(np.float32); gy = rng.standard_normal(shape).astype(np.float32)
g = np.ones(C, np.float32); b = np.zeros(C, np.float32)
rm, rv = np.zeros(C, np.float32), np.ones(C, np.float32)
layer = nn.BatchNorm2d(C); relu_layer = nn.ReLU()
tx = torch.from_numpy(x).requires_grad_(True); tg = torch.ones(C, requires_grad=True); tb = torch.zeros(C, requires_grad=True)
trm, trv = torch.zeros(C), torch.ones(C); tgy = torch.from_numpy(gy)
F = torch.nn.functional
st = {}
def fc_fwd(): st['fc'] = fastconv.batch_norm2d(x, g, b, rm, rv)
def fc_bwd(): fastconv.batch_norm2d_backward(gy, x, g, st['fc'].save_mean, st['fc'].save_invstd)
def fc_fwd_relu(): st['fr'] = fastconv.batch_norm2d(x, g, b, rm, rv, relu=True)
def fc_bwd_relu(): r = st['fr']; fastconv.batch_norm2d_backward(gy, x, g, r.save_mean, r.save_invstd, y=r.y, relu=True)
def np_fwd(): layer.forward(x)
def np_bwd(): layer.forward(x); t0 = time.perf_counter(); layer.backward(gy); return time.perf_counter() - t0
def np_fwd_relu(): relu_layer.forward(layer.forward(x))
def np_bwd_relu():
    relu_layer.forward(layer.forward(x)); t0 = time.perf_counter(); layer.backward(relu_layer.backward(gy)); return time.perf_counter() - t0
def t_fwd(): st['t'] = F.batch_norm(tx, trm, trv, tg, tb, training=True)
def t_bwd():
    y = F.batch_norm(tx, trm, trv, tg, tb, training=True); t0 = time.perf_counter(); y.backward(tgy); return time.perf_counter() - t0
def t_fwd_relu():
    with torch.no_grad(): F.relu(F.batch_norm(tx, trm, trv, tg, tb, training=True), inplace=True)
def t_bwd_relu():
    y = F.relu(F.batch_norm(tx, trm, trv, tg, tb, training=True)); t0 = time.perf_counter(); y.backward(tgy); return time.perf_counter() - t0
def fc_eval(): fastconv.batch_norm2d(x, g, b, rm, rv, training=False)
def t_eval():
    with torch.no_grad(): F.batch_norm(tx, trm, trv, tg, tb, training=False)
def np_eval(): layer.eval(); layer.forward(x); layer.train()
groups = {
 'forward (train)': [('fastconv', fc_fwd), ('torch', t_fwd), ('numpy', np_fwd)],
 'backward': [('fastconv', fc_bwd), ('torch', t_bwd), ('numpy', np_bwd)],
 'forward bn+relu': [('fastconv', fc_fwd_relu), ('torch', t_fwd_relu), ('numpy', np_fwd_relu)],
 'backward bn+relu': [('fastconv', fc_bwd_relu), ('torch', t_bwd_relu), ('numpy', np_bwd_relu)],
 'forward (eval)': [('fastconv', fc_eval), ('torch', t_eval), ('numpy', np_eval)],
}
fc_fwd(); fc_fwd_relu()
print(f"shape {shape}, threads {fastconv.get_num_threads()}, isa {fastconv.get_isa()}")
for name, fns in groups.items():
    times = {k: [] for k, _ in fns}
    for f in fns: f[1]()
    for rep in range(15):
        for k, f in fns:
            t0 = time.perf_counter(); r = f(); t = time.perf_counter() - t0
            times[k].append(r if r is not None else t)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    print(f"{name:18s} " + "  ".join(f"{k} {v:7.2f} ms" for k, v in med.items())
          + f"   vs torch {med['torch']/med['fastconv']:.2f}x, vs numpy {med['numpy']/med['fastconv']:.2f}x")
