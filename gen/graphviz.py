"""Run Graphviz `dot` to turn DOT text into SVG or PNG. The one place gen runs Graphviz (a subprocess)."""

from __future__ import annotations

import shutil
import subprocess

from gen.errors import ToolError

IMAGE_FORMATS = ("svg", "png")
_TIMEOUT_SECONDS = 120


def render_image(dot_text: str, fmt: str, *, dot: str = "dot") -> bytes:
    """The picture as SVG or PNG bytes; a missing or failing `dot` is a ToolError (exit 2)."""
    if fmt not in IMAGE_FORMATS:
        raise ToolError(f"unknown image format {fmt!r} (expected {', '.join(IMAGE_FORMATS)})")
    program = shutil.which(dot)
    if program is None:
        raise ToolError(f"--format {fmt} needs Graphviz, but `{dot}` is not on PATH; install Graphviz "
                        "(e.g. apt-get install graphviz, brew install graphviz) or use --format mermaid "
                        "or dot")
    try:
        result = subprocess.run([program, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True,
                                timeout=_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ToolError(f"running {program} failed: {e}") from e
    if result.returncode != 0 or not result.stdout:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ToolError(f"{program} -T{fmt} exited with {result.returncode}: "
                        f"{detail[-1] if detail else 'no output'}")
    return result.stdout
