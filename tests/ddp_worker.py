"""Worker launched by tests/test_distributed.py under torchrun (2 CPU processes, gloo).

Usage: torchrun --standalone --nproc_per_node 2 tests/ddp_worker.py OUT_DIR {fit|sparse|kill|stream}
  fit:    fine-tune a tiny model with an explicit validation frame and a run dir; each rank writes its
          final weights and history, rank 0 saves the model.
  sparse: the series modality is absent from all but 2 of 64 rows, so most batches hold none of it;
          pretrain + fit must finish on both ranks.
  kill:   fit with resume=True; on torchrun's first attempt rank 1 SIGKILLs itself in the middle of
          the second epoch, torchrun (--max-restarts 1) restarts both ranks, which resume from the
          epoch-1 checkpoint and finish.
  stream: pretrain + fit streamed from Parquet whose 5 row groups split 3/2 between the ranks (uneven
          batches per rank: DDP's Join must let the shorter rank wait).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import warnings
from pathlib import Path

import torch
import torch.distributed as dist

from lanistr_core import Lanistr, save_tensors
from lanistr_core.testing import make_multimodal_frame

torch.set_num_threads(1)
out, mode = Path(sys.argv[1]), sys.argv[2]
frame = make_multimodal_frame(64, seed=0, missing=0.0, modalities=("tabular", "timeseries"))
columns = {"tabular": ["age", "size"], "timeseries": ["vitals"]}
options = {"epochs": 3, "batch_size": 4, "validation": "none", "patience": 10}
model = Lanistr(columns, label="label", preset="tiny", device="cpu", finetune={**options, "monitor": "auroc"},
                pretrain=options, sample_rows=40, shuffle_buffer=8)
warnings.simplefilter("ignore")
if mode == "fit":
    model.fit(frame.iloc[:44], validation=frame.iloc[44:], run_dir=out / "run")
elif mode == "kill":
    from lanistr_core.engine import Trainer

    steps, backward_step = [0], Trainer.backward_step
    first_attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"

    def backward_then_maybe_die(self, loss, optimizer, scheduler):  # 44 rows / 2 ranks / 4 = 5 steps an epoch
        norm = backward_step(self, loss, optimizer, scheduler)
        steps[0] += 1
        if first_attempt and dist.get_rank() == 1 and steps[0] == 7:
            (out / "killed").write_text("rank 1 killed at step 7")
            os.kill(os.getpid(), signal.SIGKILL)
        return norm

    Trainer.backward_step = backward_then_maybe_die
    model.fit(frame.iloc[:44], validation=frame.iloc[44:], run_dir=out / "run", resume=True)
elif mode == "stream":
    import pyarrow as pa
    import pyarrow.parquet as pq

    model.device  # joins torchrun's process group (pretrain/fit would do it on first use)
    if dist.get_rank() == 0:
        table = frame.assign(vitals=frame["vitals"].map(lambda x: None if x is None else x.tolist()))
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), out / "data.parquet", row_group_size=13)
    dist.barrier()
    model.pretrain(out / "data.parquet").fit(out / "data.parquet")
else:
    frame.loc[frame.index[2:], "vitals"] = None
    model.pretrain(frame.drop(columns="label")).fit(frame)
rank = dist.get_rank()
save_tensors(out / f"weights{rank}.safetensors", {k: v.contiguous() for k, v in model.model_.state_dict().items()})
(out / f"history{rank}.json").write_text(json.dumps(model.history_))
model.save(out / "model")
print(f"rank {rank} done", flush=True)
