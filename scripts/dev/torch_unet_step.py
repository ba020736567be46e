#!/usr/bin/python3
"""Dev-only: the DDPM training step of cflens in PyTorch on this machine's CPU, for bench/train-step.ts.

A diffusers UNet2DModel (DownBlock2D / AttnDownBlock2D / UNetMidBlock2D / AttnUpBlock2D / UpBlock2D,
positional time embedding, as diffusers builds it; written here from the config because diffusers is
not installed) is built from a cflens UNet2DModel folder, its safetensors weights loaded by name (every
key must match), then:
  --check IN.json   runs the forward on the inputs in IN.json and prints the output (the bench compares
                    it with cflens's forward on the same weights);
  --steps N         times N training steps (forward, MSE to the noise, backward, AdamW) of batch --batch,
                    median of N after 3 warm-up steps, with --threads threads; counts the forward FLOPs.
Prints one JSON object. Needs only Debian's python3-torch.
"""
import argparse, json, math, statistics, struct, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {'F16': torch.float16, 'F32': torch.float32, 'BF16': torch.bfloat16}
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        a, b = v['data_offsets']
        out[k] = torch.frombuffer(bytearray(data[a:b]), dtype=dtypes[v['dtype']]).reshape(v['shape']).float()
    return out


class Resnet(nn.Module):
    def __init__(self, cin, cout, temb, groups, eps):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class Attention(nn.Module):
    def __init__(self, c, head_dim, groups, eps):
        super().__init__()
        self.heads, self.head_dim = c // head_dim, head_dim
        self.group_norm = nn.GroupNorm(groups, c, eps)
        self.to_q, self.to_k, self.to_v = nn.Linear(c, c), nn.Linear(c, c), nn.Linear(c, c)
        self.to_out = nn.ModuleList([nn.Linear(c, c)])

    def forward(self, x):
        b, c, h, w = x.shape
        t = self.group_norm(x).view(b, c, h * w).transpose(1, 2)
        split = lambda y: y.view(b, h * w, self.heads, self.head_dim).transpose(1, 2)
        q, k, v = split(self.to_q(t)), split(self.to_k(t)), split(self.to_v(t))
        a = torch.softmax(q @ k.transpose(-1, -2) * self.head_dim ** -0.5, dim=-1) @ v
        o = self.to_out[0](a.transpose(1, 2).reshape(b, h * w, c))
        return o.transpose(1, 2).reshape(b, c, h, w) + x


class Sampler(nn.Module):
    def __init__(self, c, down):
        super().__init__()
        self.down = down
        self.conv = nn.Conv2d(c, c, 3, stride=2 if down else 1, padding=1)

    def forward(self, x):
        return self.conv(x if self.down else F.interpolate(x, scale_factor=2.0, mode='nearest'))


class Block(nn.Module):
    def __init__(self, ins, cout, attn, temb, cfg, sampler):
        super().__init__()
        g, eps = cfg['norm_num_groups'], cfg.get('norm_eps', 1e-5)
        self.resnets = nn.ModuleList([Resnet(cin, cout, temb, g, eps) for cin in ins])
        self.attentions = nn.ModuleList([Attention(cout, cfg['attention_head_dim'], g, eps) for _ in ins]) if attn else None
        if sampler == 'down':
            self.downsamplers = nn.ModuleList([Sampler(cout, True)])
        elif sampler == 'up':
            self.upsamplers = nn.ModuleList([Sampler(cout, False)])


