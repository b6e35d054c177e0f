#!/usr/bin/env python3
"""Write the policy_parser seed corpus from tests/cases/*.json.

Each case contributes itself (without the `doc`, `rule` and `expect` fields, which the case
parser ignores) and each policy it holds: identityPolicies[*], permissionBoundary,
sessionPolicy, scps[*] (each document), rcps[*] and resourcePolicy. Files are compact JSON,
named by the SHA-1 of their content (as libFuzzer names corpus entries), so duplicates collapse.

Usage: python3 fuzz/make_seeds.py   (from the repository root; rewrites fuzz/seeds/policy_parser/)
"""
import glob
import hashlib
import json
import os
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "seeds", "policy_parser")
MAX_BYTES = 8 * 1024  # keep seeds small: libFuzzer mutates small inputs far faster


def policies(case):
    for policy in case.get("identityPolicies") or []:
        yield policy
    for key in ("permissionBoundary", "sessionPolicy", "resourcePolicy"):
        if case.get(key) is not None:
            yield case[key]
    for level in case.get("scps") or []:
        if isinstance(level, list):
            yield from level
        else:
            yield level
    for policy in case.get("rcps") or []:
        yield policy


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    seeds = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "cases", "*.json"))):
        with open(path, encoding="utf-8") as handle:
            cases = json.load(handle)
        for case in cases:
            trimmed = {k: v for k, v in case.items() if k not in ("doc", "rule", "expect")}
            for value in [trimmed, *policies(case)]:
                text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
                data = text.encode("utf-8")
                if len(data) <= MAX_BYTES:
                    seeds[hashlib.sha1(data).hexdigest()] = data
    for name, data in sorted(seeds.items()):
        with open(os.path.join(OUT, name), "wb") as handle:
            handle.write(data)
    total = sum(len(data) for data in seeds.values())
    print(f"{len(seeds)} seeds, {total} bytes in {OUT}")


if __name__ == "__main__":
    main()
