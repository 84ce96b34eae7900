"""Large and hostile inputs through `check`, `fmt --check`, `summary` and the language server's
per-keystroke analysis: CPU seconds and peak RSS of each, one fresh process a run.

    python bench/size_bench.py --size 240000 [--kinds models,parentheses]

Each answer must be a located diagnostic or `ok`, never a traceback (the script says which).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = "model M() {\n    input x: float32[N, 4]\n"
TAIL = "    output y\n}\n"
MODEL = "model M{}() {{\n    input x: float32[N, 4]\n    y = x -> linear(8) -> relu\n"


def inputs(size: int) -> dict[str, str | bytes]:
    """name -> a source of about `size` characters."""
    return {
        "models": "".join(f"{MODEL.format(i)}{TAIL}\n" for i in range(size // 90)),
        "misspelt": "".join(
            f"{MODEL.format(i).replace('relu', 'rleu')}{TAIL}\n" for i in range(size // 90)
        ),
        "broken": "".join(
            f"{MODEL.format(i).replace('relu', '}')}{TAIL}\n" for i in range(size // 90)
        ),
        "stages_one_line": HEADER + "    y = x" + " -> relu" * (size // 8) + "\n" + TAIL,
        "stages_one_a_line": HEADER + "    y = x\n" + "        -> relu\n" * (size // 16) + TAIL,
        "sum": HEADER + "    y = x" + " + x" * (size // 4) + "\n" + TAIL,
        "parentheses": HEADER
        + "    y = "
        + "(" * (size // 2)
        + "x"
        + ")" * (size // 2)
        + "\n"
        + TAIL,
        "list": f"A = [{', '.join(['1'] * (size // 3))}]\n" + HEADER + "    y = x\n" + TAIL,
        "ifs": HEADER + "    y = x\n" + "if true {\n" * (size // 20) + "}\n" * (size // 20) + TAIL,
        "groups": HEADER
        + "    y = x -> "
        + "{relu -> " * (size // 11)
        + "relu"
        + "}" * (size // 11)
        + "\n"
        + TAIL,
        "string": HEADER + '    "' + "a" * size + '"\n    y = x\n' + TAIL,
        "comment": "# " + "c" * size + "\n" + HEADER + "    y = x\n" + TAIL,
        "braces": "{" * size,
        "newlines": "\n" * size,
        "nul": HEADER + "    y = x\n" + "\0" * size + TAIL,
        "binary": bytes(range(256)) * (size // 256),
    }


LSP = (
    "import sys; from netlang.lsp.analysis import analyse; from netlang.lsp.reuse import "
    "ParseCache; t = open(sys.argv[1], encoding='utf-8', errors='replace').read(); "
    "a = analyse(sys.argv[1], t, ParseCache(), {}); print(len(a.diagnostics), 'diagnostics')"
)
COMMANDS = {
    "check": ["-m", "netlang", "check"],
    "fmt": ["-m", "netlang", "fmt", "--check"],
    "summary": ["-m", "netlang", "summary"],
    "lsp": ["-c", LSP],
}


def run(command: list[str], path: Path, timeout: float) -> tuple[float, int, str]:
    """(CPU seconds, peak RSS in MB, first line of output or TIMEOUT/TRACEBACK) of one child."""
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen([sys.executable, *command, str(path)], stdout=out, stderr=out)
        deadline, timed_out = time.monotonic() + timeout, False
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                child.kill()
                _, status, usage = os.wait4(child.pid, 0)
                timed_out = True
                break
            time.sleep(0.02)
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    first = text.strip().splitlines()[0][:90] if text.strip() else ""
    if timed_out:
        first = "TIMEOUT"
    elif "Traceback" in text:
        first = "TRACEBACK " + first
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, first


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=240_000)
    parser.add_argument("--kinds", default="")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    chosen = set(args.kinds.split(",")) - {""}
    print(f"load {os.getloadavg()[0]:.2f}; size {args.size:,}")
    print("| input | command | CPU s | peak RSS MB | answer |\n| --- | --- | ---: | ---: | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for name, text in inputs(args.size).items():
            if chosen and name not in chosen:
                continue
            path = Path(folder) / f"{name}.net"
            if isinstance(text, bytes):
                path.write_bytes(text)
            else:
                path.write_text(text, encoding="utf-8")
            for command, argv in COMMANDS.items():
                cpu, rss, first = run(argv, path, args.timeout)
                print(f"| {name} | {command} | {cpu:.2f} | {rss} | {first} |", flush=True)
    print(f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
