"""The verl releases whose private code moss-plugins overrides or patches, and the guard each such place calls
first: the CPU backend's patches (:mod:`~moss_plugins.verl.cpu_backend`), the trainer mode ``moss_sync``
(:mod:`~moss_plugins.verl.train_metrics`, verl's ``_compute_metrics``) and ``MossVideoDataset``
(:mod:`~moss_plugins.verl.dataset`, three private methods of ``RLHFDataset``). On any other verl they refuse
with one line instead of silently overriding code that may have changed.
"""

from __future__ import annotations

# The verl releases that code was read against; the same range as the `verl` extra's pin (a test checks).
SUPPORTED_VERL = ">=0.9.1,<0.10"


class UnsupportedVerl(RuntimeError):
    pass


def require_supported_verl(what: str, instead: str | None = None, version: str | None = None) -> None:
    """Raise :class:`UnsupportedVerl` (one line: what, the versions, what to do) unless verl's version (the
    imported verl's unless given) is in :data:`SUPPORTED_VERL`. ``instead`` is the way around it, if any."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    if version is None:
        import verl

        version = verl.__version__
    if Version(version) not in SpecifierSet(SUPPORTED_VERL):
        raise UnsupportedVerl(
            f"moss-plugins: {what} relies on verl internals read against verl{SUPPORTED_VERL}, but verl {version} "
            f"is installed; install a supported verl (pip install 'verl{SUPPORTED_VERL}')"
            + (f" or {instead}." if instead else ".")
        )
