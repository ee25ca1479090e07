"""Print, as JSON, the kernel-culling settings a Jupyter server started here would get from its config files.

Usage: python .ci/show_culling.py [EXPECTED_CONFIG_JSON]

Loads config the way ServerApp does (JUPYTER_CONFIG_DIR, JUPYTER_CONFIG_PATH, then the environment's and the
system's etc/jupyter) without starting a server, and reads the settings back from the kernel manager it would
use. Given a config file, exits 1 unless its MappingKernelManager settings are the ones in force.
"""

import json
import sys

from jupyter_server.serverapp import ServerApp
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

SETTINGS = ("cull_idle_timeout", "cull_interval", "cull_connected", "cull_busy")


def culling_in_force():
    """{setting: value} that a server's kernel manager would use with the config files found now."""
    app = ServerApp()
    app.load_config_file()
    manager = AsyncMappingKernelManager(config=app.config)
    return {name: getattr(manager, name) for name in SETTINGS}


if __name__ == "__main__":
    in_force = culling_in_force()
    print(json.dumps(in_force))
    if len(sys.argv) > 1:
        with open(sys.argv[1], encoding="utf-8") as f:
            expected = json.load(f)["MappingKernelManager"]
        differ = {name: (value, in_force.get(name)) for name, value in expected.items() if in_force.get(name) != value}
        if differ:
            sys.exit(f"not in force (expected, in force): {differ}")
