#!/usr/bin/env python3
"""Which crates' code of a running operator is resident: reads /proc/PID/pagemap for the
binary's executable mapping and attributes each resident page to the symbols it holds.

    python3 host/operator/benches/resident_text.py PID UNSTRIPPED_BINARY [TOP]

UNSTRIPPED_BINARY is the same build with its symbols (strip only drops sections, the layout
is the same): `CARGO_PROFILE_RELEASE_STRIP=false cargo build --release --target
x86_64-unknown-linux-musl -p antfly-operator`, copied aside before the stripped build. Needs
binutils' `nm` and read access to the process's pagemap (same user).
"""

import bisect
import collections
import os
import re
import struct
import subprocess
import sys

PAGE = os.sysconf("SC_PAGE_SIZE")


def text_mappings(pid, binary_name):
    """(start, end, file offset) of the binary's executable mappings."""
    found = []
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) < 6 or "x" not in fields[1] or os.path.basename(fields[5]) != binary_name:
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            found.append((start, end, int(fields[2], 16)))
    return found


def resident_pages(pid, start, end):
    with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        pagemap.seek(start // PAGE * 8)
        data = pagemap.read((end - start) // PAGE * 8)
    for index in range(len(data) // 8):
        (entry,) = struct.unpack_from("<Q", data, index * 8)
        if entry >> 63 & 1:
            yield start + index * PAGE


def symbols(binary):
    """Sorted (file offset, size, crate) of the binary's text symbols."""
    sections = subprocess.run(["objdump", "-h", binary], capture_output=True, text=True, check=True).stdout
    text = next(line.split() for line in sections.splitlines() if " .text " in f" {line} ")
    vma, offset = int(text[3], 16), int(text[5], 16)
    out = subprocess.run(["nm", "-S", "-n", "-C", "--defined-only", binary], capture_output=True, text=True, check=True)
    table = []
    for line in out.stdout.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 4 or parts[2].lower() != "t":
            continue
        address, size, name = int(parts[0], 16), int(parts[1], 16), parts[3]
        table.append((address - vma + offset, size, crate_of(name)))
    return table


def crate_of(name):
    name = name.lstrip("<&* ")
    name = re.sub(r"^(dyn |impl |mut |const )", "", name)
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)::", name)
    return match.group(1) if match else "(other)"


def main():
    pid, binary = sys.argv[1], sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
    table = symbols(binary)
    starts = [entry[0] for entry in table]
    by_crate = collections.Counter()
    total = 0
    name = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    for start, end, file_offset in text_mappings(pid, name):
        for page in resident_pages(pid, start, end):
            total += PAGE
            page_offset = page - start + file_offset
            # Share the page among the crates whose symbols overlap it.
            first = max(bisect.bisect_right(starts, page_offset) - 1, 0)
            crates = collections.Counter()
            index = first
            while index < len(table) and table[index][0] < page_offset + PAGE:
                offset, size, crate = table[index]
                overlap = min(offset + size, page_offset + PAGE) - max(offset, page_offset)
                if overlap > 0:
                    crates[crate] += overlap
                index += 1
            covered = sum(crates.values()) or 1
            for crate, bytes_ in crates.items():
                by_crate[crate] += PAGE * bytes_ / covered
            if not crates:
                by_crate["(no symbol)"] += PAGE
    print(f"resident text: {total / 2**20:.1f} MiB")
    for crate, size in by_crate.most_common(top):
        print(f"{size / 2**20:8.2f} MiB  {crate}")


if __name__ == "__main__":
    main()
