"""The real browser of the sign-in browser test: Debian's Chromium and the
ChromeDriver built with it (packages ``chromium`` and ``chromium-driver``).

``python scripts/browser.py ensure`` (run by ``make test``) installs both
with apt when they are missing and this runs as root (as CI does); on a
machine where it cannot, it says so and the browser test is skipped there.
A test tool's own browser download (``playwright install``) is not used:
the machine's network reaches package registries only.

:func:`find` gives the two paths, or None.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

PACKAGES = ("chromium", "chromium-driver")
# The flags Chromium needs on a machine with no display and a closed network:
# no sandbox as root, no GPU, and none of its background connections (each
# would be refused, and slow the start).
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions")


def find() -> tuple[str, str] | None:
    """(chromium, chromedriver) on PATH, or None."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def ensure() -> int:
    if find():
        return 0
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print("note: Chromium and ChromeDriver are not installed (apt-get install chromium chromium-driver, as root); "
              "the sign-in browser test will be skipped", file=sys.stderr)
        return 0
    print(f"installing {' '.join(PACKAGES)} for the sign-in browser test", flush=True)
    command = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(command, env=env).returncode != 0:  # stale package lists: refresh once
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
        if subprocess.run(command, env=env).returncode != 0:
            print("error: apt-get could not install Chromium", file=sys.stderr)
            return 1
    return 0 if find() else 1


if __name__ == "__main__":
    if sys.argv[1:] != ["ensure"]:
        print("usage: browser.py ensure", file=sys.stderr)
        sys.exit(2)
    sys.exit(ensure())
