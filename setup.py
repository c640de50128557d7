"""Everything is configured in pyproject.toml; this file only adds one build step.

It writes ``moss_plugins_lmms_eval.pth`` at the root of site-packages (for wheels and for editable installs), so
that ``lmms-eval tasks list`` finds the moss-plugins tasks without ``--include_path``: see
``moss_plugins/lmms_eval/discovery.py`` for why lmms-eval needs it (``MOSS_LMMS_EVAL_TASKS=0`` turns it off;
docs/upstream/ holds the lmms-eval change that would make it unnecessary).
"""

import os

from setuptools import setup
from setuptools.command.build_py import build_py

PTH_NAME = "moss_plugins_lmms_eval.pth"
PTH_LINE = "import moss_plugins.lmms_eval.autoload\n"


class BuildPyWithPth(build_py):
    def run(self):
        super().run()
        # An editable build keeps build_lib out of the wheel; its wheel root is the install command's lib dir.
        root = self.get_finalized_command("install").install_lib if self.editable_mode else self.build_lib
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, PTH_NAME), "w") as f:
            f.write(PTH_LINE)


setup(cmdclass={"build_py": BuildPyWithPth})
