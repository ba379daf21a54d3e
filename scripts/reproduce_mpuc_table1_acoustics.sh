#!/usr/bin/env bash
# MPUC Table I, "Unimodal (Acoustics)": the paper's full schedule (100 epochs, patience 100 on
# validation) on all folds of ravdess_actor10 (actor split ✓, paper 58.50 %) and then ravdess_kfold10
# (actors shared, paper 75.90 %), then each finished fold's record copied into results/reproduced/
# with this machine, its device and the date. Meant for a GPU machine; runs on a CPU too (one fold
# of 100 epochs is about 8-13 min on one core: 6,457 s of fit for the ten folds of ravdess_actor10).
#
#   scripts/reproduce_mpuc_table1_acoustics.sh DATA_ROOT [PRESET] [--set KEY=VALUE ...]
#
# DATA_ROOT: the RAVDESS audio (e.g. ../shared/data/ravdess/audio_speech_16k_opus, or the original
# Audio_Speech_Actors_01-24). PRESET: acoustics (the paper's reading, default; the preset the
# reported cells name, so bench table / bench check read these records) or acoustics_code (the
# official code's pipeline). Extra arguments go to every bench run (e.g. --set audio_crop=mean).
# Finished folds are skipped when the script is run again; an interrupted fold resumes.
set -euo pipefail
data_root=${1:?usage: $0 DATA_ROOT [PRESET] [--set KEY=VALUE ...]}
preset=${2:-acoustics}
shift $(( $# >= 2 ? 2 : 1 ))
repo=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH:-$repo/.venv/bin/bench}
python=${PYTHON:-$repo/.venv/bin/python}
out=${OUT:-$repo/results}
machine=${MACHINE:-$(hostname)}
for protocol in ravdess_actor10 ravdess_kfold10; do
  start=$(date +%s)
  "$bench" run --method mpuc_unimodal --protocol "$protocol" --modalities audio --preset "$preset" \
      --data-root "$data_root" --out "$out" --no-progress "$@"
  echo "$protocol: $(( $(date +%s) - start )) s wall time"
done
# Copy every finished record of these cells into the committed store (device from the record).
"$python" - "$out" "$machine" "$preset" <<'PY'
import sys
from pathlib import Path

from bench.records import store
from bench.reporting import reproduced

out, machine, preset = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
for path, record in store.iter_records(out):
    if record["method"] == "mpuc_unimodal" and record["preset"] == preset and \
            record["protocol"]["name"] in ("ravdess_actor10", "ravdess_kfold10"):
        target = reproduced.add(path, machine=machine, device=record["environment"]["device"])
        print(f"{record['protocol']['name']} {record['fold']}: accuracy {100 * record['metrics']['accuracy']:.2f} % "
              f"-> {target}")
PY
"$bench" table mpuc:I --out "$out"
"$bench" check --out "$out" || true  # prints which reproduced cells are within tolerance
