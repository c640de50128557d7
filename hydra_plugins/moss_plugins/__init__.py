"""Hydra discovers search-path plugins in the ``hydra_plugins`` namespace package of every installed distribution."""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from moss_plugins.verl import CONFIG_PACKAGE  # a light import: Hydra imports every plugin module at startup


class MossPluginsSearchPathPlugin(SearchPathPlugin):
    """Appends moss-plugins' configs, so ``reward=moss_dtw`` / ``data=moss_video`` work in any verl entry point."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="moss-plugins", path=CONFIG_PACKAGE)
