#!/usr/bin/env python3
"""test_layering.py - the dependency rules of the design notes, read from the
sources: every #include "folder/file.h" of lib, conf, auth, proto, queue,
relay, delivery, reader, gateway and tools points down the layering (lib <-
conf <- auth <- proto, queue <- relay, delivery <- reader <- gateway), nothing
outside gateway/ includes gateway/ (tools included), and no chain of includes
comes back to where it started."""
import os
import re
import unittest

from harness import tap

TOP = os.environ.get("top_srcdir") or os.path.join(os.path.dirname(__file__), "..", "..")
# The rank of each production folder: a file may include headers of its own
# folder and of folders of a strictly lower rank (proto and queue share one,
# relay and delivery another).
RANK = {"lib": 0, "conf": 1, "auth": 2, "proto": 3, "queue": 3, "relay": 4, "delivery": 4,
        "reader": 5, "gateway": 6, "tools": 7}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources():
    """(path relative to the top, list of quoted includes) of every C file."""
    for folder in RANK:
        base = os.path.join(TOP, folder)
        for root, _dirs, files in os.walk(base):
            for name in files:
                if name.endswith((".c", ".h")):
                    path = os.path.join(root, name)
                    with open(path, encoding="utf-8", errors="replace") as f:
                        text = f.read()
                    yield os.path.relpath(path, TOP), INCLUDE.findall(text)


class Layering(unittest.TestCase):
    def setUp(self):
        self.files = dict(sources())

    def test_includes_point_down_the_layers(self):
        wrong = []
        for path, includes in self.files.items():
            own = path.split(os.sep)[0]
            for inc in includes:
                folder = inc.split("/")[0]
                if inc == "config.h" or folder == own or folder not in RANK:
                    continue
                if RANK[folder] >= RANK[own] or (own == "proto" and folder == "queue") or (
                        own == "queue" and folder == "proto"):
                    wrong.append(f"{path} includes {inc}")
        self.assertEqual(wrong, [], "includes against the layering")

    def test_nothing_includes_gateway(self):
        # DESIGN.md: the master starts every service, so only it sees them
        # all; a tool that needs gateway code needs it moved below.
        wrong = [f"{p} includes {i}" for p, incs in self.files.items()
                 if not p.startswith("gateway" + os.sep)
                 for i in incs if i.startswith("gateway/")]
        self.assertEqual(wrong, [])

    def test_lib_includes_nothing_of_ours_but_lib(self):
        wrong = [f"{p} includes {i}" for p, incs in self.files.items() if p.startswith("lib" + os.sep)
                 for i in incs if "/" in i and not i.startswith("lib/")]
        self.assertEqual(wrong, [])

    def test_no_include_cycle(self):
        graph = {}
        for path, includes in self.files.items():
            here = os.path.dirname(path)
            targets = []
            for inc in includes:
                cand = inc if "/" in inc else os.path.join(here, inc)
                if cand in self.files:
                    targets.append(cand)
            graph[path] = targets
        # A .c file, its own header and its internal header (x_internal.h,
        # shared by the files that implement x) are one module: an include of
        # x.h by a file that x.c includes back is a cycle between modules.
        def module(p):
            stem = p[:-2]
            return stem[: -len("_internal")] if stem.endswith("_internal") else stem
        mgraph = {}
        for p, ts in graph.items():
            mgraph.setdefault(module(p), set()).update(module(t) for t in ts if module(t) != module(p))
        state, cycle = {}, []

        def visit(node, stack):
            state[node] = 1
            stack.append(node)
            for nxt in sorted(mgraph.get(node, ())):
                if state.get(nxt) == 1:
                    cycle.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
                elif nxt not in state:
                    visit(nxt, stack)
            stack.pop()
            state[node] = 2

        for node in sorted(mgraph):
            if node not in state:
                visit(node, [])
        self.assertEqual(cycle, [], "modules that include each other")


if __name__ == "__main__":
    tap.main()
