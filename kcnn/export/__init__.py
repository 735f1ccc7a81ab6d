"""Export: SavedModel and TFLite with uint8 serving inputs, verified after writing."""

from kcnn.export.exporter import EXPORT_FORMATS, ExportVerificationError, check_formats, export_model

__all__ = ["EXPORT_FORMATS", "ExportVerificationError", "check_formats", "export_model"]
