#!/usr/bin/env bash
# RECORD's GPU check: the benchmarks that need a GPU, in one run of at most 10 minutes.
#
#   bash benchmarks/gpu_check.sh [--dry-run] OUT_DIR
#
# For a machine with one NVIDIA GPU, PyTorch with CUDA and no network (the lent GPU machine: README,
# "Benchmarks"). When `record` is not importable, installs it into $PYTHON (default python3) from the wheels
# of `make wheels`: `pip install --no-index --find-links wheelhouse -e .`. Then runs each part under a time
# limit, going on past a part that fails:
#   env              nvidia-smi, torch.cuda, CPUs, memory, package versions           -> OUT_DIR/env.json
#   runtimes_cuda    benchmarks/runtimes.py --device cuda: torch eager and CUDA-graph online steps, batch 1,
#                    against the published-structure baseline on the CPU              -> runtimes_cuda.json
#   online_step      skipped: benchmarks/online_step.py measures the CPU only
#   synthetic_seedN  benchmarks/synthetic_accuracy.py --json --device cuda: RECORD vs the no-LSTM model on
#                    dataset seed N, simulated there with all cores                    -> synthetic_seedN.json
# OUT_DIR/summary.json (rewritten after every part) lists the parts: status (ok, failed, timeout, skipped),
# exit status, seconds, why (failed, timeout, skipped) and the log's last lines (failed, timeout);
# OUT_DIR/logs.tar.gz holds each part's output, OUT_DIR/pictures.tar.gz the evaluations' strips and
# precision-recall curves (~2 MB per model and seed). At most 8 files and no folder: what the GPU machine's
# tool brings back. Exit status: 0 every part ran or was skipped as planned, 1 a part failed or timed out,
# 2 no CUDA device (not a dry run: the GPU parts were skipped).
#
# Budget of the synthetic benchmark: 600 optimiser steps per model at batch 8 (16-frame clips, truncated BPTT
# over 4 clips, whole maps, the benchmark's recipe otherwise): 76,800 frames per model, 4x the CPU recipe's
# (1,200 steps at batch 1, after which both models were barely trained: loss 17-32 % below a constant
# prediction, peaks around 0.1-0.3, the sign of the margin changing with the seed), in 8x larger batches.
# Why not more: a step is ~15,000 operator calls (forward and backward over 16 frames, counted on the CPU),
# so a GPU runs it in ~0.1-0.15 s however small the batch (launch-bound; at batch 8 the traffic of a clip's
# ~10 GB of saved activations takes about as long): ~60-90 s per model. The simulation (6 x 480 + 4 x 240
# frames), set-up and four evaluations add ~60 s: ~3.5 min per seed. So seed 0 always runs, and seeds 1 and 2
# follow while the time left is at least GPU_CHECK_SEED_MARGIN (1.1) x the last seed's duration (a skipped
# seed is reported with why). Each model's training also stops at (time left - 90 s) / 2 (train.max_time_s,
# a safety net: the JSON's steps_trained then falls short of 600).
#
# --dry-run (or GPU_CHECK_DRY_RUN=1): the same parts at a tiny budget (2 steps, batch 1, one 16-frame
# training sequence, seeds 0 and 1; one round of runtime timing), on the CPU when there is no GPU (the CUDA
# parts are then skipped): about a minute. Settings (environment): GPU_CHECK_BUDGET_S (540; dry run 600), GPU_CHECK_SEEDS ("0 1 2"; dry run
# "0 1"), GPU_CHECK_SEED_MARGIN, GPU_CHECK_STEPS, GPU_CHECK_BATCH, GPU_CHECK_WORKERS (8 DataLoader workers),
# GPU_CHECK_SYNTHETIC_ARGS (more synthetic_accuracy.py options), GPU_CHECK_WORK (work folder, kept; default
# a temporary one, removed), GPU_CHECK_WHEELHOUSE (wheelhouse), PYTHON (python3).
set -uo pipefail
export LC_NUMERIC=C  # a decimal point in $EPOCHREALTIME
if [[ -z ${EPOCHREALTIME:-} ]]; then
    echo "$0: needs bash 5 or later" >&2
    exit 64
fi