class UNet2DModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        ch = cfg['block_out_channels']
        g, eps, L = cfg['norm_num_groups'], cfg.get('norm_eps', 1e-5), cfg['layers_per_block']
        temb = ch[0] * 4
        self.conv_in = nn.Conv2d(cfg['in_channels'], ch[0], 3, padding=1)
        self.time_embedding = nn.Module()
        self.time_embedding.linear_1 = nn.Linear(ch[0], temb)
        self.time_embedding.linear_2 = nn.Linear(temb, temb)
        self.down_blocks = nn.ModuleList()
        cout = ch[0]
        for i, kind in enumerate(cfg['down_block_types']):
            cin, cout = cout, ch[i]
            final = i == len(ch) - 1
            self.down_blocks.append(Block([cin] + [cout] * (L - 1), cout, kind.startswith('Attn'), temb, cfg, None if final else 'down'))
        self.mid_block = Block([ch[-1], ch[-1]], ch[-1], True, temb, cfg, None)
        self.mid_block.attentions = nn.ModuleList([Attention(ch[-1], cfg['attention_head_dim'], g, eps)])
        rev = list(reversed(ch))
        self.up_blocks = nn.ModuleList()
        cout = rev[0]
        for i, kind in enumerate(cfg['up_block_types']):
            prev, cout, cin = cout, rev[i], rev[min(i + 1, len(ch) - 1)]
            ins = [(prev if j == 0 else cout) + (cin if j == L else cout) for j in range(L + 1)]
            self.up_blocks.append(Block(ins, cout, kind.startswith('Attn'), temb, cfg, None if i == len(ch) - 1 else 'up'))
        self.conv_norm_out = nn.GroupNorm(g, ch[0], eps)
        self.conv_out = nn.Conv2d(ch[0], cfg['out_channels'], 3, padding=1)

    def time_proj(self, t):
        half = self.cfg['block_out_channels'][0] // 2
        shift = self.cfg.get('freq_shift', 0)
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / (half - shift))
        e = t.float()[:, None] * freqs[None]
        e = torch.cat([torch.sin(e), torch.cos(e)], dim=-1)
        return torch.cat([e[:, half:], e[:, :half]], dim=-1) if self.cfg.get('flip_sin_to_cos', True) else e

    def forward(self, x, t):
        emb = self.time_embedding.linear_2(F.silu(self.time_embedding.linear_1(self.time_proj(t))))
        h = self.conv_in(x)
        skips = [h]
        for blk in self.down_blocks:
            for j, r in enumerate(blk.resnets):
                h = r(h, emb)
                if blk.attentions is not None:
                    h = blk.attentions[j](h)
                skips.append(h)
            if hasattr(blk, 'downsamplers'):
                h = blk.downsamplers[0](h)
                skips.append(h)
        h = self.mid_block.resnets[0](h, emb)
        h = self.mid_block.attentions[0](h)
        h = self.mid_block.resnets[1](h, emb)
        for blk in self.up_blocks:
            for j, r in enumerate(blk.resnets):
                h = r(torch.cat([h, skips.pop()], dim=1), emb)
                if blk.attentions is not None:
                    h = blk.attentions[j](h)
            if hasattr(blk, 'upsamplers'):
                h = blk.upsamplers[0](h)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


def forward_flops(model, x, t):
    """Multiply-adds × 2 of the convolutions, linears and attention products of one forward."""
    total = [0]
    def conv(m, i, o):
        total[0] += 2 * o.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
    def lin(m, i, o):
        total[0] += 2 * o.numel() * m.in_features
    def attn(m, i, o):
        b, c, h, w = o.shape
        total[0] += 2 * 2 * b * (h * w) ** 2 * c
    hooks = [m.register_forward_hook(conv) for m in model.modules() if isinstance(m, nn.Conv2d)]
    hooks += [m.register_forward_hook(lin) for m in model.modules() if isinstance(m, nn.Linear)]
    hooks += [m.register_forward_hook(attn) for m in model.modules() if isinstance(m, Attention)]
    with torch.no_grad():
        model(x, t)
    for h in hooks:
        h.remove()
    return total[0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument('folder')
    p.add_argument('--check')
    p.add_argument('--steps', type=int, default=0)
    p.add_argument('--batch', type=int, default=16)
    p.add_argument('--threads', type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    cfg = json.load(open(f'{a.folder}/config.json'))
    model = UNet2DModel(cfg)
    weights = read_safetensors(f'{a.folder}/model.safetensors')
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        sys.exit(f'weights do not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}')
    out = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'parameters': sum(p.numel() for p in model.parameters())}
    if a.check:
        c = json.load(open(a.check))
        x = torch.tensor(c['x'], dtype=torch.float32).reshape(c['shape'])
        with torch.no_grad():
            out['check'] = model(x, torch.tensor(c['t'])).flatten().tolist()
    if a.steps:
        s = cfg['sample_size']
        g = torch.Generator().manual_seed(0)
        x = torch.randn(a.batch, cfg['in_channels'], s, s, generator=g)
        eps = torch.randn(x.shape, generator=g)
        t = torch.randint(0, 1000, (a.batch,), generator=g)
        out['forwardFlops'] = forward_flops(model, x, t)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-4)
        times = []
        for i in range(a.steps + 3):
            t0 = time.perf_counter()
            opt.zero_grad()
            F.mse_loss(model(x, t), eps).backward()
            opt.step()
            times.append(time.perf_counter() - t0)
        out['batch'] = a.batch
        out['stepMs'] = 1e3 * statistics.median(times[3:])
    print(json.dumps(out))


if __name__ == '__main__':
    main()
