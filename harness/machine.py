"""What the machine a benchmark or a fault run measured on is: its CPU and memory, in words."""

import platform
from pathlib import Path

import psutil


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gb() -> float:
    return round(psutil.virtual_memory().total / 2**30, 1)
