#!/usr/bin/env bash
# A regression check on demi-simbench goodput, which runs in virtual time and so gives the same
# figures on every machine: one flow through 100 Mbit/s, 10 ms RTT and a one-BDP tail-drop queue
# must reach 0.9 of the link without loss and never wait for a retransmission timeout, with or
# without random loss (before the loss recovery fixes on branch cc: 0.52 and 0.64 of the link,
# 2-6 RTOs per run).
# usage: check_goodput.sh path/to/demi-simbench
set -euo pipefail
bin="$1"
status=0
run() {  # cc loss min_ratio
  local out
  out=$("$bin" goodput --cc "$1" --loss "$2" 2>/dev/null)
  echo "$out"
  python3 - "$out" "$3" <<'PY' || status=1
import json, sys
r = json.loads(sys.argv[1])
floor = float(sys.argv[2])
bad = []
if r["timeouts"] != 0:
    bad.append(f"{r['timeouts']} retransmission timeouts")
if r["ratio_to_link"] < floor:
    bad.append(f"ratio to link {r['ratio_to_link']} below {floor}")
if bad:
    print(f"FAIL {r['cc']} loss {r['loss']}: " + ", ".join(bad))
    sys.exit(1)
PY
}
run cubic 0 0.9
run newreno 0 0.9
run cubic 0.001 0.3
run newreno 0.001 0.3
exit $status
