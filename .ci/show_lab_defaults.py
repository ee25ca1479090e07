"""Check that JupyterLab here would use the defaults in a settings-overrides file.

Usage: python .ci/show_lab_defaults.py OVERRIDES_JSON [APP_SETTINGS_DIR]

Reads the settings the way JupyterLab's server does (schemas from this environment's JupyterLab, overrides
from APP_SETTINGS_DIR, by default this environment's <app dir>/settings), prints the default in force for
every setting the file names, and exits 1 unless each is the file's value.
"""

import json
import os
import sys
import tempfile

from jupyterlab.commands import get_app_dir
from jupyterlab_server.settings_utils import get_settings


def defaults_in_force(plugin, names, app_settings_dir):
    """{name: default} for the plugin's settings, with the overrides in app_settings_dir applied."""
    with tempfile.TemporaryDirectory() as no_user_settings:
        found, _warnings = get_settings(
            app_settings_dir, os.path.join(get_app_dir(), "schemas"), no_user_settings, schema_name=plugin
        )
    properties = found["schema"]["properties"]
    return {name: properties[name].get("default") for name in names}


def main(overrides_file, app_settings_dir=None):
    with open(overrides_file, encoding="utf-8") as f:
        overrides = json.load(f)
    app_settings_dir = app_settings_dir or os.path.join(get_app_dir(), "settings")
    differ = {}
    for plugin, settings in overrides.items():
        in_force = defaults_in_force(plugin, settings, app_settings_dir)
        print(plugin, json.dumps(in_force))
        differ.update({f"{plugin} {k}": (v, in_force[k]) for k, v in settings.items() if in_force[k] != v})
    if differ:
        sys.exit(f"not in force (expected, in force): {differ}")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(*sys.argv[1:])
