"""verl integration: the ``moss_dtw`` reward-loop manager, the MOSS-Video dataset class and their Hydra configs.

Installed with ``pip install moss-plugins[verl]``; ``import verl`` loads :mod:`moss_plugins.verl.plugin` (entry
point group ``verl.plugins``) and the Hydra search-path plugin in ``hydra_plugins/`` makes ``reward=moss_dtw``
and ``data=moss_video`` selectable in ``python -m verl.trainer.main_ppo``. This package only adapts: scoring is
:mod:`moss_plugins.reward`, decoding is :mod:`moss_plugins.data.video`.
"""

# The Hydra config folder appended to verl's search path (see hydra_plugins/moss_plugins).
CONFIG_PACKAGE = "pkg://moss_plugins.verl.config"
