"""Where a process spends the time it holds the GIL: py-spy samples, a flame graph, the top components.

`bench/scale.py --profile` attaches py-spy (`--gil`: only samples of the thread holding the
GIL, the CPU the operator's throughput depends on) to the operator during the burst, keeps
the collapsed stacks (the input format of every flame graph tool), draws them as an SVG and
prints the share of each component, so the next person to speed the operator up starts
from data rather than a guess.

Shares come two ways. Inclusive: a sample counts for every component with a frame on its
stack (they overlap: a kopf handler calling our code counts for both). Own: a sample
counts once, for the innermost frame that belongs to a named component; standard-library
frames (json, copy, ssl, socket, re...) count for the component that called them.
"""

from __future__ import annotations

import html
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

Stack = tuple[str, ...]

# (component, pattern on a frame's file path), first match wins.
COMPONENTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("kubernetes client + urllib3", r"(?:^|[/\\])(kubernetes|urllib3)[/\\]"),
        ("kopf", r"(?:^|[/\\])kopf[/\\]"),
        ("aiohttp", r"(?:^|[/\\])(aiohttp|yarl|multidict|aiosignal|frozenlist)[/\\]"),
        ("botocore + boto3", r"(?:^|[/\\])(botocore|boto3|s3transfer|dateutil)[/\\]"),
        ("prometheus_client", r"(?:^|[/\\])prometheus_client[/\\]"),
        ("operator: controller", r"agentcore_operator[/\\](controller|runtime)[/\\]"),
        ("operator: aws", r"agentcore_operator[/\\]aws[/\\]"),
        ("operator: manager", r"agentcore_operator[/\\]manager[/\\]"),
        ("operator: api", r"agentcore_operator[/\\]api[/\\]"),
        ("operator: other", r"agentcore_operator[/\\]"),
        ("logging", r"(?:^|[/\\])logging[/\\]"),
        ("thread pool handoff", r"concurrent[/\\]futures|threading\.py|queue\.py"),
        ("asyncio event loop", r"(?:^|[/\\])asyncio[/\\]|selectors\.py"),
    )
)
FRAME_FILE = re.compile(r"\((?P<file>[^()]*?)(?::\d+)?\)$")


def available() -> bool:
    return shutil.which("py-spy") is not None or (Path(sys.executable).parent / "py-spy").exists()


def start(pid: int, output: Path, rate: int = 100) -> subprocess.Popen[bytes]:
    """Sample `pid` until stopped; collapsed stacks (`--format raw`) go to `output`."""
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    args = [binary, "record", "--pid", str(pid), "--gil", "--nonblocking", "--rate", str(rate)]
    args += ["--format", "raw", "--output", str(output)]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(sampler: subprocess.Popen[bytes], output: Path) -> str | None:
    """Stop sampling (py-spy writes its file on SIGINT); py-spy's stderr if it wrote nothing."""
    if sampler.poll() is None:
        sampler.send_signal(signal.SIGINT)
    try:
        _, err = sampler.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        sampler.kill()
        _, err = sampler.communicate()
    return None if output.exists() else err.decode(errors="replace").strip()


def read_stacks(path: Path) -> Counter[Stack]:
    stacks: Counter[Stack] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks[tuple(frames.split(";"))] += int(count)
    return stacks


def component_of(frame: str) -> str | None:
    match = FRAME_FILE.search(frame)
    file = match.group("file") if match else frame
    for name, pattern in COMPONENTS:
        if pattern.search(file):
            return name
    return None


def shares(stacks: Counter[Stack]) -> tuple[int, Counter[str], Counter[str]]:
    """(samples, inclusive samples per component, own samples per component)."""
    total = sum(stacks.values())
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for stack, count in stacks.items():
        names = [component_of(frame) for frame in stack]
        for name in set(names) - {None}:
            inclusive[str(name)] += count
        owner = next((name for name in reversed(names) if name is not None), "other")
        own[owner] += count
    return total, inclusive, own


def top_functions(stacks: Counter[Stack], limit: int = 15) -> list[tuple[str, int]]:
    """The leaf frames holding the GIL most often (self time)."""
    leaves: Counter[str] = Counter()
    for stack, count in stacks.items():
        leaves[stack[-1]] += count
    return leaves.most_common(limit)


def report(stacks: Counter[Stack]) -> list[str]:
    total, inclusive, own = shares(stacks)
    if not total:
        return ["no samples (was py-spy allowed to attach? it needs ptrace)"]
    lines = [f"{total} samples holding the GIL", "", "component                          inclusive    own"]
    for name in sorted(set(inclusive) | set(own), key=lambda n: (-own[n], -inclusive[n])):
        lines.append(f"{name:<33}  {inclusive[name] / total:>8.1%}  {own[name] / total:>6.1%}")
    lines += ["", "top functions by own samples"]
    for frame, count in top_functions(stacks):
        lines.append(f"  {count / total:>6.1%}  {frame[:120]}")
    return lines


def render_svg(stacks: Counter[Stack], path: Path, title: str) -> None:
    """A plain flame graph: root at the bottom, width by samples, a tooltip per frame."""
    total = sum(stacks.values())
    if not total:
        path.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
        return
    tree: dict[str, object] = {}
    counts: dict[int, int] = {}
    for stack, count in stacks.items():
        node = tree
        for frame in stack:
            child = node.setdefault(frame, {})
            assert isinstance(child, dict)
            counts[id(child)] = counts.get(id(child), 0) + count
            node = child
    width, row = 1600.0, 16
    rects: list[str] = []
    depth_max = 0

    def draw(node: dict[str, object], x: float, depth: int) -> None:
        nonlocal depth_max
        depth_max = max(depth_max, depth)
        for frame, child in sorted(node.items()):
            assert isinstance(child, dict)
            samples = counts[id(child)]
            w = width * samples / total
            if w >= 0.3:
                label = html.escape(frame)
                name = component_of(frame) or ""
                hue = 20 + (sum(map(ord, name)) * 37) % 60
                text = html.escape(frame.split(" (")[0])[: max(0, int(w / 7))]
                rects.append(
                    f"<g><title>{label} ({samples} samples, {samples / total:.1%})</title>"
                    f'<rect x="{x:.1f}" y="{{y{depth}}}" width="{w:.1f}" height="{row - 1}" '
                    f'fill="hsl({hue},80%,60%)"/>'
                    f'<text x="{x + 2:.1f}" y="{{t{depth}}}" font-size="11">{text}</text></g>'
                )
                draw(child, x, depth + 1)
            x += w

    draw(tree, 0.0, 0)
    height = (depth_max + 2) * row + 30
    body = "\n".join(rects)
    for depth in range(depth_max + 1):
        y = height - (depth + 1) * row
        body = body.replace(f"{{y{depth}}}", str(y)).replace(f"{{t{depth}}}", str(y + row - 4))
    path.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" '
        f'font-family="monospace"><text x="4" y="16" font-size="13">{html.escape(title)}</text>\n'
        f"{body}\n</svg>\n"
    )
