"""Errors that users cause (bad names, bad data, bad checkpoints): caught by the CLI and printed as one line."""


class DrnError(ValueError):
    """Base class: the message is shown to the user as-is, on one line."""

    def _render_traceback_(self):  # Jupyter/papermill show this instead of a traceback
        return [f"{type(self).__name__}: {self}"]


class UnknownModelError(DrnError):
    """An architecture name that is not in the zoo."""


class DataError(DrnError):
    """Missing, empty, corrupt or inconsistent data."""


class CheckpointError(DrnError):
    """A checkpoint that cannot be used here (another architecture, corrupt file)."""


class TrainingError(DrnError):
    """Training cannot go on (for example a NaN or inf loss)."""


class ParameterError(DrnError):
    """A notebook or CLI parameter that is unknown or has an impossible value."""
