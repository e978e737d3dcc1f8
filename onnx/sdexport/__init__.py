"""sdexport: turn Stable Diffusion checkpoints into sdgate model folders (see onnx/README.md)."""


class ExportError(Exception):
    """A refusal or failure with a message meant for the user (printed as `error: ...`, exit status 2)."""
