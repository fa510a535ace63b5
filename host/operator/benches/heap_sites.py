#!/usr/bin/env python3
"""Live heap by allocation site, from the dhat-heap.json that
`cargo bench -p antfly-operator --bench controller_scale --features heap-profile` writes.

Each site is named by its first frames outside the allocator and the standard library, so
that a cache's objects group under the code that decoded them. Usage:

    python3 host/operator/benches/heap_sites.py [dhat-heap.json] [how many sites, default 25]
"""

import json
import re
import sys
from collections import Counter

NOISE = re.compile(
    r"(dhat::|alloc::|core::|std::|__rust|<alloc::|<core::|<std::|hashbrown::|serde::de::|"
    r"serde_json::de::|<serde_json::|serde_json::value::de|<&mut serde_json|\[root\])"
)


def site(frames, table, depth=3):
    kept = []
    for index in frames:
        frame = table[index]
        name = frame.split(": ", 1)[-1]
        name = re.sub(r" \(.*\)$", "", name)
        if NOISE.search(name):
            continue
        kept.append(re.sub(r"::h[0-9a-f]{16}$", "", name)[:110])
        if len(kept) == depth:
            break
    return " <- ".join(kept) or "(allocator only)"


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "dhat-heap.json"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    profile = json.load(open(path))
    table = profile["ftbl"]
    live = Counter()
    for point in profile["pps"]:
        if point.get("eb"):
            live[site(point["fs"], table)] += point["eb"]
    total = sum(live.values())
    print(f"live at the end: {total / 1024:.0f} KiB over {len(live)} sites")
    for name, size in live.most_common(count):
        print(f"{size / 1024:9.1f} KiB  {100 * size / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
