"""The packages' lazily imported names resolve to the objects their submodules define."""

import importlib

import pytest

PACKAGES = ["acmlkit.factorization", "acmlkit.mixture", "acmlkit.report", "acmlkit.sweeps"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_is_its_submodules_object(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        source = importlib.import_module(f"{package}.{module._EXPORTS[name]}")
        assert getattr(module, name) is getattr(source, name)
        assert name in dir(module)


@pytest.mark.parametrize("package", PACKAGES)
def test_an_unknown_name_is_an_attribute_error(package):
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = importlib.import_module(package).no_such_name


def test_a_submodule_never_shadows_a_function_of_the_same_package():
    import acmlkit.mixture
    import acmlkit.mixture.posterior  # noqa: F401  (binds the submodule on the package)

    assert callable(acmlkit.mixture.responsibilities)
    assert acmlkit.mixture.responsibilities.__module__ == "acmlkit.mixture.posterior"