DRY_RUN=${GPU_CHECK_DRY_RUN:-0}
if [[ ${1:-} == --dry-run ]]; then DRY_RUN=1; shift; fi
if [[ $# -ne 1 ]]; then
    echo "usage: $0 [--dry-run] OUT_DIR" >&2
    exit 64
fi
mkdir -p "$1" && OUT_DIR=$(cd "$1" && pwd) || exit 64
cd "$(dirname "$0")/.." || exit 64
REPO=$(pwd)
PYTHON=${PYTHON:-python3}
WHEELHOUSE=${GPU_CHECK_WHEELHOUSE:-wheelhouse}
if [[ $DRY_RUN == 1 ]]; then
    BUDGET_S=${GPU_CHECK_BUDGET_S:-600} SEEDS=${GPU_CHECK_SEEDS:-"0 1"} STEPS=${GPU_CHECK_STEPS:-2}
    BATCH=${GPU_CHECK_BATCH:-1} WORKERS=${GPU_CHECK_WORKERS:-1} THREADS=1
    SIZE=(--train-sequences 1 --train-frames 16 --valid-sequences 1 --eval-frames 8 --clip 4 --tbptt-clips 2)
    TIMING=(--rounds 1 --steps 2 --mv-steps 1)
else
    BUDGET_S=${GPU_CHECK_BUDGET_S:-540} SEEDS=${GPU_CHECK_SEEDS:-"0 1 2"} STEPS=${GPU_CHECK_STEPS:-600}
    BATCH=${GPU_CHECK_BATCH:-8} WORKERS=${GPU_CHECK_WORKERS:-8} THREADS=4
    SIZE=() TIMING=()
fi
SEED_MARGIN=${GPU_CHECK_SEED_MARGIN:-1.1}
SEED_OVERHEAD_S=90   # simulation, set-up and evaluations of a seed, kept out of its training time
FINISH_S=15          # kept at the end for the archives and the summary
read -ra SYNTHETIC_ARGS <<<"${GPU_CHECK_SYNTHETIC_ARGS:-}"
if [[ -n ${GPU_CHECK_WORK:-} ]]; then
    WORK=$GPU_CHECK_WORK KEEP_WORK=1
    mkdir -p "$WORK" || exit 64
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/record-gpu-check.XXXXXX") KEEP_WORK=0
fi
PARTS=$WORK/parts.jsonl
mkdir -p "$WORK/logs" "$WORK/pictures"
: >"$PARTS"
rm -f "$OUT_DIR"/{env,summary,runtimes_cuda}.json "$OUT_DIR"/synthetic_seed*.json \
    "$OUT_DIR"/{logs,pictures}.tar.gz
START=${EPOCHREALTIME%.*}
DEVICE=none
export GPU_CHECK_DRY_RUN=$DRY_RUN GPU_CHECK_BUDGET_S=$BUDGET_S GPU_CHECK_SEEDS=$SEEDS GPU_CHECK_STEPS=$STEPS \
    GPU_CHECK_BATCH=$BATCH GPU_CHECK_WORKERS=$WORKERS GPU_CHECK_SEED_MARGIN=$SEED_MARGIN PYTHONUNBUFFERED=1

seconds_left() { echo $((BUDGET_S - FINISH_S - (${EPOCHREALTIME%.*} - START))); }
limit() { local left; left=$(seconds_left); echo $((left < $1 ? left : $1)); }  # CAP_S: min(CAP_S, time left)

# add_part NAME STATUS EXIT_CODE START END OUTPUT REASON LOG: one line of $PARTS (JSON), then the summary.
add_part() {
    "$PYTHON" - "$@" >>"$PARTS" <<'PY'
import json, sys
from pathlib import Path
name, status, code, start, end, output, reason, log = sys.argv[1:]
part = {"name": name, "status": status, "exit_code": int(code) if code else None,
        "seconds": round(float(end) - float(start), 2), "output": output or None, "reason": reason or None}
if status in ("failed", "timeout") and Path(log).is_file():
    part["log_tail"] = Path(log).read_text(errors="replace").splitlines()[-25:]
print(json.dumps(part))
PY
    write_summary ""
}

skip_part() {  # NAME REASON
    echo "== $1: skipped ($2)" >&2
    add_part "$1" skipped "" "$EPOCHREALTIME" "$EPOCHREALTIME" "" "$2" ""
}

# run_part NAME OUTPUT LIMIT_S COMMAND...: COMMAND's stdout to OUT_DIR/OUTPUT (a JSON object) or, OUTPUT "-",
# with its stderr to logs/NAME.log; killed with its children after LIMIT_S seconds.
run_part() {
    local name=$1 output=$2 limit=$3 start=$EPOCHREALTIME code status reason=""
    local log=$WORK/logs/$name.log
    shift 3
    local shown="$*"
    echo "== $name (at most ${limit} s): ${shown%%$'\n'*}" >&2
    if [[ $output == - ]]; then
        timeout -k 10 "$limit" "$@" >"$log" 2>&1
        code=$?
        output=""
    else
        timeout -k 10 "$limit" "$@" >"$OUT_DIR/$output" 2>"$log"
        code=$?
    fi
    case $code in
        0) status=ok ;;
        124 | 137) status=timeout reason="stopped at its limit of ${limit} s" ;;
        *) status=failed reason="exit status $code" ;;
    esac
    if [[ $status == ok && -n $output ]] && ! "$PYTHON" -c 'import json, sys
