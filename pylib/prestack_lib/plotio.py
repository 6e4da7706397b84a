"""plotio.py - what every plot script does with results/: read a CSV by
name (an empty list when the experiment has not run), save a figure as PNG
and PDF beside it."""
import os

from . import csvio


def load(res, name):
    return csvio.load(os.path.join(res, name))


def save(fig, res, name):
    import matplotlib.pyplot as plt
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(os.path.join(res, f"{name}.{ext}"), dpi=140)
    plt.close(fig)
    print(f"wrote {res}/{name}.{{png,pdf}}")
