"""Reference outputs of Meta's SAM 2.1 video predictor (facebookresearch/sam2) on CPU.

Runs in its OWN virtual environment, never the project's (Meta's package initialises Hydra at
import and its repository pulls torchvision elsewhere). Setup used (see README "Official
checkpoints"):

    python3 -m venv /work/wt/metavenv
    /work/wt/metavenv/bin/pip install torch==2.13.0 hydra-core iopath pillow numpy tqdm
    git -C <sam2 checkout> archive HEAD sam2 | tar -x -C /work/wt/meta_sam2
    PYTHONPATH=/work/wt/meta_sam2:tests /work/wt/metavenv/bin/python \
        benchmarks/meta_reference/sam2_reference.py tests/data/meta_sam2.1_tiny_reference.npz

It builds ``sam2.1_hiera_t`` with ``build_sam2_video_predictor`` (post-processing on, so
``fill_hole_area=8``; the CUDA connected-components kernel is replaced by a pure-Python
8-connectivity labelling, as the CPU has no extension), measures the spec (key, shape, mean, std)
of Meta's own initialisation, loads seeded random weights of that spec
(``tests/meta_reference.synth_state``), saves the checkpoint as ``{"model": state_dict}`` (temp
file, re-read through ``torch.load(weights_only=True)`` like the official loader), runs the
scenarios of ``tests/meta_reference.SCENARIOS`` on the clip of ``make_clip`` and stores, per
scenario, object and frame: the packed binary mask (logits > 0) and the logits at
``sample_index()`` — plus the spec, so the test regenerates the same weights.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import deque

import numpy as np
import torch
from PIL import Image

import meta_reference as ref


def _components(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """CPU stand-in for ``sam2._C.get_connected_componnets``: 8-connected labels and areas."""
    m = mask.to(torch.uint8).cpu().numpy()
    labels = np.zeros(m.shape, np.int32)
    areas = np.zeros(m.shape, np.int32)
    for b in range(m.shape[0]):
        grid = m[b, 0]
        lab = labels[b, 0]
        h, w = grid.shape
        nxt = 0
        for y in range(h):
            for x in range(w):
                if grid[y, x] and not lab[y, x]:
                    nxt += 1
                    lab[y, x] = nxt
                    q, members = deque([(y, x)]), [(y, x)]
                    while q:
                        cy, cx = q.popleft()
                        for dy in (-1, 0, 1):
                            for dx in (-1, 0, 1):
                                ny, nx = cy + dy, cx + dx
                                if 0 <= ny < h and 0 <= nx < w and grid[ny, nx] and not lab[ny, nx]:
                                    lab[ny, nx] = nxt
                                    q.append((ny, nx))
                                    members.append((ny, nx))
                    ys, xs = zip(*members)
                    areas[b, 0][ys, xs] = len(members)
    return torch.from_numpy(labels).to(mask.device), torch.from_numpy(areas).to(mask.device)


def main() -> None:
    out_path = sys.argv[1]
    torch.manual_seed(0)
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    import sam2.utils.misc as misc
    from sam2.build_sam import build_sam2_video_predictor

    misc.get_connected_components = _components
    predictor = build_sam2_video_predictor(
        "configs/sam2.1/sam2.1_hiera_t.yaml", ckpt_path=None, device="cpu"
    )
    spec = [
        [
            k,
            list(v.shape),
            str(v.dtype),
            float(v.float().mean()) if v.numel() else 0.0,
            float(v.float().std()) if v.numel() > 1 else 0.0,
        ]
        for k, v in predictor.state_dict().items()
    ]
    state = ref.synth_state(spec)
    tmp = tempfile.mkdtemp()
    ckpt = os.path.join(tmp, "sam2.1_hiera_tiny_random.pt")
    torch.save({"model": state}, ckpt)
    sd = torch.load(ckpt, map_location="cpu", weights_only=True)["model"]
    missing, unexpected = predictor.load_state_dict(sd, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    frames = ref.make_clip()
    folder = os.path.join(tmp, "frames")
    os.makedirs(folder)
    for i, f in enumerate(frames):
        # lossless PNG content under a .jpg name (Meta's loader filters on the extension only)
        Image.fromarray(f).save(os.path.join(folder, f"{i}.jpg"), format="PNG")
    idx = ref.sample_index()
    arrays: dict[str, np.ndarray] = {"frames": frames, "sample_index": idx}
    timings = {}
    for name, steps in ref.SCENARIOS.items():
        t0 = time.time()
        with torch.inference_mode():
            st = predictor.init_state(video_path=folder)
            for step in steps:
                if step[0] == "box":
                    _, f, obj, box = step
                    predictor.add_new_points_or_box(st, f, obj, box=np.array(box, np.float32))
                elif step[0] == "points":
                    _, f, obj, pts, labels = step
                    predictor.add_new_points_or_box(
                        st,
                        f,
                        obj,
                        points=np.array(pts, np.float32),
                        labels=np.array(labels, np.int32),
                    )
                else:
                    for _ in predictor.propagate_in_video(st):
                        pass
            for obj_id in st["obj_ids"]:
                obj_idx = st["obj_id_to_idx"][obj_id]
                store = st["output_dict_per_obj"][obj_idx]
                for f in range(len(frames)):
                    out = store["cond_frame_outputs"].get(f) or store["non_cond_frame_outputs"][f]
                    logits = out["pred_masks"].float()[0, 0].cpu().numpy()
                    key = f"{name}/obj{obj_id}/frame{f}"
                    arrays[key + "/mask"] = np.packbits(logits > 0)
                    arrays[key + "/logits"] = logits.reshape(-1)[idx].astype(np.float32)
        timings[name] = round(time.time() - t0, 1)
        print(name, timings[name], "s", flush=True)
    meta = {
        "spec": spec,
        "timings_s": timings,
        "torch": torch.__version__,
        "scenarios": {k: [list(map(str, s)) for s in v] for k, v in ref.SCENARIOS.items()},
    }
    arrays["meta_json"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez_compressed(out_path, **arrays)
    print("wrote", out_path, os.path.getsize(out_path), "bytes")


if __name__ == "__main__":
    main()