assert isinstance(json.load(open(sys.argv[1])), dict)' "$OUT_DIR/$output" 2>/dev/null; then
        status=failed reason="the output is not one JSON object"
    fi
    if [[ $status != ok && -n $output ]]; then
        rm -f "$OUT_DIR/$output"
        output=""
    fi
    echo "   $name: $status${reason:+ ($reason)}" >&2
    add_part "$name" "$status" "$code" "$start" "$EPOCHREALTIME" "$output" "$reason" "$log"
    [[ $status == ok ]]
}

write_summary() {  # EXIT_STATUS ("" while running)
    GPU_CHECK_DEVICE=$DEVICE "$PYTHON" - "$PARTS" "$OUT_DIR/summary.json" "$START" "$EPOCHREALTIME" "$1" \
        <<'PY'
import json, os, sys
from pathlib import Path
parts_file, out, start, now, exit_status = sys.argv[1:]
parts = [json.loads(line) for line in Path(parts_file).read_text().splitlines()]
seeds = [int(seed) for seed in os.environ["GPU_CHECK_SEEDS"].split()]
status = {part["name"]: part["status"] for part in parts}
reason = {part["name"]: part["reason"] for part in parts}
summary = {
    "script": "benchmarks/gpu_check.sh", "dry_run": os.environ["GPU_CHECK_DRY_RUN"] == "1",
    "device": os.environ["GPU_CHECK_DEVICE"], "finished": exit_status != "",
    "exit_status": int(exit_status) if exit_status else None,
    "budget_s": int(os.environ["GPU_CHECK_BUDGET_S"]), "elapsed_s": round(float(now) - float(start), 1),
    "synthetic": {"steps": int(os.environ["GPU_CHECK_STEPS"]), "batch": int(os.environ["GPU_CHECK_BATCH"]),
                  "workers": int(os.environ["GPU_CHECK_WORKERS"]),
                  "seed_margin": float(os.environ["GPU_CHECK_SEED_MARGIN"]), "seeds_requested": seeds,
                  "seeds_run": [s for s in seeds if status.get(f"synthetic_seed{s}") == "ok"],
                  "seeds_skipped": {str(s): reason[f"synthetic_seed{s}"] for s in seeds
                                    if status.get(f"synthetic_seed{s}") == "skipped"}},
    "failed": [part["name"] for part in parts if part["status"] in ("failed", "timeout")],
    "parts": parts,
}
Path(out).write_text(json.dumps(summary, indent=2) + "\n")
PY
}

read -r -d '' ENV_PY <<'PY'
import importlib.metadata, json, os, platform, shutil, subprocess, sys, time
env = {"time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "python": sys.version.split()[0],
       "executable": sys.executable, "platform": platform.platform(), "cpus": os.cpu_count()}
with open("/proc/meminfo") as meminfo:
    env["memory_gib"] = round(int(meminfo.readline().split()[1]) / 2**20, 1)
for name, folder in (("dev_shm_free_gib", "/dev/shm"), ("tmp_free_gib", os.environ.get("TMPDIR", "/tmp"))):
    env[name] = round(shutil.disk_usage(folder).free / 2**30, 1) if os.path.isdir(folder) else None
