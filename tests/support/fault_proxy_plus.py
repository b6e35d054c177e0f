"""The shared fault proxy (shared/tools/fault_proxy.py, or $S3FIX_FAULT_PROXY) with three more
rule fields, for requests the shared match string cannot tell apart (two PutKeyPolicy calls look
the same: `POST / TrentService.PutKeyPolicy Action=`):
  "skip": N        let the first N requests the rule matches through, then fault
  "body": "S"      match only requests whose body contains S (e.g. a KMS key id)
  "armedBy": "S"   the rule is inactive until a request whose match string or body contains S
                   has passed through the proxy
usage: python fault_proxy_plus.py LISTEN_PORT UPSTREAM_PORT
The shared proxy's code runs unchanged except its rule selection line; if that line changes, this
wrapper refuses to start."""
import os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("S3FIX_FAULT_PROXY") or os.path.join(HERE, "..", "..", "..", "shared", "tools", "fault_proxy.py")
SELECT = 'rule = next((r for r in RULES if r.get("count", 1) > 0 and r["match"] in key), None)'


def _select(rules, key, body):
    text = body.decode(errors="ignore")
    for r in rules:
        if "armedBy" in r and not r.get("armed"):
            continue
        if r.get("count", 1) <= 0 or r["match"] not in key or r.get("body", "") not in text:
            continue
        if r.get("skip", 0) > 0:
            r["skip"] -= 1
            continue
        return r
    # The request passes through: it arms the rules waiting for it.
    for r in rules:
        if "armedBy" in r and not r.get("armed") and (r["armedBy"] in key or r["armedBy"] in text):
            r["armed"] = True
    return None


source = open(SHARED).read()
if SELECT not in source:
    sys.exit(f"fault_proxy_plus: {SHARED} no longer has the rule selection line this wrapper patches")
source = source.replace(SELECT, "rule = _select(RULES, key, body)")
namespace = {"__name__": "__main__", "__file__": SHARED, "_select": _select}
exec(compile(source, SHARED, "exec"), namespace)
