"""A backend whose editable build fails, as a compiler error would."""


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    raise RuntimeError("the compiler said no")


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise RuntimeError("the compiler said no")


def build_sdist(sdist_directory, config_settings=None):
    raise RuntimeError("the compiler said no")