fields = "name,driver_version,memory.total,memory.used,temperature.gpu,power.limit,clocks.max.sm"
try:
    query = subprocess.run(["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=60, check=True)
    text = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=60).stdout
    env["nvidia_smi"] = {"available": True, "text": text.splitlines(),
                         "gpus": [dict(zip(fields.split(","), (v.strip() for v in line.split(","))))
                                  for line in query.stdout.splitlines()]}
except (OSError, subprocess.SubprocessError) as error:
    env["nvidia_smi"] = {"available": False, "error": str(error)}
try:
    import torch
    cuda = torch.cuda.is_available()
    properties = [torch.cuda.get_device_properties(i) for i in range(torch.cuda.device_count())]
    env["torch"] = {"version": torch.__version__, "cuda": torch.version.cuda,
                    "cudnn": torch.backends.cudnn.version(), "cuda_available": cuda,
                    "devices": [{"name": p.name, "capability": f"{p.major}.{p.minor}",
                                 "memory_gib": round(p.total_memory / 2**30, 1),
                                 "multiprocessors": p.multi_processor_count} for p in properties],
                    "bf16": cuda and torch.cuda.is_bf16_supported(), "threads": torch.get_num_threads()}
except Exception as error:  # reported, not fatal: the parts that need torch fail on their own
    env["torch"] = {"error": repr(error)}
versions = {}
for name in ("record-radar", "numpy", "scipy", "numba", "rocket-fft", "hydra-core", "omegaconf", "onnx",
             "onnxruntime", "matplotlib", "pycocotools"):
    try:
        versions[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        versions[name] = None
env["packages"] = versions
try:
    from record.provenance import code_version
    env["record"] = code_version()
except Exception as error:
    env["record"] = {"error": repr(error)}
print(json.dumps(env, indent=2))
PY

# --- install: only when record (and what the benchmarks import) is not importable from outside the checkout
if (cd / && "$PYTHON" -c 'import record.train.trainer, record.runtime' 2>/dev/null); then
    skip_part install "record is importable"
elif [[ ! -d $WHEELHOUSE ]]; then
    echo "   install: $WHEELHOUSE/ not found (make wheels, and carry it)" >&2
    add_part install failed "" "$EPOCHREALTIME" "$EPOCHREALTIME" "" "$WHEELHOUSE/ not found: make wheels" ""
else
    run_part install - "$(limit 300)" \
        "$PYTHON" -m pip install --no-index --find-links "$WHEELHOUSE" -e "$REPO"
fi

run_part env env.json "$(limit 120)" "$PYTHON" -c "$ENV_PY"
if "$PYTHON" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then
    DEVICE=cuda
elif [[ $DRY_RUN == 1 ]]; then
    DEVICE=cpu
fi

# --- runtimes: the CUDA variants only exist on a GPU
NO_CUDA="no CUDA device (torch.cuda.is_available() is false)"
if [[ $DEVICE == cuda && $(limit 150) -gt 30 ]]; then
    run_part runtimes_cuda runtimes_cuda.json "$(limit 150)" \
        "$PYTHON" benchmarks/runtimes.py --json --device cuda "${TIMING[@]}"
elif [[ $DEVICE == cuda ]]; then
    skip_part runtimes_cuda "time guard: $(seconds_left) s left in the ${BUDGET_S} s budget"
else
    skip_part runtimes_cuda "$NO_CUDA"
fi
skip_part online_step "benchmarks/online_step.py measures CPU latency only (no CUDA path)"

# --- synthetic accuracy, seed after seed while the time left allows
last_s=""
for seed in $SEEDS; do
    left=$(seconds_left)
    if [[ $DEVICE == none ]]; then
        skip_part "synthetic_seed$seed" "$NO_CUDA: sized for a GPU (--dry-run runs a tiny budget on the CPU)"
        continue
    elif ((left <= 0)); then
        skip_part "synthetic_seed$seed" "time guard: no time left in the ${BUDGET_S} s budget"
        continue
    elif [[ -n $last_s ]] && awk -v left="$left" -v margin="$SEED_MARGIN" -v last="$last_s" \
            'BEGIN { exit !(left < margin * last) }'; then
        skip_part "synthetic_seed$seed" \
            "time guard: ${left} s left, the last seed took ${last_s} s (x ${SEED_MARGIN})"
        continue
    fi
    train_s=$(((left - SEED_OVERHEAD_S) / 2))
    started=${EPOCHREALTIME%.*}
    if run_part "synthetic_seed$seed" "synthetic_seed$seed.json" "$left" \
        "$PYTHON" benchmarks/synthetic_accuracy.py --json --device "$DEVICE" --seed "$seed" \
        --data "$WORK/data_$seed" --out "$WORK/runs_$seed" --steps "$STEPS" --batch "$BATCH" \
        --workers "$WORKERS" --threads "$THREADS" --max-train-s "$((train_s > 10 ? train_s : 10))" \
        "${SIZE[@]}" "${SYNTHETIC_ARGS[@]}"; then
        last_s=$((${EPOCHREALTIME%.*} - started))
    fi
    for picture in "$WORK/runs_$seed"/*/evaluate/pictures/*.png; do
        [[ -f $picture ]] || continue
        model=$(basename "$(dirname "$(dirname "$(dirname "$picture")")")")
        cp "$picture" "$WORK/pictures/seed${seed}_${model}_$(basename "$picture")"
    done
done

# --- finish: archives, summary, exit status
tar -czf "$OUT_DIR/logs.tar.gz" -C "$WORK" logs
tar -czf "$OUT_DIR/pictures.tar.gz" -C "$WORK" pictures
if "$PYTHON" -c 'import json, sys; sys.exit(bool(json.load(open(sys.argv[1]))["failed"]))' \
    "$OUT_DIR/summary.json"; then
    status=0
else
    status=1
fi
if [[ $DEVICE == none && $status == 0 ]]; then status=2; fi
write_summary "$status"
((KEEP_WORK)) || rm -rf "$WORK"
echo "gpu check: exit status $status, $((${EPOCHREALTIME%.*} - START)) s; $OUT_DIR/summary.json" >&2
exit "$status"
